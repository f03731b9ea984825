/**
 * fast-check arbitraries for cases: small composable pieces (geometry, initial divergence, host
 * operations, crash plans, I/O errors, engine options) that shrink towards the smallest case that
 * still fails.
 */
import fc from 'fast-check';
import { CACHE_MODES, type CacheMode } from '../devices/fault-layer.js';
import { type EngineOptions, extentCount, type Geometry } from '../engine/contract.js';
import { MAP_CHECKSUM_BYTES } from '../engine/reference/bitmap.js';
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

/**
 * One in three issued alongside the operation before it (`alongside`), so host I/O meets copy
 * steps in flight; shrinking issues it on its own.
 */
function sometimesAlongside(op: fc.Arbitrary<HostOp>): fc.Arbitrary<HostOp> {
  return fc
    .tuple(op, fc.oneof({ withCrossShrink: true }, { weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }))
    .map(([o, alongside]) => (alongside && o.op !== 'startRestore' && o.op !== 'powerLoss' ? { ...o, alongside } : o));
}

/** Host I/O on both volumes while fractured, then a restore with host I/O and copying during it. */
export function workloadArb(geometry: Geometry): fc.Arbitrary<HostOp[]> {
  const fractured = fc.array(ioArb(geometry, fc.constantFrom<Volume>('source', 'clone')), { maxLength: 5 });
  const start = fc.boolean().map((protect): HostOp => ({ op: 'startRestore', protect }));
  const during = fc.array(
    fc.oneof(
      { weight: 4, arbitrary: sometimesAlongside(ioArb(geometry, fc.constant<Volume>('source'))) },
      { weight: 1, arbitrary: ioArb(geometry, fc.constant<Volume>('clone')) },
      { weight: 3, arbitrary: sometimesAlongside(fc.integer({ min: 1, max: 3 }).map((count): HostOp => ({ op: 'step', count }))) },
      { weight: 1, arbitrary: modeArb.map((mode): HostOp => ({ op: 'powerLoss', mode })) },
    ),
    { maxLength: 8 },
  );
  return fc.tuple(fractured, start, during).map(([a, s, b]) => [...a, s, ...b]);
}

/** Crashes at I/O points: most cases use well under 200 points, so most plans fire. */
export const crashesArb: fc.Arbitrary<CrashPlan[]> = fc.uniqueArray(fc.record({ point: fc.nat({ max: 160 }), mode: modeArb }), { maxLength: 3, selector: (p) => p.point });

export const eioArb = fc.uniqueArray(fc.record({ point: fc.nat({ max: 160 }), sticky: fc.boolean() }), { maxLength: 2, selector: (f) => f.point });

/**
 * One case in five on devices that complete the operations in flight together in an order drawn
 * from the seed (`inFlight`); the run records the order, so its line replays it. Shrinks to in order.
 */
const inFlightArb = fc.oneof({ withCrossShrink: true }, { weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

export const caseArb: fc.Arbitrary<Case> = geometryArb.chain((geometry) =>
  fc.record({
    geometry: fc.constant(geometry),
    initial: initialArb(geometry),
    workload: workloadArb(geometry),
    crashes: crashesArb,
    eio: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: eioArb }),
    inFlight: inFlightArb,
  }).map(({ inFlight, ...c }) => (inFlight ? { ...c, inFlight: {} } : c)),
);

// --- engine options and large maps -----------------------------------------------------------------

/**
 * Extents one map sector holds in the reference engine's layout (4,064 at 512-byte sectors): a
 * volume with more has maps of several sectors, and changes that span sectors.
 */
export const EXTENTS_PER_MAP_SECTOR = 8 * (SECTOR - MAP_CHECKSUM_BYTES);

/**
 * Tuning as the reference engine ships it: batches of several extents, copy I/Os from one sector
 * to several extents, several in flight, host I/O served while a step copies. Every key may be left out (its default), and shrinking
 * leaves them out, towards the default configuration.
 */
export function engineOptionsArb(geometry: Geometry): fc.Arbitrary<EngineOptions> {
  return fc.record(
    {
      copyBatch: fc.integer({ min: 1, max: 8 }),
      maxIoBytes: fc.integer({ min: 1, max: 4 * geometry.extentSectors }).map((sectors) => sectors * geometry.sectorSize),
      queueDepth: fc.integer({ min: 1, max: 4 }),
      concurrentHost: fc.integer({ min: 0, max: 1 }),
    },
    { requiredKeys: [] },
  );
}

