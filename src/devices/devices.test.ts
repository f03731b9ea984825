/**
 * The block devices and the fault model (docs/fault-model.md), run as one suite against every backend:
 * memory, a file on memfs, and a real file in the OS temp directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type BlockDevice, IoRangeError } from './block-device.js';
import {
  CACHE_MODES,
  type CachedWrite,
  type CacheMode,
  CrashError,
  DEVICE_NAMES,
  type DeviceName,
  describeSurvival,
  EioError,
  enumerateCrashStates,
  FaultLayer,
  type FaultPlan,
  formatTraceEntry,
  imagesAfterCrash,
  RecordedDevices,
  type SurvivalChoice,
  survivingWrites,
} from './fault-layer.js';
import { FileDevice, type FileSystemLike, localFs } from './file-device.js';
import { memoryFs } from './memfs.js';
import { MemoryDevice } from './memory-device.js';
import { digest, seededRng } from './rng.js';

const SS = 512;

// --- data patterns: every sector of every write is distinct and names itself ------------------

/** One sector of write `id` at device sector `sector`: a header naming both, then a fill. */
function sectorBytes(id: number, sector: number, sectorSize = SS): Uint8Array {
  const b = new Uint8Array(sectorSize);
  const v = new DataView(b.buffer);
  v.setUint32(0, id);
  v.setUint32(4, sector);
  for (let i = 8; i < sectorSize; i++) b[i] = (id * 131 + sector * 7 + i) & 0xff;
  return b;
}

/** The data of write `id` covering `count` sectors from `first`. */
function pattern(id: number, first: number, count: number, sectorSize = SS): Uint8Array {
  const out = new Uint8Array(count * sectorSize);
  for (let i = 0; i < count; i++) out.set(sectorBytes(id, first + i, sectorSize), i * sectorSize);
  return out;
}

/** Which write's whole sector sits at `sector` of `image`, or -1 when it is no whole sector of any. */
function tagOf(image: Uint8Array, sector: number, sectorSize = SS): number {
  const got = image.subarray(sector * sectorSize, (sector + 1) * sectorSize);
  const id = new DataView(got.buffer, got.byteOffset).getUint32(0);
  const want = sectorBytes(id, sector, sectorSize);
  return Buffer.from(got).equals(Buffer.from(want)) ? id : -1;
}

function tags(image: Uint8Array, sectorSize = SS): number[] {
  return Array.from({ length: image.length / sectorSize }, (_, s) => tagOf(image, s, sectorSize));
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the operation to reject');
}

// --- the three backends ------------------------------------------------------------------------

interface Made {
  readonly dev: BlockDevice;
  /** The same medium opened afresh (for files: closed and opened again). */
  reopen(): Promise<BlockDevice>;
}

interface Backend {
  readonly name: string;
  create(size: number, sectorSize?: number, label?: string): Promise<Made>;
  /** Tries to make a 1000-byte device: must fail. */
  badShape(): Promise<unknown>;
}

const toClose: FileDevice[] = [];
let tmp: string | undefined;

afterEach(async () => {
  await Promise.all(toClose.splice(0).map((d) => d.close().catch(() => undefined)));
});
afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const memoryBackend: Backend = {
  name: 'memory',
  create: async (size, sectorSize = SS, label = 'memory') => {
    const dev = MemoryDevice.zeroed(size, sectorSize, label);
    return { dev, reopen: async () => new MemoryDevice(dev.bytes, sectorSize, label) };
  },
  badShape: async () => new MemoryDevice(new Uint8Array(1000), SS, 'odd'),
};

function fileBackend(name: string, where: () => { fs: FileSystemLike; dir: string }): Backend {
  let n = 0;
  return {
    name,
    create: async (size, sectorSize = SS, label = 'dev') => {
      const { fs, dir } = where();
      const path = join(dir, `${label}-${n++}.img`);
      const dev = await FileDevice.create(fs, path, size, sectorSize);
      toClose.push(dev);
      return {
        dev,
        reopen: async () => {
          await dev.close().catch(() => undefined);
          const again = await FileDevice.open(fs, path, sectorSize);
          toClose.push(again);
          return again;
        },
      };
    },
    badShape: async () => {
      const { fs, dir } = where();
      const path = join(dir, `odd-${n++}.img`);
      const h = await fs.open(path, 'w+');
      await h.truncate(1000);
      await h.close();
      const dev = await FileDevice.open(fs, path, SS);
      toClose.push(dev);
      return dev;
    },
  };
}

const BACKENDS: Backend[] = [
  memoryBackend,
  (() => {
    const fs = memoryFs();
    return fileBackend('memfs file', () => ({ fs, dir: '/' }));
  })(),
  fileBackend('local file', () => ({ fs: localFs, dir: (tmp ??= mkdtempSync(join(tmpdir(), 'prestore-devices-'))) })),
];

// --- fault layer fixtures ------------------------------------------------------------------------

interface Rig {
  readonly layer: FaultLayer;
  readonly backends: Record<DeviceName, BlockDevice>;
}

/** A layer over three fresh devices of `sectors` sectors, each sector holding write 0's pattern, durably. */
async function rig(backend: Backend, options: { sectors?: number; plan?: FaultPlan; seed?: string; recordData?: boolean } = {}): Promise<Rig> {
  const sectors = options.sectors ?? 16;
  const make = async (d: DeviceName) => {
    const { dev } = await backend.create(sectors * SS, SS, d);
    await dev.write(0, pattern(0, 0, sectors));
    await dev.flush();
    return dev;
  };
  const backends = { source: await make('source'), clone: await make('clone'), meta: await make('meta') };
  return { layer: new FaultLayer(backends, options.plan, options.seed, options.recordData), backends };
}

function write(layer: FaultLayer, device: DeviceName, sector: number, count: number, id: number, fua = false): Promise<void> {
  return layer.devices[device].write(sector * SS, pattern(id, sector, count), { fua });
}

/** The medium of a device, read from the backend directly (no I/O point taken). */
async function medium(r: Rig, device: DeviceName): Promise<Uint8Array> {
  return r.backends[device].read(0, r.backends[device].size);
}

// ================================================================================================

