/**
 * The reference engine on its own, without the harness's oracle: each operation, corrupt
 * metadata, I/O errors, and a crash at every I/O point of one short restore in every cache mode.
 */
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../devices/block-device.js';
import { CACHE_MODES, CrashError, FaultLayer } from '../../devices/fault-layer.js';
import { MemoryDevice } from '../../devices/memory-device.js';
import { CloneBusyError, EngineStateError, type Geometry, MetadataError, type RestoreDevices, type RestoreEngine } from '../contract.js';
import { decodeCase } from '../../harness/replay-line.js';
import { runCase } from '../../harness/run-case.js';
import { createReferenceEngine, referenceEngine } from './index.js';

const SECTOR = 512;
/** Four extents of two sectors, the last one short (one sector). */
const GEOMETRY: Geometry = { sectorSize: SECTOR, extentSectors: 2, volumeSize: 7 * SECTOR };
const SECTORS = GEOMETRY.volumeSize / SECTOR;

function filled(tag: number): Uint8Array {
  const bytes = new Uint8Array(GEOMETRY.volumeSize);
  for (let s = 0; s < SECTORS; s++) bytes.fill(tag + s, s * SECTOR, (s + 1) * SECTOR);
  return bytes;
}

const SOURCE = 0x10;
const CLONE = 0x40;
const HOST = 0xa0;

/** Source and clone differ in extents 0, 1 and 3; extent 2 is equal. */
function images(): { source: Uint8Array; clone: Uint8Array } {
  const source = filled(SOURCE);
  const clone = filled(CLONE);
  clone.set(source.subarray(4 * SECTOR, 6 * SECTOR), 4 * SECTOR);
  return { source, clone };
}

async function formatted(): Promise<Record<'source' | 'clone' | 'meta', MemoryDevice>> {
  const { source, clone } = images();
  const devices = {
    source: new MemoryDevice(source, SECTOR, 'source'),
    clone: new MemoryDevice(clone, SECTOR, 'clone'),
    meta: MemoryDevice.zeroed(referenceEngine.metadataSize(GEOMETRY), SECTOR, 'meta'),
  };
  await referenceEngine.format(devices, GEOMETRY, [true, true, false, true]);
  return devices;
}

function sector(bytes: Uint8Array, s: number): Uint8Array {
  return bytes.subarray(s * SECTOR, (s + 1) * SECTOR);
}

function hostData(first: number, count: number): Uint8Array {
  const data = new Uint8Array(count * SECTOR);
  for (let i = 0; i < count; i++) data.fill(HOST + first + i, i * SECTOR, (i + 1) * SECTOR);
  return data;
}

async function runToEnd(engine: RestoreEngine): Promise<number> {
  let steps = 0;
  while (!(await engine.step()).done) if (++steps > 100) throw new Error('the restore does not end');
  return steps;
}

/** Counts reads and writes to a device, to prove that refusing corrupt metadata writes nothing. */
function counting(device: BlockDevice): BlockDevice & { reads: number; writes: number } {
  const wrapped = {
    reads: 0,
    writes: 0,
    size: device.size,
    sectorSize: device.sectorSize,
    read: (o: number, l: number) => {
      wrapped.reads++;
      return device.read(o, l);
    },
    write: (o: number, d: Uint8Array, opts?: { fua?: boolean }) => {
      wrapped.writes++;
      return device.write(o, d, opts);
    },
    flush: () => device.flush(),
  };
  return wrapped;
}

describe('fractured', () => {
  it('records every host write, to source or clone, in D before the data', async () => {
    const devices = await formatted();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    expect((await engine.inspect!()).delta).toEqual([true, true, false, true]);
    await engine.writeSource(4 * SECTOR, hostData(4, 1));
    expect((await engine.inspect!()).delta).toEqual([true, true, true, true]);
    // Durable: a fresh open on the same devices sees the bit.
    expect((await (await referenceEngine.open(devices, GEOMETRY)).inspect!()).delta[2]).toBe(true);
    expect(await engine.readSource(4 * SECTOR, SECTOR)).toEqual(hostData(4, 1));
    expect(await engine.status()).toEqual({ state: 'fractured' });
  });

  it('lets the host use the clone, and a restore with nothing to do ends at once', async () => {
    const devices = await formatted();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    await engine.writeClone(0, hostData(0, 2));
    await engine.flushClone();
    expect(await engine.readClone(0, SECTOR)).toEqual(hostData(0, 1));
    expect(await engine.step()).toEqual({ remaining: 0, done: true });
  });
});