/**
 * One-sector extents, just enough of them for maps of two sectors (a 2 MiB volume), or now and
 * then three (4 MiB), where a change can touch sectors that are not contiguous. Every check of
 * such a case walks thousands of sectors, so it costs seconds: they are drawn rarely, and kept
 * sparse (`largeCaseArb`).
 */
export const largeGeometryArb: fc.Arbitrary<Geometry> = fc
  .oneof(
    { weight: 4, arbitrary: fc.integer({ min: EXTENTS_PER_MAP_SECTOR + 1, max: EXTENTS_PER_MAP_SECTOR + 64 }) },
    { weight: 1, arbitrary: fc.integer({ min: 2 * EXTENTS_PER_MAP_SECTOR + 1, max: 2 * EXTENTS_PER_MAP_SECTOR + 64 }) },
  )
  .map((extents) => ({ sectorSize: SECTOR, extentSectors: 1, volumeSize: extents * SECTOR }));

/** An extent where things happen in a large map: at a map-sector boundary, the volume's ends, or anywhere. */
export function hotExtentArb(extents: number): fc.Arbitrary<number> {
  const boundaries = Array.from({ length: Math.floor((extents - 1) / EXTENTS_PER_MAP_SECTOR) }, (_, i) => (i + 1) * EXTENTS_PER_MAP_SECTOR);
  const near = fc.tuple(fc.constantFrom(0, extents - 1, ...boundaries), fc.integer({ min: -3, max: 2 })).map(([at, d]) => Math.min(extents - 1, Math.max(0, at + d)));
  return fc.oneof({ weight: 3, arbitrary: near }, { weight: 1, arbitrary: fc.nat({ max: extents - 1 }) });
}

/** A few host I/Os on a large volume, each at most two extents, most of them at the hot spots. */
function sparseIoArb(extents: number, volume: fc.Arbitrary<Volume>): fc.Arbitrary<HostOp> {
  const range = fc.tuple(hotExtentArb(extents), fc.integer({ min: 1, max: 2 })).map(([sector, sectors]) => ({ sector: Math.min(sector, extents - sectors), sectors }));
  return fc.oneof(
    fc.record({ volume, range, pattern: fc.nat({ max: 255 }) }).map(({ volume: v, range: r, pattern }): HostOp => ({ op: 'write', volume: v, ...r, pattern })),
    fc.record({ volume, range }).map(({ volume: v, range: r }): HostOp => ({ op: 'read', volume: v, ...r })),
    volume.map((v): HostOp => ({ op: 'flush', volume: v })),
  );
}

/**
 * A case on a volume whose maps span several sectors, kept fast: a few differing extents (D exact,
 * so the copier has little to do), a few host I/Os, most of them around map-sector boundaries
 * where one change touches two sectors.
 */
export function largeCaseArb(geometry: Geometry): fc.Arbitrary<Omit<Case, 'engineOptions'>> {
  const extents = extentCount(geometry);
  const fractured = fc.array(sparseIoArb(extents, fc.constantFrom<Volume>('source', 'clone')), { maxLength: 2 });
  const during = fc.array(
    fc.oneof(
      { weight: 3, arbitrary: sparseIoArb(extents, fc.constant<Volume>('source')) },
      { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 }).map((count): HostOp => ({ op: 'step', count })) },
      { weight: 1, arbitrary: modeArb.map((mode): HostOp => ({ op: 'powerLoss', mode })) },
    ),
    { maxLength: 4 },
  );
  const start = fc.boolean().map((protect): HostOp => ({ op: 'startRestore', protect }));
  return fc.record({
    geometry: fc.constant(geometry),
    initial: fc.record({ differ: fc.uniqueArray(hotExtentArb(extents), { minLength: 1, maxLength: 6 }), delta: fc.constant<'exact'>('exact') }),
    workload: fc.tuple(fractured, start, during).map(([a, s, b]) => [...a, s, ...b]),
    crashes: crashesArb,
    eio: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: eioArb }),
  });
}

/**
 * Cases for an engine that takes options (`EngineFactory.withOptions`): three in four set some, so
 * the copier's batching, coalescing and queue run under crashes too; one in a hundred has maps of
 * several sectors (the bundled scenario multi-sector-map.json covers them every run).
 */
export const tunedCaseArb: fc.Arbitrary<Case> = fc
  .oneof({ weight: 99, arbitrary: caseArb }, { weight: 1, arbitrary: largeGeometryArb.chain(largeCaseArb) })
  .chain((c) => fc.option(engineOptionsArb(c.geometry), { freq: 4, nil: undefined }).map((engineOptions) => (engineOptions === undefined ? c : { ...c, engineOptions })));