describe.each(BACKENDS)('$name backend', (backend) => {
  describe('block device', () => {
    it('reads back what was written, zeros elsewhere, and copies the caller buffer', async () => {
      const { dev } = await backend.create(8 * SS);
      const data = pattern(7, 2, 3);
      await dev.write(2 * SS, data);
      data.fill(0xee); // the device must have taken a copy
      expect(tags(await dev.read(2 * SS, 3 * SS).then((b) => padTo(b, 2, 8)))).toEqual([-1, -1, 7, 7, 7, -1, -1, -1]);
      expect(await dev.read(0, 2 * SS)).toEqual(new Uint8Array(2 * SS));
      const got = await dev.read(2 * SS, SS);
      got.fill(1); // nor may a read hand out the device's own memory
      expect(await dev.read(2 * SS, SS)).toEqual(sectorBytes(7, 2));
    });

    it('keeps flushed and FUA writes across a reopen', async () => {
      const made = await backend.create(4 * SS);
      await made.dev.write(0, pattern(1, 0, 2));
      await made.dev.flush();
      await made.dev.write(3 * SS, pattern(2, 3, 1), { fua: true });
      const again = await made.reopen();
      expect(again.size).toBe(4 * SS);
      expect(again.sectorSize).toBe(SS);
      expect(tags(await again.read(0, 4 * SS))).toEqual([1, 1, -1, 2]);
    });

    it('works with 4 KiB sectors', async () => {
      const { dev } = await backend.create(4 * 4096, 4096);
      expect(dev.sectorSize).toBe(4096);
      await dev.write(4096, pattern(3, 1, 1, 4096));
      expect(tagOf(await dev.read(0, 2 * 4096), 1, 4096)).toBe(3);
      const e = await failure(dev.read(512, 4096));
      expect(e).toBeInstanceOf(IoRangeError);
      expect((e as Error).message).toContain('offset is not a multiple of the sector size 4096');
    });

    it('refuses a size that is not a whole number of sectors', async () => {
      const e = await failure(backend.badShape());
      expect((e as Error).message).toMatch(/size 1000 must be a positive multiple of the sector size 512/);
    });

    describe.each([
      { why: 'unaligned offset', offset: 100, length: 512, reason: 'offset is not a multiple of the sector size 512' },
      { why: 'unaligned length', offset: 512, length: 700, reason: 'length is not a multiple of the sector size 512' },
      { why: 'past the end', offset: 7 * 512, length: 1024, reason: 'I/O ends at 4608, past the device size 4096' },
      { why: 'zero length', offset: 0, length: 0, reason: 'length must be a positive integer' },
      { why: 'negative offset', offset: -512, length: 512, reason: 'offset must be a non-negative integer' },
    ])('rejects I/O: $why', ({ offset, length, reason }) => {
      it('on the backend, naming offset, length and why, and changes nothing', async () => {
        const { dev } = await backend.create(8 * SS, SS, 'range');
        await dev.write(0, pattern(1, 0, 8));
        const before = await dev.read(0, 8 * SS);
        for (const [op, p] of [
          ['read', dev.read(offset, length)],
          ['write', dev.write(offset, new Uint8Array(length))],
        ] as const) {
          const e = await failure(p);
          expect(e).toBeInstanceOf(IoRangeError);
          const r = e as IoRangeError;
          expect([r.op, r.offset, r.length]).toEqual([op, offset, length]);
          expect(r.message).toContain(`${op} at offset ${offset}, length ${length}: ${reason}`);
        }
        expect(await dev.read(0, 8 * SS)).toEqual(before);
      });

      it('through the fault layer, naming the device, without taking an I/O point', async () => {
        const r = await rig(backend, { sectors: 8, plan: { crashAt: [0] } });
        for (const d of DEVICE_NAMES) {
          for (const [op, p] of [
            ['read', r.layer.devices[d].read(offset, length)],
            ['write', r.layer.devices[d].write(offset, new Uint8Array(length))],
          ] as const) {
            const e = await failure(p);
            expect(e).toBeInstanceOf(IoRangeError);
            expect((e as IoRangeError).message).toBe(`${d}: ${op} at offset ${offset}, length ${length}: ${reason}`);
          }
        }
        // The crash planned at point 0 did not fire: bad I/O is not numbered.
        expect(r.layer.nextPoint).toBe(0);
        expect(r.layer.trace).toEqual([]);
        expect(r.layer.pending()).toEqual([]);
        expect(r.layer.isDown).toBe(false);
      });
    });
  });

  describe('fault layer: the volatile cache', () => {
    it('reads see cached writes; the medium does not until a flush', async () => {
      const r = await rig(backend, { sectors: 8 });
      await write(r.layer, 'source', 2, 2, 5);
      expect(tags(await r.layer.devices.source.read(0, 8 * SS))).toEqual([0, 0, 5, 5, 0, 0, 0, 0]);
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(tags(await r.layer.peek('source'))).toEqual([0, 0, 5, 5, 0, 0, 0, 0]);
      await r.layer.devices.clone.flush(); // another device's flush does not touch this cache
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      await r.layer.devices.source.flush();
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 5, 5, 0, 0, 0, 0]);
      expect(r.layer.pending()).toEqual([]);
    });

    it.each(CACHE_MODES)('flush makes writes durable (%s)', async (mode) => {
      const r = await rig(backend, { sectors: 8 });
      await write(r.layer, 'source', 0, 4, 1);
      await write(r.layer, 'source', 2, 4, 2);
      await write(r.layer, 'meta', 7, 1, 3);
      await r.layer.devices.source.flush();
      await r.layer.devices.meta.flush();
      await r.layer.powerLoss(mode);
      expect(tags(await medium(r, 'source'))).toEqual([1, 1, 2, 2, 2, 2, 0, 0]);
      expect(tags(await medium(r, 'meta'))).toEqual([0, 0, 0, 0, 0, 0, 0, 3]);
    });

    it('drop: the surviving image is the durable view', async () => {
      const r = await rig(backend, { sectors: 8 });
      await write(r.layer, 'source', 0, 2, 1);
      await r.layer.devices.source.flush();
      const durable = await medium(r, 'source');
      await write(r.layer, 'source', 1, 4, 2);
      await write(r.layer, 'clone', 0, 8, 3);
      const choice = await r.layer.powerLoss('drop');
      expect(choice).toEqual({ mode: 'drop', survivors: [] });
      expect(await medium(r, 'source')).toEqual(durable);
      expect(tags(await medium(r, 'clone'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      const fresh = r.layer.restart();
      expect(tags(await fresh.source.read(0, 8 * SS))).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    });

    it('keep: the surviving image is the cached view before the crash, without the write in flight', async () => {
      const r = await rig(backend, { sectors: 8, plan: { crashAt: [4] } });
      await write(r.layer, 'source', 0, 3, 1); // 0
      await r.layer.devices.source.flush(); // 1
      await write(r.layer, 'source', 2, 3, 2); // 2
      await write(r.layer, 'meta', 5, 2, 3); // 3
      const before = { source: await r.layer.peek('source'), meta: await r.layer.peek('meta') };
      expect(await failure(write(r.layer, 'source', 0, 8, 4))).toBeInstanceOf(CrashError); // 4, in flight
      expect(await r.layer.peek('source')).toEqual(before.source); // the in-flight write is not visible
      await r.layer.powerLoss('keep');
      expect(await medium(r, 'source')).toEqual(before.source);
      expect(await medium(r, 'meta')).toEqual(before.meta);
      expect(tags(before.source)).toEqual([1, 1, 2, 2, 2, 0, 0, 0]);
    });

    it.each(CACHE_MODES)('a FUA write survives (%s), whatever the seed', async (mode) => {
      for (const seed of ['a', 'b', 'c', 'd', 'e', 'f']) {
        const r = await rig(backend, { sectors: 8, seed });
        await write(r.layer, 'meta', 0, 2, 1); // cached, then overwritten by the FUA write
        await write(r.layer, 'meta', 0, 2, 2, true);
        await write(r.layer, 'meta', 4, 3, 3, true);
        expect(tags(await medium(r, 'meta')).slice(0, 7)).toEqual([2, 2, 0, 0, 3, 3, 3]); // durable at once
        await write(r.layer, 'meta', 6, 2, 4); // a newer cached write over part of the FUA write
        await r.layer.powerLoss(mode);
        const got = tags(await medium(r, 'meta'));
        expect(got.slice(0, 6)).toEqual([2, 2, 0, 0, 3, 3]);
        expect([3, 4]).toContain(got[6]);
        if (mode === 'drop') expect(got[6]).toBe(3);
        if (mode === 'keep') expect(got[6]).toBe(4);
      }
    });

    it.each(CACHE_MODES)('an older cached write never lands over a FUA write, by flush or crash (%s)', async (mode) => {
      for (const seed of ['a', 'b', 'c', 'd']) {
        const r = await rig(backend, { sectors: 4, seed });
        await write(r.layer, 'source', 0, 4, 1); // cached
        await write(r.layer, 'source', 1, 1, 2, true); // FUA over sector 1 of it
        await write(r.layer, 'source', 3, 1, 3); // cached
        await write(r.layer, 'source', 3, 1, 4, true); // FUA over it
        expect(tags(await r.layer.devices.source.read(0, 4 * SS))).toEqual([1, 2, 1, 4]);
        await r.layer.powerLoss(mode);
        const got = tags(await medium(r, 'source'));
        expect([got[1], got[3]]).toEqual([2, 4]);
        expect([0, 1]).toContain(got[0]);
      }
    });

    it('a flush never puts an older cached write over a later FUA write', async () => {
      const r = await rig(backend, { sectors: 4 });
      await write(r.layer, 'source', 0, 4, 1);
      await write(r.layer, 'source', 1, 2, 2, true);
      await r.layer.devices.source.flush();
      expect(tags(await medium(r, 'source'))).toEqual([1, 2, 2, 1]);
      expect(tags(await r.layer.devices.source.read(0, 4 * SS))).toEqual([1, 2, 2, 1]);
      await r.layer.powerLoss('drop');
      expect(tags(await medium(r, 'source'))).toEqual([1, 2, 2, 1]);
    });

    it('subset: each cached write survives whole or not at all, and both happen', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 16; i++) {
        const r = await rig(backend, { sectors: 16, seed: `subset-${i}` });
        const writes = [
          [0, 3, 1],
          [3, 4, 2],
          [8, 2, 3],
          [12, 4, 4],
        ] as const;
        for (const [s, n, id] of writes) await write(r.layer, 'source', s, n, id);
        const choice = await r.layer.powerLoss('subset');
        const got = tags(await medium(r, 'source'));
        for (const [s, n, id] of writes) {
          const region = got.slice(s, s + n);
          const survived = region.every((t) => t === id);
          expect(survived || region.every((t) => t === 0), `write ${id} at ${s}+${n}: ${region}`).toBe(true);
          expect(choice.survivors.some((v) => v.point === id - 1)).toBe(survived);
          seen.add(`${id}:${survived}`);
        }
        expect(choice.survivors.every((v) => v.sectors === undefined)).toBe(true);
      }
      expect(seen.size).toBe(8); // every write both survived and was lost for some seed
    });

    it('torn: every sector holds its durable value or exactly one cached value, and writes do tear', async () => {
      const writes = [
        [0, 6, 1],
        [2, 6, 2],
        [5, 2, 3],
        [7, 5, 4],
        [0, 1, 5],
        [10, 6, 6],
        [3, 1, 7],
      ] as const;
      const allowed = Array.from({ length: 16 }, () => new Set([0]));
      for (const [s, n, id] of writes) for (let k = s; k < s + n; k++) allowed[k]!.add(id);
      let tore = 0;
      const outcomes = Array.from({ length: 16 }, () => new Set<number>());
      for (let i = 0; i < 24; i++) {
        const r = await rig(backend, { sectors: 16, seed: `torn-${i}` });
        for (const [s, n, id] of writes) await write(r.layer, 'source', s, n, id);
        await r.layer.powerLoss('torn');
        const got = tags(await medium(r, 'source'));
        got.forEach((t, k) => {
          expect(allowed[k]!.has(t), `sector ${k} holds ${t}, allowed ${[...allowed[k]!]}`).toBe(true);
          outcomes[k]!.add(t);
        });
        // A write tore if, of its sectors no later write covers, some hold it and some do not.
        writes.forEach(([s, n, id], j) => {
          const own = [];
          for (let k = s; k < s + n; k++) if (!writes.slice(j + 1).some(([s2, n2]) => s2 <= k && k < s2 + n2)) own.push(got[k]);
          if (own.includes(id) && own.some((t) => t !== id)) tore++;
        });
      }
      expect(tore).toBeGreaterThan(0);
      // sector 0: durable, write 1 or write 5, each seen for some seed
      expect([...outcomes[0]!].sort()).toEqual([0, 1, 5]);
    });

    it.each(['subset', 'torn'] as const)('a sector cached several times ends with its durable value or one of its cached values (%s)', async (mode) => {
      const seen = new Set<number>();
      for (let i = 0; i < 64; i++) {
        const r = await rig(backend, { sectors: 2, seed: `${mode}-many-${i}` });
        await write(r.layer, 'clone', 0, 1, 1);
        await write(r.layer, 'clone', 0, 1, 2);
        await write(r.layer, 'clone', 0, 2, 3);
        await r.layer.powerLoss(mode);
        const t = tagOf(await medium(r, 'clone'), 0);
        expect([0, 1, 2, 3]).toContain(t);
        seen.add(t);
      }
      expect([...seen].sort()).toEqual([0, 1, 2, 3]);
    });

    it.each(['drop', 'keep'] as const)('the write in flight at the crash point never survives (%s)', async (mode) => {
      for (const seed of ['a', 'b', 'c']) {
        const r = await rig(backend, { sectors: 8, seed, plan: { crashAt: [1] } });
        await write(r.layer, 'source', 0, 2, 1);
        expect(await failure(write(r.layer, 'source', 0, 8, 2))).toBeInstanceOf(CrashError);
        const pending = r.layer.pending();
        expect(pending.map((w) => [w.point, w.inFlight])).toEqual([
          [0, false],
          [1, true],
        ]);
        await r.layer.powerLoss(mode);
        expect(tags(await medium(r, 'source'))).toEqual(mode === 'drop' ? [0, 0, 0, 0, 0, 0, 0, 0] : [1, 1, 0, 0, 0, 0, 0, 0]);
      }
    });

    it('the write in flight may survive whole or not at all (subset), torn (torn), even with FUA', async () => {
      const results: Record<'subset' | 'torn', Set<string>> = { subset: new Set(), torn: new Set() };
      for (const mode of ['subset', 'torn'] as const) {
        for (let i = 0; i < 24; i++) {
          const r = await rig(backend, { sectors: 8, seed: `flight-${i}`, plan: { crashAt: [0] } });
          expect(await failure(write(r.layer, 'meta', 0, 8, 9, i % 2 === 0))).toBeInstanceOf(CrashError);
          expect(r.layer.trace.map((e) => e.outcome)).toEqual(['crash']);
          await r.layer.powerLoss(mode);
          const got = tags(await medium(r, 'meta'));
          expect(got.every((t) => t === 0 || t === 9)).toBe(true);
          const n = got.filter((t) => t === 9).length;
          results[mode].add(n === 0 ? 'lost' : n === 8 ? 'whole' : 'torn');
        }
      }
      expect([...results.subset].sort()).toEqual(['lost', 'whole']);
      expect(results.torn.has('torn')).toBe(true);
    });
  });

  describe('fault layer: crash at point k', () => {
    it('op k rejects, every old handle is dead and unnumbered, restart gives new handles and numbering goes on', async () => {
      const r = await rig(backend, { sectors: 8, plan: { crashAt: [3] } });
      const old = r.layer.devices;
      await write(r.layer, 'source', 0, 1, 1); // 0
      await old.meta.read(0, SS); // 1
      await old.clone.flush(); // 2
      const e = await failure(old.meta.read(SS, SS)); // 3
      expect(e).toBeInstanceOf(CrashError);
      expect((e as CrashError).point).toBe(3);
      expect(r.layer.isDown).toBe(true);
      expect(r.layer.lastCrashPoint).toBe(3);
      expect(r.layer.trace.map((t) => [t.point, t.outcome])).toEqual([
        [0, 'ok'],
        [1, 'ok'],
        [2, 'ok'],
        [3, 'crash'],
      ]);
      const everyCall = async (next: number) => {
        for (const d of DEVICE_NAMES) {
          for (const p of [old[d].read(0, SS), old[d].write(0, pattern(5, 0, 1)), old[d].flush()]) {
            const dead = await failure(p);
            expect(dead).toBeInstanceOf(CrashError);
            expect((dead as CrashError).point).toBeUndefined();
          }
        }
        expect(r.layer.nextPoint).toBe(next);
        expect(r.layer.trace).toHaveLength(next);
      };
      await everyCall(4);
      expect(() => r.layer.restart()).toThrow(/powerLoss/); // what survived is not decided yet
      await everyCall(4);
      await r.layer.powerLoss('keep');
      await everyCall(4);
      const fresh = r.layer.restart();
      expect(fresh).toBe(r.layer.devices);
      for (const d of DEVICE_NAMES) expect(fresh[d]).not.toBe(old[d]);
      expect(r.layer.isDown).toBe(false);
      expect(tagOf(await fresh.source.read(0, SS), 0)).toBe(1); // 4
      expect(r.layer.trace.at(-1)).toMatchObject({ point: 4, device: 'source', op: 'read', outcome: 'ok' });
      await everyCall(5); // old handles stay dead after the restart, and are not numbered
    });

    it('several crashes in one run, planned up front or at restart', async () => {
      const r = await rig(backend, { sectors: 4, plan: { crashAt: [1] } });
      await write(r.layer, 'source', 0, 1, 1); // 0
      expect(await failure(r.layer.devices.source.flush())).toMatchObject({ point: 1 }); // 1
      await r.layer.powerLoss('keep');
      r.layer.restart({ crashAt: [3] });
      await r.layer.devices.clone.read(0, SS); // 2
      expect(await failure(write(r.layer, 'clone', 1, 1, 2))).toMatchObject({ name: 'CrashError', point: 3 }); // 3
      await r.layer.powerLoss('drop');
      r.layer.restart();
      await r.layer.devices.clone.read(0, SS); // 4
      expect(r.layer.trace.map((t) => `${t.point}:${t.outcome}`)).toEqual(['0:ok', '1:crash', '2:ok', '3:crash', '4:ok']);
      expect(tags(await medium(r, 'source'))[0]).toBe(1);
      expect(tags(await medium(r, 'clone'))[1]).toBe(0);
    });

    it('a power loss between operations kills the handles too; restart needs one', async () => {
      const r = await rig(backend, { sectors: 4 });
      expect(() => r.layer.restart()).toThrow(/restart without a power loss/);
      const old = r.layer.devices;
      await write(r.layer, 'source', 0, 1, 1);
      await r.layer.powerLoss('keep');
      expect(r.layer.lastCrashPoint).toBeUndefined();
      expect(await failure(old.source.read(0, SS))).toBeInstanceOf(CrashError);
      r.layer.restart();
      expect(tagOf(await r.layer.devices.source.read(0, SS), 0)).toBe(1);
      expect(r.layer.nextPoint).toBe(2);
    });

    it('concurrent I/O keeps one number per operation, and a write crashing at k is never acknowledged', async () => {
      const r = await rig(backend, { sectors: 8, plan: { crashAt: [2] } });
      const d = r.layer.devices;
      const results = await Promise.allSettled([write(r.layer, 'source', 0, 1, 1), d.meta.read(0, SS), write(r.layer, 'source', 1, 1, 2), d.clone.read(0, SS)]);
      expect(results.map((x) => x.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
      expect(r.layer.trace.map((t) => [t.point, t.op, t.outcome])).toEqual([
        [0, 'write', 'ok'],
        [1, 'read', 'ok'],
        [2, 'write', 'crash'],
      ]);
      expect(r.layer.pending().map((w) => [w.point, w.inFlight])).toEqual([
        [0, false],
        [2, true],
      ]);
      expect(r.layer.nextPoint).toBe(3);
    });
  });

  describe('fault layer: I/O errors', () => {
    it('transient EIO on a read: that read fails, the next read of the range succeeds', async () => {
      const r = await rig(backend, { sectors: 8, plan: { eio: [{ point: 1, sticky: false }] } });
      await write(r.layer, 'meta', 2, 2, 4); // 0
      const e = await failure(r.layer.devices.meta.read(2 * SS, 2 * SS)); // 1
      expect(e).toBeInstanceOf(EioError);
      expect(e).toMatchObject({ point: 1, device: 'meta', op: 'read', offset: 1024, length: 1024, sticky: false });
      expect((e as Error).message).toBe('EIO at I/O point 1: meta read of 1024 bytes at offset 1024');
      expect(tags(await r.layer.devices.meta.read(0, 8 * SS))).toEqual([0, 0, 4, 4, 0, 0, 0, 0]); // 2
      expect(r.layer.trace.map((t) => t.outcome)).toEqual(['ok', 'eio', 'ok']);
    });

    it('transient EIO on a write: it has no effect at all, and a retry succeeds', async () => {
      const r = await rig(backend, { sectors: 8, plan: { eio: [{ point: 1, sticky: false }] } });
      await write(r.layer, 'source', 0, 2, 1); // 0
      const e = await failure(write(r.layer, 'source', 1, 4, 2)); // 1
      expect(e).toMatchObject({ name: 'EioError', point: 1, device: 'source', op: 'write', offset: 512, length: 2048, sticky: false });
      expect(tags(await r.layer.peek('source'))).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(r.layer.pending().map((w) => w.point)).toEqual([0]);
      await write(r.layer, 'source', 1, 4, 2); // 2: the retry
      expect(tags(await r.layer.devices.source.read(0, 8 * SS))).toEqual([1, 2, 2, 2, 2, 0, 0, 0]);
      await r.layer.powerLoss('keep');
      expect(tags(await medium(r, 'source'))).toEqual([1, 2, 2, 2, 2, 0, 0, 0]);
    });

    it('a failed FUA write does not reach the medium', async () => {
      const r = await rig(backend, { sectors: 4, plan: { eio: [{ point: 0, sticky: false }] } });
      expect(await failure(write(r.layer, 'source', 0, 4, 1, true))).toBeInstanceOf(EioError);
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0]);
      await r.layer.powerLoss('keep');
      expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0]);
    });

    it('sticky EIO on a read: reads of the range keep failing until writes cover it', async () => {
      const r = await rig(backend, { sectors: 8, plan: { eio: [{ point: 0, sticky: true }] } });
      const src = r.layer.devices.source;
      expect(await failure(src.read(2 * SS, 3 * SS))).toMatchObject({ name: 'EioError', point: 0, sticky: true, offset: 1024, length: 1536 });
      for (const [s, n] of [
        [2, 3],
        [4, 1],
        [0, 8],
        [1, 2],
      ]) {
        expect(await failure(src.read(s! * SS, n! * SS))).toMatchObject({ name: 'EioError', sticky: true });
      }
      expect(tags(await r.layer.devices.meta.read(2 * SS, 3 * SS).then((b) => padTo(b, 2, 8))).slice(2, 5)).toEqual([0, 0, 0]); // another device
      expect(tags(await src.read(0, 2 * SS))).toEqual([0, 0]); // outside the range
      await write(r.layer, 'source', 1, 2, 3); // heals sectors 2, not 3..4
      expect(tags(await src.read(0, 3 * SS))).toEqual([0, 3, 3]);
      expect(await failure(src.read(3 * SS, SS))).toBeInstanceOf(EioError);
      await write(r.layer, 'source', 4, 1, 4); // heals 4, not 3
      expect(await failure(src.read(3 * SS, 2 * SS))).toBeInstanceOf(EioError);
      await write(r.layer, 'source', 3, 1, 5);
      expect(tags(await src.read(0, 8 * SS))).toEqual([0, 3, 3, 5, 4, 0, 0, 0]);
      expect(r.layer.trace.filter((t) => t.outcome === 'eio').map((t) => t.point)).toEqual([0, 1, 2, 3, 4, 9, 11]);
    });

    it('sticky EIO on a write: no effect, the range then fails reads until rewritten, even across a power loss', async () => {
      const r = await rig(backend, { sectors: 8, plan: { eio: [{ point: 0, sticky: true }] } });
      expect(await failure(write(r.layer, 'clone', 4, 2, 1))).toMatchObject({ name: 'EioError', op: 'write', sticky: true });
      expect(tags(await r.layer.peek('clone'))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(await failure(r.layer.devices.clone.read(5 * SS, SS))).toMatchObject({ name: 'EioError', sticky: true });
      await r.layer.powerLoss('keep');
      r.layer.restart();
      expect(await failure(r.layer.devices.clone.read(4 * SS, SS))).toMatchObject({ name: 'EioError', sticky: true });
      await write(r.layer, 'clone', 4, 2, 2);
      expect(tags(await r.layer.devices.clone.read(4 * SS, 2 * SS).then((b) => padTo(b, 4, 8)))).toEqual([-1, -1, -1, -1, 2, 2, -1, -1]);
    });

    it('a transient EIO planned on a read of a bad range still reports a medium error', async () => {
      const r = await rig(backend, { sectors: 4, plan: { eio: [{ point: 0, sticky: true }, { point: 1, sticky: false }] } });
      await failure(r.layer.devices.source.read(0, SS));
      expect(await failure(r.layer.devices.source.read(0, SS))).toMatchObject({ name: 'EioError', point: 1, sticky: true });
    });

    it('EIO on a flush leaves the writes cached; a sticky flush error is transient', async () => {
      for (const sticky of [false, true]) {
        const r = await rig(backend, { sectors: 4, plan: { eio: [{ point: 2, sticky }] } });
        await write(r.layer, 'source', 0, 2, 1); // 0
        await write(r.layer, 'meta', 0, 1, 2); // 1
        const e = await failure(r.layer.devices.source.flush()); // 2
        expect(e).toMatchObject({ name: 'EioError', point: 2, op: 'flush', sticky: false });
        expect((e as Error).message).toBe('EIO at I/O point 2: source flush');
        expect(r.layer.pending().map((w) => w.point)).toEqual([0, 1]);
        expect(tags(await medium(r, 'source'))).toEqual([0, 0, 0, 0]);
        expect(tags(await r.layer.devices.source.read(0, 4 * SS))).toEqual([1, 1, 0, 0]); // 3
        await r.layer.devices.source.flush(); // 4: the retry works
        expect(tags(await medium(r, 'source'))).toEqual([1, 1, 0, 0]);
        await r.layer.powerLoss('drop');
        expect(tags(await medium(r, 'source'))).toEqual([1, 1, 0, 0]);
        expect(tags(await medium(r, 'meta'))).toEqual([0, 0, 0, 0]);
      }
    });

    it('disarm clears planned faults and medium errors', async () => {
      const r = await rig(backend, { sectors: 4, plan: { eio: [{ point: 0, sticky: true }, { point: 2, sticky: false }], crashAt: [3] } });
      await failure(r.layer.devices.source.read(0, SS));
      r.layer.disarm();
      await r.layer.devices.source.read(0, SS);
      await r.layer.devices.source.read(0, SS);
      await r.layer.devices.source.read(0, SS);
      expect(r.layer.trace.map((t) => t.outcome)).toEqual(['eio', 'ok', 'ok', 'ok']);
    });
  });

  describe('fault layer: trace', () => {
    it('records point, device, op, range, FUA, digest and outcome of every numbered operation', async () => {
      for (const recordData of [false, true]) {
        const r = await rig(backend, { sectors: 8, recordData, plan: { eio: [{ point: 3, sticky: false }], crashAt: [5] } });
        const a = pattern(1, 2, 2);
        const b = pattern(2, 0, 1);
        await r.layer.devices.source.write(2 * SS, a); // 0
        await r.layer.devices.meta.write(0, b, { fua: true }); // 1
        const readBack = await r.layer.devices.source.read(2 * SS, 2 * SS); // 2
        await failure(r.layer.devices.clone.read(0, SS)); // 3
        await r.layer.devices.clone.flush(); // 4
        await failure(r.layer.devices.meta.write(SS, pattern(3, 1, 1))); // 5
        const expected = [
          { point: 0, device: 'source', op: 'write', offset: 1024, length: 1024, fua: false, digest: digest(a), outcome: 'ok' },
          { point: 1, device: 'meta', op: 'write', offset: 0, length: 512, fua: true, digest: digest(b), outcome: 'ok' },
          { point: 2, device: 'source', op: 'read', offset: 1024, length: 1024, fua: false, digest: digest(readBack), outcome: 'ok' },
          { point: 3, device: 'clone', op: 'read', offset: 0, length: 512, fua: false, digest: '', outcome: 'eio' },
          { point: 4, device: 'clone', op: 'flush', offset: 0, length: 0, fua: false, digest: '', outcome: 'ok' },
          { point: 5, device: 'meta', op: 'write', offset: 512, length: 512, fua: false, digest: digest(pattern(3, 1, 1)), outcome: 'crash' },
        ];
        expect(digest(readBack)).toBe(digest(a));
        if (!recordData) expect(r.layer.trace).toEqual(expected);
        else {
          expect(r.layer.trace.map(({ data: _data, ...rest }) => rest)).toEqual(expected);
          expect(r.layer.trace.map((t) => t.data)).toEqual([a, b, undefined, undefined, undefined, pattern(3, 1, 1)]);
        }
        a.fill(0); // the trace holds its own copy
        if (recordData) expect(r.layer.trace[0]!.data).toEqual(pattern(1, 2, 2));
        expect(r.layer.trace.map(formatTraceEntry)).toEqual([
          `#0 source write 1024+1024 ${digest(pattern(1, 2, 2))}`,
          `#1 meta write 0+512 fua ${digest(b)}`,
          `#2 source read 1024+1024 ${digest(readBack)}`,
          '#3 clone read 0+512 EIO',
          '#4 clone flush',
          `#5 meta write 512+512 ${digest(pattern(3, 1, 1))} CRASH`,
        ]);
      }
    });
  });

  describe('fault layer: crash states applied', () => {
    const writes = [
      ['source', 0, 2, 1],
      ['meta', 4, 1, 2],
      ['clone', 6, 2, 3],
    ] as const;

    async function imageAfter(mode: CacheMode, choice: SurvivalChoice): Promise<string> {
      const r = await rig(backend, { sectors: 8 });
      for (const [d, s, n, id] of writes) await write(r.layer, d, s, n, id);
      await r.layer.powerLoss(mode, choice);
      const images = await Promise.all(DEVICE_NAMES.map((d) => medium(r, d)));
      return images.map((i) => tags(i).join(',')).join('|');
    }

    it.each(['subset', 'torn'] as const)('every enumerated %s state gives a distinct image, the one survivingWrites predicts', async (mode) => {
      const r = await rig(backend, { sectors: 8 });
      for (const [d, s, n, id] of writes) await write(r.layer, d, s, n, id);
      const pending = r.layer.pending();
      const { choices, exhaustive, possible } = enumerateCrashStates(pending, mode, SS, seededRng('x'));
      expect(exhaustive).toBe(true);
      expect(choices).toHaveLength(mode === 'subset' ? 8 : 32);
      expect(possible).toBe(choices.length);
      const images = new Set<string>();
      for (const choice of choices) {
        const got = await imageAfter(mode, choice);
        images.add(got);
        // the pure prediction: durable images (all 0) with the surviving writes applied
        const predicted = DEVICE_NAMES.map((d) => {
          const img = pattern(0, 0, 8);
          for (const w of survivingWrites(
            pending.filter((p) => p.device === d),
            choice,
            SS,
          ))
            img.set(w.data, w.offset);
          return tags(img).join(',');
        }).join('|');
        expect(got).toBe(predicted);
      }
      expect(images.size).toBe(choices.length);
    });

    it('powerLoss returns the choice it applied, and the seeded draw is what chooseCrashState gives', async () => {
      const a = await rig(backend, { sectors: 8, seed: 'same' });
      const b = await rig(backend, { sectors: 8, seed: 'same' });
      for (const r of [a, b]) for (const [d, s, n, id] of writes) await write(r.layer, d, s, n, id);
      const drawn = b.layer.chooseCrashState('torn');
      const applied = await a.layer.powerLoss('torn');
      expect(applied).toEqual(drawn);
      expect(await imageAfter('torn', applied)).toBe((await Promise.all(DEVICE_NAMES.map((d) => medium(a, d)))).map((i) => tags(i).join(',')).join('|'));
    });
  });

  describe('fault layer: determinism', () => {
    async function run(seed: string): Promise<{ trace: string; images: string[] }> {
      const r = await rig(backend, { sectors: 32, seed, recordData: true, plan: { crashAt: [9, 14] } });
      let id = 1;
      const step = async (fn: () => Promise<unknown>) => fn().catch(async (e) => {
        if (!(e instanceof CrashError)) throw e;
        await r.layer.powerLoss('torn');
        r.layer.restart();
      });
      for (let i = 0; i < 16; i++) {
        const d = DEVICE_NAMES[i % 3]!;
        await step(() => write(r.layer, d, (i * 5) % 24, 8, id++, i % 7 === 3));
        if (i % 5 === 4) await step(() => r.layer.devices[d].read(0, 4 * SS));
      }
      await r.layer.powerLoss('torn');
      const images = await Promise.all(DEVICE_NAMES.map(async (d) => Buffer.from(await medium(r, d)).toString('base64')));
      return { trace: JSON.stringify(r.layer.trace), images };
    }

    it('the same seed gives the same trace and the same surviving images; other seeds differ', async () => {
      const first = await run('seed-1');
      const again = await run('seed-1');
      expect(again.trace).toBe(first.trace);
      expect(again.images).toEqual(first.images);
      const others = await Promise.all(['seed-2', 'seed-3', 'seed-4', 'seed-5'].map(run));
      expect(others.some((o) => o.images.join() !== first.images.join())).toBe(true);
    });
  });
});

