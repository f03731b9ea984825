/**
 * The fault layer against a tiny reference model, on every backend: fast-check generates sequences
 * of writes (some FUA), reads, flushes, EIO faults, crashes at an I/O point and power losses between
 * operations, each with a cache mode, and every step must agree with the model.
 *
 * The model keeps, per sector, the durable value, the values cached since the last flush, and the
 * current value a read must return. Every write has its own id, and every sector of the data names
 * the write and the sector, so an image reads back as a list of write ids (or -1 for a sector that
 * is no whole sector of any write: a half-written sector).
 *
 * Runs: a fifth of PRESTORE_RUNS per backend (properties/settings.ts reads it: 100 by default).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlockDevice } from './block-device.js';
import { CACHE_MODES, type CacheMode, CrashError, type DeviceName, EioError, FaultLayer, type FaultPlan } from './fault-layer.js';
import { FileDevice, type FileSystemLike, localFs } from './file-device.js';
import { memoryFs } from './memfs.js';
import { MemoryDevice } from './memory-device.js';
import { RUNS as PROPERTY_RUNS } from '../../properties/settings.js';

const SS = 512;
const SECTORS = 8;
// Three backends, one of them real files: a fifth of the property suite's depth keeps this quick.
const RUNS = Math.ceil(PROPERTY_RUNS / 5);
const USED: readonly DeviceName[] = ['source', 'meta'];

function sectorBytes(id: number, sector: number): Uint8Array {
  const b = new Uint8Array(SS);
  const v = new DataView(b.buffer);
  v.setUint32(0, id);
  v.setUint32(4, sector);
  for (let i = 8; i < SS; i++) b[i] = (id * 131 + sector * 7 + i) & 0xff;
  return b;
}

function pattern(id: number, first: number, count: number): Uint8Array {
  const out = new Uint8Array(count * SS);
  for (let i = 0; i < count; i++) out.set(sectorBytes(id, first + i), i * SS);
  return out;
}

function tags(image: Uint8Array): number[] {
  return Array.from({ length: image.length / SS }, (_, s) => {
    const got = image.subarray(s * SS, (s + 1) * SS);
    const id = new DataView(got.buffer, got.byteOffset).getUint32(0);
    return Buffer.from(got).equals(Buffer.from(sectorBytes(id, s))) ? id : -1;
  });
}

// --- commands ------------------------------------------------------------------------------------

type Fault = { readonly kind: 'crash'; readonly mode: CacheMode } | { readonly kind: 'eio'; readonly sticky: boolean };
type Cmd =
  | { readonly op: 'write'; readonly dev: DeviceName; readonly sector: number; readonly count: number; readonly fua: boolean; readonly fault: Fault | null }
  | { readonly op: 'read'; readonly dev: DeviceName; readonly sector: number; readonly count: number; readonly fault: Fault | null }
  | { readonly op: 'flush'; readonly dev: DeviceName; readonly fault: Fault | null }
  | { readonly op: 'powerLoss'; readonly mode: CacheMode };

const modeArb = fc.constantFrom(...CACHE_MODES);
const devArb = fc.constantFrom(...USED);
const rangeArb = fc.tuple(fc.nat(SECTORS - 1), fc.nat(SECTORS - 1)).map(([a, b]) => ({ sector: Math.min(a, b), count: Math.abs(a - b) + 1 }));
/** Most operations run clean; about one in ten crashes and one in ten fails with EIO. */
const faultArb: fc.Arbitrary<Fault | null> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: modeArb.map((mode): Fault => ({ kind: 'crash', mode })) },
  { weight: 1, arbitrary: fc.boolean().map((sticky): Fault => ({ kind: 'eio', sticky })) },
);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), dev: devArb, range: rangeArb, fua: fc.nat(3).map((n) => n === 0), fault: faultArb }).map(({ range, ...c }) => ({ ...c, ...range })) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), dev: devArb, range: rangeArb, fault: faultArb }).map(({ range, ...c }) => ({ ...c, ...range })) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('flush' as const), dev: devArb, fault: faultArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('powerLoss' as const), mode: modeArb }) },
);

/** The fault plan the commands describe: every I/O command takes the next point, nothing else does. */
function planOf(cmds: readonly Cmd[]): FaultPlan {
  const crashAt: number[] = [];
  const eio: { point: number; sticky: boolean }[] = [];
  let point = 0;
  for (const c of cmds) {
    if (c.op === 'powerLoss') continue;
    if (c.fault?.kind === 'crash') crashAt.push(point);
    if (c.fault?.kind === 'eio') eio.push({ point, sticky: c.fault.sticky });
    point++;
  }
  return { crashAt, eio };
}

// --- the reference model -----------------------------------------------------------------------

interface Sector {
  durable: number;
  /** Values cached since the last flush (a FUA write clears the older ones: they can no longer land). */
  cached: number[];
  /** What a read returns now. */
  current: number;
}

interface PendingWrite {
  readonly id: number;
  readonly sector: number;
  readonly count: number;
}

