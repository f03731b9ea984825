/**
 * fast-check arbitraries for cases: small composable pieces (geometry, initial divergence, host
 * operations, crash plans, I/O errors) that shrink towards the smallest case that still fails.
 */
import fc from 'fast-check';
import { CACHE_MODES, type CacheMode } from '../devices/fault-layer.js';
import { extentCount, type Geometry } from '../engine/contract.js';
import type { Case, CrashPlan, HostOp, InitialState, Volume } from './case.js';

const SECTOR = 512;

/** Extents of one to four sectors, two to six extents, the last one possibly short. */
export const geometryArb: fc.Arbitrary<Geometry> = fc
  .record({ extentSectors: fc.integer({ min: 1, max: 4 }), extents: fc.integer({ min: 2, max: 6 }), short: fc.nat({ max: 3 }) })
  .map(({ extentSectors, extents, short }) => ({
    sectorSize: SECTOR,
    extentSectors,
    volumeSize: (extents * extentSectors - (short % extentSectors)) * SECTOR,
  }));

export function initialArb(geometry: Geometry): fc.Arbitrary<InitialState> {
  const extents = extentCount(geometry);
  return fc.record({
    differ: fc.oneof(fc.constant<'all'>('all'), fc.constant<'none'>('none'), fc.uniqueArray(fc.nat({ max: extents - 1 }), { minLength: 1, maxLength: extents })),
    delta: fc.constantFrom<'exact' | 'all'>('exact', 'all'),
  });
}

const modeArb: fc.Arbitrary<CacheMode> = fc.constantFrom(...CACHE_MODES);

/** A host I/O on `volume`: aligned, partial-extent or spanning extents. */
function ioArb(geometry: Geometry, volume: fc.Arbitrary<Volume>): fc.Arbitrary<HostOp> {
  const sectors = geometry.volumeSize / geometry.sectorSize;
  const range = fc.nat({ max: sectors - 1 }).chain((sector) => fc.record({ sector: fc.constant(sector), sectors: fc.integer({ min: 1, max: Math.min(sectors - sector, 2 * geometry.extentSectors) }) }));
  return fc.oneof(
    fc.record({ op: fc.constant<'write'>('write'), volume, range, pattern: fc.nat({ max: 255 }) }).map(({ volume: v, range: r, pattern }) => ({ op: 'write' as const, volume: v, ...r, pattern })),
    fc.record({ op: fc.constant<'read'>('read'), volume, range }).map(({ volume: v, range: r }) => ({ op: 'read' as const, volume: v, ...r })),
    fc.record({ op: fc.constant<'flush'>('flush'), volume }),
  );
}

/** Host I/O on both volumes while fractured, then a restore with host I/O and copying during it. */
export function workloadArb(geometry: Geometry): fc.Arbitrary<HostOp[]> {
  const fractured = fc.array(ioArb(geometry, fc.constantFrom<Volume>('source', 'clone')), { maxLength: 5 });
  const start = fc.boolean().map((protect): HostOp => ({ op: 'startRestore', protect }));
  const during = fc.array(
    fc.oneof(
      { weight: 4, arbitrary: ioArb(geometry, fc.constant<Volume>('source')) },
      { weight: 1, arbitrary: ioArb(geometry, fc.constant<Volume>('clone')) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((count): HostOp => ({ op: 'step', count })) },
      { weight: 1, arbitrary: modeArb.map((mode): HostOp => ({ op: 'powerLoss', mode })) },
    ),
    { maxLength: 8 },
  );
  return fc.tuple(fractured, start, during).map(([a, s, b]) => [...a, s, ...b]);
}

/** Crashes at I/O points: most cases use well under 200 points, so most plans fire. */
export const crashesArb: fc.Arbitrary<CrashPlan[]> = fc.uniqueArray(fc.record({ point: fc.nat({ max: 160 }), mode: modeArb }), { maxLength: 3, selector: (p) => p.point });

export const eioArb = fc.uniqueArray(fc.record({ point: fc.nat({ max: 160 }), sticky: fc.boolean() }), { maxLength: 2, selector: (f) => f.point });

export const caseArb: fc.Arbitrary<Case> = geometryArb.chain((geometry) =>
  fc.record({
    geometry: fc.constant(geometry),
    initial: initialArb(geometry),
    workload: workloadArb(geometry),
    crashes: crashesArb,
    eio: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: eioArb }),
  }),
);