/** Places `bytes` (read at sector `first`) into a `total`-sector image of garbage, for tags(). */
function padTo(bytes: Uint8Array, first: number, total: number): Uint8Array {
  const out = new Uint8Array(total * SS).fill(0xff);
  out.set(bytes, first * SS);
  return out;
}

// ================================================================================================

describe('crash-state enumeration (pure)', () => {
  const cw = (device: DeviceName, point: number, sectors: number, extra: Partial<CachedWrite> = {}): CachedWrite => ({
    device,
    point,
    offset: point * SS,
    data: new Uint8Array(sectors * SS),
    fua: false,
    inFlight: false,
    ...extra,
  });

  it('drop and keep have one state; keep leaves out the write in flight', () => {
    const pending = [cw('source', 1, 2), cw('meta', 2, 1, { fua: true }), cw('meta', 3, 1, { inFlight: true })];
    for (const mode of ['drop', 'keep'] as const) {
      const r = enumerateCrashStates(pending, mode, SS, seededRng('s'));
      expect(r).toEqual({ choices: [{ mode, survivors: mode === 'drop' ? [] : [{ point: 1 }] }], exhaustive: true, possible: 1 });
    }
  });

  it('subset: 2^n states while n <= exhaustiveUpTo, FUA writes not counted', () => {
    for (let n = 0; n <= 4; n++) {
      const pending = [...Array.from({ length: n }, (_, i) => cw('source', i, 3)), cw('clone', 99, 1, { fua: true })];
      const r = enumerateCrashStates(pending, 'subset', SS, seededRng('s'), { exhaustiveUpTo: 4, sampleSize: 5 });
      expect(r.exhaustive).toBe(true);
      expect(r.possible).toBe(2 ** n);
      expect(r.choices).toHaveLength(2 ** n);
      expect(new Set(r.choices.map((c) => JSON.stringify(c))).size).toBe(2 ** n);
      for (const c of r.choices) expect(c.survivors.every((s) => s.sectors === undefined && s.point !== 99)).toBe(true);
    }
  });

  it('torn: 2^sectors states, each a set of sectors per write', () => {
    const pending = [cw('source', 0, 2), cw('meta', 1, 3, { inFlight: true })];
    const r = enumerateCrashStates(pending, 'torn', SS, seededRng('s'));
    expect([r.exhaustive, r.possible, r.choices.length]).toEqual([true, 32, 32]);
    const keys = r.choices.map((c) => c.survivors.map((s) => `${s.point}:${s.sectors!.join('')}`).join(' '));
    expect(new Set(keys).size).toBe(32);
    expect(keys).toContain('');
    expect(keys).toContain('0:01 1:012');
    expect(keys).toContain('1:2');
    for (const c of r.choices) for (const s of c.survivors) expect(s.sectors!.length).toBeGreaterThan(0);
  });

  it('a write in flight is never durable, even marked FUA (as a trace-rebuilt pending list may mark it)', () => {
    const pending = [cw('source', 0, 1, { fua: true }), cw('source', 1, 2, { fua: true, inFlight: true })];
    const subset = enumerateCrashStates(pending, 'subset', SS, seededRng('s'));
    expect(subset.choices.map((c) => c.survivors)).toEqual([[], [{ point: 1 }]]);
    expect(survivingWrites(pending, { mode: 'subset', survivors: [] }, SS).map((w) => w.offset)).toEqual([0]);
    expect(survivingWrites(pending, { mode: 'torn', survivors: [{ point: 1, sectors: [1] }] }, SS).map((w) => [w.offset, w.data.length])).toEqual([
      [0, SS],
      [2 * SS, SS],
    ]);
    expect(enumerateCrashStates(pending, 'keep', SS, seededRng('s')).choices).toEqual([{ mode: 'keep', survivors: [] }]);
    expect(describeSurvival(pending, { mode: 'drop', survivors: [] })).toBe('drop: source@1 (in flight) was lost');
  });

  it('samples sampleSize seeded draws past exhaustiveUpTo', () => {
    const subset = Array.from({ length: 9 }, (_, i) => cw('source', i, 1));
    const r = enumerateCrashStates(subset, 'subset', SS, seededRng('s'));
    expect([r.exhaustive, r.possible, r.choices.length]).toEqual([false, 512, 32]);
    expect(enumerateCrashStates(subset, 'subset', SS, seededRng('s'))).toEqual(r);
    expect(enumerateCrashStates(subset, 'subset', SS, seededRng('t'))).not.toEqual(r);
    const torn = enumerateCrashStates([cw('meta', 0, 12)], 'torn', SS, seededRng('s'), { exhaustiveUpTo: 10, sampleSize: 7 });
    expect([torn.exhaustive, torn.possible, torn.choices.length]).toEqual([false, 4096, 7]);
    expect(new Set(torn.choices.map((c) => JSON.stringify(c))).size).toBeGreaterThan(1);
  });

  it('describeSurvival says which writes survived and which were lost', () => {
    const pending = [cw('source', 41, 1), cw('meta', 42, 1, { fua: true }), cw('meta', 43, 1), cw('meta', 44, 2)];
    expect(describeSurvival(pending, { mode: 'subset', survivors: [{ point: 41 }, { point: 44 }] })).toBe('subset: writes at source@41 and meta@44 survived, meta@43 was lost');
    expect(describeSurvival(pending, { mode: 'drop', survivors: [] })).toBe('drop: source@41, meta@43 and meta@44 were lost');
    expect(describeSurvival(pending, { mode: 'keep', survivors: [{ point: 41 }, { point: 43 }, { point: 44 }] })).toBe('keep: writes at source@41, meta@43 and meta@44 survived');
    expect(describeSurvival([...pending, cw('clone', 45, 1, { inFlight: true })], { mode: 'torn', survivors: [{ point: 44, sectors: [1] }, { point: 45, sectors: [0] }] })).toBe(
      'torn: writes at meta@44 sectors [1] and clone@45 (in flight) sectors [0] survived, source@41 and meta@43 were lost',
    );
    expect(describeSurvival([cw('meta', 1, 1)], { mode: 'subset', survivors: [{ point: 1 }] })).toBe('subset: write at meta@1 survived');
    expect(describeSurvival([cw('meta', 1, 1, { fua: true })], { mode: 'torn', survivors: [] })).toBe('no cached write was pending');
  });
});