class DeviceModel {
  sectors: Sector[] = Array.from({ length: SECTORS }, () => ({ durable: 0, cached: [], current: 0 }));
  /** Writes since the last flush, FUA ones included, in issue order (for the subset check). */
  pending: PendingWrite[] = [];
  /** Sectors with a medium error: reads touching them fail until a write covers them. */
  bad = new Set<number>();
  inFlight: PendingWrite | undefined;

  write(w: PendingWrite, fua: boolean): void {
    for (let s = w.sector; s < w.sector + w.count; s++) {
      const m = this.sectors[s]!;
      this.bad.delete(s);
      m.current = w.id;
      if (fua) {
        m.durable = w.id;
        m.cached = [];
      } else m.cached.push(w.id);
    }
    this.pending.push(w);
  }

  flush(): void {
    for (const m of this.sectors) {
      m.durable = m.current;
      m.cached = [];
    }
    this.pending = [];
  }

  badIn(sector: number, count: number): boolean {
    for (let s = sector; s < sector + count; s++) if (this.bad.has(s)) return true;
    return false;
  }

  /** Checks a surviving image against what `mode` allows, then adopts it as the new state. */
  crash(mode: CacheMode, got: number[], where: string): void {
    const flight = mode === 'subset' || mode === 'torn' ? this.inFlight : undefined;
    got.forEach((t, s) => {
      const m = this.sectors[s]!;
      const allowed =
        mode === 'drop'
          ? [m.durable]
          : mode === 'keep'
            ? [m.current]
            : [m.durable, ...m.cached, ...(flight !== undefined && s >= flight.sector && s < flight.sector + flight.count ? [flight.id] : [])];
      expect(allowed, `${where}: sector ${s} after a ${mode} crash holds ${t}`).toContain(t);
    });
    if (mode === 'subset') {
      // Whole or nothing: a write that survived anywhere holds every sector of its range that no
      // later write covers.
      const writes = flight === undefined ? this.pending : [...this.pending, flight];
      writes.forEach((w, i) => {
        const range = Array.from({ length: w.count }, (_, k) => w.sector + k);
        if (!range.some((s) => got[s] === w.id)) return;
        for (const s of range) {
          const later = writes.slice(i + 1).some((l) => l.sector <= s && s < l.sector + l.count);
          if (!later) expect(got[s], `${where}: write ${w.id} survived a subset crash only in part (sector ${s})`).toBe(w.id);
        }
      });
    }
    this.sectors = got.map((t) => ({ durable: t, cached: [], current: t }));
    this.pending = [];
    this.inFlight = undefined;
  }
}

// --- backends ------------------------------------------------------------------------------------

let tmp: string | undefined;
afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

interface Backend {
  readonly name: string;
  devices(): Promise<{ devs: Record<DeviceName, BlockDevice>; close(): Promise<void> }>;
}

function fileBackend(name: string, where: () => { fs: FileSystemLike; dir: string }): Backend {
  let n = 0;
  return {
    name,
    devices: async () => {
      const { fs, dir } = where();
      const make = (d: DeviceName) => FileDevice.create(fs, join(dir, `${d}-${n++}.img`), SECTORS * SS, SS);
      const devs = { source: await make('source'), clone: await make('clone'), meta: await make('meta') };
      return { devs, close: async () => void (await Promise.all(Object.values(devs).map((d) => d.close()))) };
    },
  };
}

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    devices: async () => ({
      devs: { source: MemoryDevice.zeroed(SECTORS * SS), clone: MemoryDevice.zeroed(SECTORS * SS), meta: MemoryDevice.zeroed(SECTORS * SS) },
      close: async () => undefined,
    }),
  },
  (() => {
    const fs = memoryFs();
    return fileBackend('memfs file', () => ({ fs, dir: '/' }));
  })(),
  fileBackend('local file', () => ({ fs: localFs, dir: (tmp ??= mkdtempSync(join(tmpdir(), 'prestore-model-'))) })),
];

// --- one run -------------------------------------------------------------------------------------

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