describe('restore', () => {
  it('is instant: reads of extents not yet copied come from the clone', async () => {
    const devices = await formatted();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    await engine.startRestore({ protect: true });
    expect(await engine.status()).toEqual({ state: 'restoring', protect: true, extentsRemaining: 3 });
    expect(await engine.readSource(0, GEOMETRY.volumeSize)).toEqual(images().clone);
    // Nothing was copied yet: the source device still holds its old data.
    expect(sector(devices.source.bytes, 0)).toEqual(sector(images().source, 0));
  });

  it('refuses the clone while restoring, and a second start', async () => {
    const engine = await referenceEngine.open(await formatted(), GEOMETRY);
    await engine.startRestore({ protect: true });
    await expect(engine.readClone(0, SECTOR)).rejects.toBeInstanceOf(CloneBusyError);
    await expect(engine.writeClone(0, hostData(0, 1))).rejects.toThrow(/clone busy/);
    await expect(engine.flushClone()).rejects.toBeInstanceOf(CloneBusyError);
    await expect(engine.startRestore({ protect: false })).rejects.toBeInstanceOf(EngineStateError);
  });

  it('protected: copies only D extents, keeps host writes, never touches the clone, and leaves them in D', async () => {
    const devices = await formatted();
    const cloneBefore = devices.clone.bytes.slice();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    await engine.startRestore({ protect: true });
    // A partial write to extent 1, not yet copied: sector 3 must end with clone data.
    await engine.writeSource(2 * SECTOR, hostData(2, 1));
    expect((await engine.inspect!()).protected).toEqual([false, true, false, false]);
    expect(await engine.readSource(2 * SECTOR, 2 * SECTOR)).toEqual(new Uint8Array([...hostData(2, 1), ...sector(images().clone, 3)]));
    expect(await runToEnd(engine)).toBe(1);
    await engine.flushSource();
    const expected = images().clone;
    expected.set(hostData(2, 1), 2 * SECTOR);
    expect(devices.source.bytes).toEqual(expected);
    expect(devices.clone.bytes).toEqual(cloneBefore);
    expect(await engine.inspect!()).toEqual({ delta: [false, true, false, false], protected: [false, false, false, false] });
  });

  it('a write covering a whole extent not yet copied is its copy: the clone is not read for it', async () => {
    const devices = await formatted();
    const clone = counting(devices.clone);
    const engine = await referenceEngine.open({ ...devices, clone }, GEOMETRY);
    await engine.startRestore({ protect: true });
    const reads = () => clone.reads;
    const before = reads();
    // Extent 1 (sectors 2-3) whole: no copy. Then half of extent 0: copy-before-write.
    await engine.writeSource(2 * SECTOR, hostData(2, 2));
    expect(reads()).toBe(before);
    await engine.writeSource(0, hostData(0, 1));
    expect(reads()).toBe(before + 1);
    expect((await engine.inspect!()).protected).toEqual([true, true, false, false]);
    const expected = images().clone;
    expected.set(hostData(0, 1), 0);
    expected.set(hostData(2, 2), 2 * SECTOR);
    expect(await engine.readSource(0, GEOMETRY.volumeSize)).toEqual(expected);
    await runToEnd(engine);
    await engine.flushSource();
    expect(devices.source.bytes).toEqual(expected);
  });

  it('unprotected: mirrors host writes, ends with source equal to clone and D clear', async () => {
    const devices = await formatted();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    await engine.startRestore({ protect: false });
    await engine.writeSource(5 * SECTOR, hostData(5, 2));
    await runToEnd(engine);
    await engine.flushSource();
    expect(devices.source.bytes).toEqual(devices.clone.bytes);
    expect(sector(devices.clone.bytes, 6)).toEqual(hostData(6, 1));
    expect((await engine.inspect!()).delta).toEqual([false, false, false, false]);
  });

  it('never makes a copy I/O larger than maxIoBytes, and coalesces contiguous extents up to it', async () => {
    const sizes = async (maxIoBytes: number) => {
      const devices = await formatted();
      const lengths: number[] = [];
      const source = devices.source;
      const recording: BlockDevice = { size: source.size, sectorSize: SECTOR, read: (o, l) => source.read(o, l), flush: () => source.flush(), write: (o, d, opts) => (lengths.push(d.length), source.write(o, d, opts)) };
      const engine = await createReferenceEngine({ copyBatch: 8, maxIoBytes }).open({ ...devices, source: recording }, GEOMETRY);
      await engine.startRestore({ protect: true });
      await runToEnd(engine);
      expect(devices.source.bytes).toEqual(devices.clone.bytes);
      return lengths;
    };
    // Extents 0 and 1 (four sectors) are contiguous, extent 3 (one short sector) stands alone.
    expect(await sizes(SECTOR)).toEqual([SECTOR, SECTOR, SECTOR, SECTOR, SECTOR]);
    expect(await sizes(3 * SECTOR)).toEqual([3 * SECTOR, SECTOR, SECTOR]);
    expect(await sizes(4 * SECTOR)).toEqual([4 * SECTOR, SECTOR]);
  });

  it('copies a batch of extents per step when asked to', async () => {
    const engine = await createReferenceEngine({ copyBatch: 8 }).open(await formatted(), GEOMETRY);
    await engine.startRestore({ protect: true });
    expect(await engine.step()).toEqual({ remaining: 0, done: true });
  });
});