describe('crash states derived from a recorded trace', () => {
  const sectors = 8;
  /** Writes (some FUA), reads, flushes on all three devices, and one power loss between I/Os. */
  const ops: readonly ({ device: DeviceName; op: 'write'; at: number; n: number; fua: boolean } | { device: DeviceName; op: 'read' | 'flush' } | { op: 'powerLoss' })[] = [
    { device: 'source', op: 'write', at: 0, n: 2, fua: false },
    { device: 'meta', op: 'write', at: 1, n: 1, fua: true },
    { device: 'clone', op: 'write', at: 4, n: 3, fua: false },
    { device: 'source', op: 'read' },
    { device: 'source', op: 'flush' },
    { device: 'source', op: 'write', at: 1, n: 2, fua: false },
    { op: 'powerLoss' },
    { device: 'meta', op: 'write', at: 1, n: 2, fua: false },
    { device: 'clone', op: 'write', at: 5, n: 1, fua: true },
    { device: 'meta', op: 'flush' },
    { device: 'clone', op: 'write', at: 0, n: 2, fua: false },
  ];
  const LOSS: SurvivalChoice = { mode: 'torn', survivors: [{ point: 2, sectors: [1, 2] }, { point: 5, sectors: [0] }] };

  /** Runs the ops on a fresh layer until the planned crash, if any; the layer as the crash left it. */
  async function live(crashAt?: number): Promise<{ layer: FaultLayer; backends: Record<DeviceName, MemoryDevice> }> {
    const backends = { source: MemoryDevice.zeroed(sectors * SS, SS, 'source'), clone: MemoryDevice.zeroed(sectors * SS, SS, 'clone'), meta: MemoryDevice.zeroed(sectors * SS, SS, 'meta') };
    const layer = new FaultLayer(backends, { crashAt: crashAt === undefined ? [] : [crashAt] }, 'derived', true);
    let id = 1;
    try {
      for (const o of ops) {
        if (o.op === 'powerLoss') {
          await layer.powerLoss('torn', LOSS);
          layer.restart();
        } else if (o.op === 'write') await layer.devices[o.device].write(o.at * SS, pattern(id++, o.at, o.n), { fua: o.fua });
        else if (o.op === 'read') await layer.devices[o.device].read(0, sectors * SS);
        else await layer.devices[o.device].flush();
      }
    } catch (e) {
      if (!(e instanceof CrashError)) throw e;
    }
    return { layer, backends };
  }

  it('gives at every I/O point the devices a live crash there leaves, and the same images for every survival choice', async () => {
    const recorded = (await live()).layer;
    const lossAt = 6; // the power loss comes before the I/O numbered 6
    const zero = () => MemoryDevice.zeroed(sectors * SS, SS);
    for (const entry of recorded.trace) {
      const derived = new RecordedDevices({ source: zero(), clone: zero(), meta: zero() });
      for (const e of recorded.trace.filter((e) => e.point < entry.point)) {
        if (e.point === lossAt) await derived.powerLoss(LOSS);
        await derived.play(e);
      }
      if (entry.point === lossAt) await derived.powerLoss(LOSS);
      const at = derived.crashAt(entry);
      const crashed = await live(entry.point);
      const strip = (ws: readonly CachedWrite[]) => ws.map(({ device, point, offset, data, inFlight }) => ({ device, point, offset, data, inFlight }));
      expect(strip(at.pending), `pending at #${entry.point}`).toEqual(strip(crashed.layer.pending()));
      for (const d of DEVICE_NAMES) expect(at.durable[d], `durable ${d} at #${entry.point}`).toEqual(crashed.backends[d].bytes);
      for (const choice of enumerateCrashStates(at.pending, 'torn', SS, seededRng('c'), { exhaustiveUpTo: 3, sampleSize: 3 }).choices) {
        const again = await live(entry.point);
        await again.layer.powerLoss('torn', choice);
        const images = imagesAfterCrash(at.durable, at.pending, choice, SS);
        for (const d of DEVICE_NAMES) expect(images[d], `${d} after ${JSON.stringify(choice)}`).toEqual(again.backends[d].bytes);
      }
    }
  });
});