async function runAgainstModel(backend: Backend, cmds: readonly Cmd[], seed: string): Promise<void> {
  const { devs, close } = await backend.devices();
  try {
    for (const d of USED) {
      await devs[d].write(0, pattern(0, 0, SECTORS));
      await devs[d].flush();
    }
    const layer = new FaultLayer(devs, planOf(cmds), seed);
    const model: Record<string, DeviceModel> = { source: new DeviceModel(), meta: new DeviceModel() };
    const outcomes: string[] = [];
    let nextId = 1;
    let point = 0;

    const powerLoss = async (mode: CacheMode, where: string) => {
      const old = layer.devices;
      await layer.powerLoss(mode);
      expect(await failure(old.source.read(0, SS)), `${where}: an old handle still works`).toBeInstanceOf(CrashError);
      layer.restart();
      for (const d of USED) model[d]!.crash(mode, tags(await layer.peek(d)), where);
      expect(layer.nextPoint, `${where}: dead handles took a point`).toBe(point);
    };

    for (const [i, c] of cmds.entries()) {
      const where = `command ${i} (${JSON.stringify(c)})`;
      if (c.op === 'powerLoss') {
        await powerLoss(c.mode, where);
        continue;
      }
      const m = model[c.dev]!;
      const dev = layer.devices[c.dev];
      const fault = c.fault;
      const p = point++;
      if (c.op === 'write') {
        const w = { id: nextId++, sector: c.sector, count: c.count };
        const e = await failure(dev.write(c.sector * SS, pattern(w.id, c.sector, c.count), { fua: c.fua }));
        if (fault === null) {
          expect(e, where).toBeUndefined();
          m.write(w, c.fua);
        } else if (fault.kind === 'eio') {
          expect(e, where).toMatchObject({ name: 'EioError', point: p, sticky: fault.sticky });
          if (fault.sticky) for (let s = c.sector; s < c.sector + c.count; s++) m.bad.add(s);
        } else {
          expect(e, where).toMatchObject({ name: 'CrashError', point: p });
          m.inFlight = w;
        }
      } else if (c.op === 'read') {
        let got: Uint8Array | undefined;
        const e = await failure(dev.read(c.sector * SS, c.count * SS).then((b) => void (got = b)));
        const bad = m.badIn(c.sector, c.count);
        if (fault?.kind === 'crash') expect(e, where).toMatchObject({ name: 'CrashError', point: p });
        else if (fault?.kind === 'eio' || bad) {
          expect(e, where).toBeInstanceOf(EioError);
          expect((e as EioError).sticky, where).toBe(bad || fault?.kind === 'eio' && fault.sticky);
          if (fault?.kind === 'eio' && fault.sticky) for (let s = c.sector; s < c.sector + c.count; s++) m.bad.add(s);
        } else {
          expect(e, where).toBeUndefined();
          const want = m.sectors.slice(c.sector, c.sector + c.count).map((s) => s.current);
          const padded = new Uint8Array(SECTORS * SS).fill(0xff);
          padded.set(got!, c.sector * SS);
          expect(tags(padded).slice(c.sector, c.sector + c.count), `${where}: read`).toEqual(want);
        }
      } else {
        const e = await failure(dev.flush());
        if (fault === null) {
          expect(e, where).toBeUndefined();
          m.flush();
        } else if (fault.kind === 'eio') expect(e, where).toMatchObject({ name: 'EioError', point: p, sticky: false });
        else expect(e, where).toMatchObject({ name: 'CrashError', point: p });
      }
      outcomes.push(fault?.kind === 'crash' ? 'crash' : layer.trace.at(-1)!.outcome);
      if (fault?.kind === 'crash') {
        expect(layer.isDown, where).toBe(true);
        expect(layer.lastCrashPoint, where).toBe(p);
        await powerLoss(fault.mode, where);
      } else {
        // Between operations: the cached view is the model's current value, the medium its durable one.
        for (const d of USED) {
          expect(tags(await layer.peek(d)), `${where}: cached view of ${d}`).toEqual(model[d]!.sectors.map((s) => s.current));
          expect(tags(await devs[d].read(0, SECTORS * SS)), `${where}: medium of ${d}`).toEqual(model[d]!.sectors.map((s) => s.durable));
        }
      }
    }
    expect(layer.trace.map((t) => t.point)).toEqual(Array.from({ length: point }, (_, k) => k));
    expect(layer.trace.map((t) => t.outcome)).toEqual(outcomes);
  } finally {
    await close();
  }
}

describe.each(BACKENDS)('fault layer agrees with the reference model ($name backend)', (backend) => {
  it('random writes, FUA, reads, flushes, EIO, crashes and power losses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40, size: 'max' }), fc.nat(), async (cmds, seed) => runAgainstModel(backend, cmds, `model-${seed}`)),
      { numRuns: RUNS },
    );
  });

  it('a known case: overlapping cached writes, a FUA write and a torn crash in flight', async () => {
    const cmds: Cmd[] = [
      { op: 'write', dev: 'source', sector: 0, count: 8, fua: false, fault: null },
      { op: 'write', dev: 'source', sector: 2, count: 4, fua: true, fault: null },
      { op: 'write', dev: 'source', sector: 3, count: 5, fua: false, fault: null },
      { op: 'read', dev: 'source', sector: 0, count: 8, fault: null },
      { op: 'write', dev: 'source', sector: 0, count: 8, fua: false, fault: { kind: 'crash', mode: 'torn' } },
      { op: 'read', dev: 'source', sector: 0, count: 8, fault: null },
    ];
    for (let seed = 0; seed < 8; seed++) await runAgainstModel(backend, cmds, `known-${seed}`);
  });

  it('a known case: a flush after a cached write and a FUA write over it', async () => {
    const cmds: Cmd[] = [
      { op: 'write', dev: 'meta', sector: 0, count: 4, fua: false, fault: null },
      { op: 'write', dev: 'meta', sector: 1, count: 2, fua: true, fault: null },
      { op: 'flush', dev: 'meta', fault: null },
      { op: 'powerLoss', mode: 'drop' },
      { op: 'read', dev: 'meta', sector: 0, count: 8, fault: null },
    ];
    await runAgainstModel(backend, cmds, 'known');
  });
});