describe('metadata that cannot be trusted', () => {
  const cases: [string, (meta: Uint8Array) => void, RegExp][] = [
    ['bad magic in both slots', (m) => (m[SECTOR] = 0x58), /slot 0: empty; slot 1: bad magic/],
    ['a bad checksum', (m) => (m[SECTOR + 28] ^= 1), /slot 1: bad checksum/],
    ['no superblock at all', (m) => m.fill(0, 0, 2 * SECTOR), /no valid superblock.*slot 0: empty; slot 1: empty/],
    // Layout of this geometry: superblock slots in sectors 0 and 1, D in sector 2, P in sector 3.
    ['one D bit flipped', (m) => (m[2 * SECTOR] ^= 1 << 2), /clone delta map \(D\): sector 0 of 1 \(bytes 1024-1535 of the metadata device\) fails its checksum/],
    ['the P sector zeroed', (m) => m.fill(0, 3 * SECTOR, 4 * SECTOR), /protected restore map \(P\): sector 0 of 1 \(bytes 1536-2047/],
    ['the P sector copied over the D sector', (m) => m.copyWithin(2 * SECTOR, 3 * SECTOR, 4 * SECTOR), /clone delta map \(D\): sector 0 of 1 .* fails its checksum/],
    ['a D checksum byte changed', (m) => (m[3 * SECTOR - 1] ^= 0x80), /clone delta map \(D\).* fails its checksum/],
  ];
  it.each(cases)('refuses %s, naming it, and writes nothing', async (_, damage, message) => {
    const devices = await formatted();
    damage(devices.meta.bytes);
    const meta = counting(devices.meta);
    const source = counting(devices.source);
    const error = await referenceEngine.open({ ...devices, meta, source }, GEOMETRY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as Error).message).toMatch(message);
    expect(meta.writes + source.writes).toBe(0);
  });

  it('refuses a map damaged mid-restore, before anything is copied', async () => {
    const devices = await formatted();
    const engine = await referenceEngine.open(devices, GEOMETRY);
    await engine.startRestore({ protect: true });
    await engine.step();
    devices.meta.bytes.fill(0, 2 * SECTOR, 2 * SECTOR + 8);
    const source = counting(devices.source);
    const error = await referenceEngine.open({ ...devices, source }, GEOMETRY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect((error as Error).message).toMatch(/clone delta map \(D\): sector 0/);
    expect(source.writes).toBe(0);
  });

  it('refuses metadata written for another geometry, naming the field', async () => {
    const devices = await formatted();
    const other = { ...GEOMETRY, extentSectors: 1 };
    const meta = MemoryDevice.zeroed(referenceEngine.metadataSize(other), SECTOR, 'meta');
    meta.bytes.set(devices.meta.bytes.subarray(0, 2 * SECTOR));
    await expect(referenceEngine.open({ ...devices, meta }, other)).rejects.toThrow(/geometry.extentSectors 2, but the devices have 1/);
  });

  it('refuses devices of the wrong size, naming the device', async () => {
    const devices = await formatted();
    const clone = MemoryDevice.zeroed(8 * SECTOR, SECTOR, 'clone');
    await expect(referenceEngine.open({ ...devices, clone }, GEOMETRY)).rejects.toThrow(/clone device is 4096 bytes; the geometry needs 3584/);
  });
});

describe('I/O errors', () => {
  it('reports an EIO to the caller, stays consistent, and the next call goes on', async () => {
    const backends = await formatted();
    // Point 3 is startRestore's clone flush, 4 its superblock commit.
    const layer = new FaultLayer(backends, { eio: [{ point: 4, sticky: false }] });
    const engine = await referenceEngine.open(layer.devices as RestoreDevices, GEOMETRY);
    await expect(engine.startRestore({ protect: true })).rejects.toThrow(/EIO/);
    expect(await engine.status()).toEqual({ state: 'fractured' });
    await engine.startRestore({ protect: true });
    await runToEnd(engine);
    await engine.flushSource();
    expect(backends.source.bytes).toEqual(images().clone);
  });
});

/**
 * One short protected or unprotected restore with a host write in the middle; crashed at every
 * I/O point in every cache mode, recovered, run to the end, and checked on the raw devices.
 */
describe('a crash at every I/O point', () => {
  const HOST_FIRST = 2;
  const HOST_COUNT = 2;

  async function workload(engine: RestoreEngine, protect: boolean, progress: { issued: boolean; flushed: boolean }) {
    await engine.startRestore({ protect });
    await engine.step();
    // Issued: from here a crash may leave the host's data or the clone's in those sectors.
    progress.issued = true;
    await engine.writeSource(HOST_FIRST * SECTOR, hostData(HOST_FIRST, HOST_COUNT));
    await engine.flushSource();
    progress.flushed = true;
    await runToEnd(engine);
    await engine.flushSource();
  }

  async function pointsOf(protect: boolean): Promise<number> {
    const layer = new FaultLayer(await formatted());
    const engine = await referenceEngine.open(layer.devices as RestoreDevices, GEOMETRY);
    await workload(engine, protect, { issued: false, flushed: false });
    return layer.nextPoint;
  }

  for (const protect of [true, false]) {
    it(`${protect ? 'protected' : 'unprotected'}: clone preserved, source right, D sound`, async () => {
      const points = await pointsOf(protect);
      expect(points).toBeGreaterThan(20);
      let checked = 0;
      for (let point = 0; point < points; point++) {
        for (const mode of CACHE_MODES) {
          const backends = await formatted();
          const cloneBefore = backends.clone.bytes.slice();
          const layer = new FaultLayer(backends, { crashAt: [point] }, `crash-${point}-${mode}`);
          const progress = { issued: false, flushed: false };
          const crash = await referenceEngine
            .open(layer.devices as RestoreDevices, GEOMETRY)
            .then((first) => workload(first, protect, progress))
            .catch((e: unknown) => e);
          expect(crash, `point ${point}`).toBeInstanceOf(CrashError);
          await layer.powerLoss(mode);
          layer.restart();
          const engine = await referenceEngine.open(layer.devices as RestoreDevices, GEOMETRY);
          const where = `crash at ${point} (${mode})`;
          if ((await engine.status()).state === 'fractured' && !progress.issued) {
            // The start did not take (or the restore had not begun): the host starts it again.
            await engine.startRestore({ protect });
          }
          await runToEnd(engine);
          await engine.flushSource();
          await layer.devices.clone.flush();
          const source = backends.source.bytes;
          const clone = backends.clone.bytes;
          if (protect) expect(clone, `${where}: clone changed`).toEqual(cloneBefore);
          for (let s = 0; s < SECTORS; s++) {
            const hostWrote = progress.issued && s >= HOST_FIRST && s < HOST_FIRST + HOST_COUNT;
            const restored = sector(cloneBefore, s);
            const host = hostData(s, 1);
            const allowed = !hostWrote ? [restored] : progress.flushed ? [host] : [restored, host];
            expect(allowed.some((a) => sector(source, s).every((b, i) => b === a[i])), `${where}: source sector ${s}`).toBe(true);
            if (!protect) expect(sector(clone, s), `${where}: clone sector ${s} after an unprotected restore`).toEqual(sector(source, s));
          }
          const delta = (await engine.inspect!()).delta;
          for (let e = 0; e < delta.length; e++) {
            const differs = [2 * e, 2 * e + 1].some((s) => s < SECTORS && sector(source, s).some((b, i) => b !== sector(clone, s)[i]));
            if (differs) expect(delta[e], `${where}: extent ${e} differs but its D bit is clear`).toBe(true);
          }
          checked++;
        }
      }
      expect(checked).toBe(points * CACHE_MODES.length);
    });
  }
});

describe('regressions', () => {
  // A mirrored write failed in an unprotected restore (EIO), so P was dropped in memory but stayed
  // set on disk; the restore completed, the host wrote the extent while fractured, and the next
  // start kept the stale P: after a crash, recovery trusted it and never copied the extent back.
  it('clears on disk a P bit that a failed mirrored write dropped in memory', async () => {
    const line = 'c1.rZHNbsJADITfZc57AFSg3WfoqRxRDquNKStCHNkOP4323atNCqVSDz30Nhrbn8fygBiU4Ae8Ex_J5Fr0iZv-SJv0QfCL2dOzg1I0lslZzhcOdDFqbTPaCj_PDqlNlkJTAHXa7Ujgt7PKoabGAjzoEqIhO5xZDg2HGn47gDt4qAWxN1JjITh0wkbR4HehUcruq-ssyUp5ilfGuJdYnCke_PwmddRdMCNp4Zd3hhp1cIjctwa_-gf2-oH9-xUm_fcRHZ9JXlkVDkeuy6oDTZn2nOL4i5--9nJKp3HvdkDHqSRfrHKV71ChUP89fK4cogTdU0FWDpT4kf3ioJbi4Xp7QJXLONXwuCB_Ag';
    const { case: c, seed } = decodeCase(line);
    expect(c.eio.length).toBeGreaterThan(0);
    const run = await runCase(referenceEngine, c, { seed });
    expect(run.crashStates).toBeGreaterThan(0);
    expect(run.violations.map((v) => `${v.rule}: ${v.message}`)).toEqual([]);
  });
});
