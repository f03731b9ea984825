/**
 * The reference engine's `deferProtection` mode on its own: what a host write and a flush cost
 * during a protected restore (the reason for the mode), and what a power loss before and after
 * the host's flush leaves. The whole oracle judges the mode in properties/deferred-protection.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FaultLayer } from '../../devices/fault-layer.js';
import { MemoryDevice } from '../../devices/memory-device.js';
import type { Geometry, RestoreDevices, RestoreEngine } from '../contract.js';
import { engine as deferredEngine } from './deferred.js';
import { referenceEngine } from './index.js';

const SECTOR = 512;
/** Four extents of two sectors. */
const GEOMETRY: Geometry = { sectorSize: SECTOR, extentSectors: 2, volumeSize: 8 * SECTOR };

function filled(tag: number): Uint8Array {
  const bytes = new Uint8Array(GEOMETRY.volumeSize);
  for (let s = 0; s < 8; s++) bytes.fill(tag + s, s * SECTOR, (s + 1) * SECTOR);
  return bytes;
}

const CLONE = filled(0x40);
const HOST = new Uint8Array(SECTOR).fill(0xa0);

/** A pair that differs everywhere, D all set, on a fault layer; the restore started. */
async function restoring(factory = deferredEngine): Promise<{ layer: FaultLayer; engine: RestoreEngine }> {
  const backends = {
    source: new MemoryDevice(filled(0x10), SECTOR, 'source'),
    clone: new MemoryDevice(CLONE.slice(), SECTOR, 'clone'),
    meta: MemoryDevice.zeroed(factory.metadataSize(GEOMETRY), SECTOR, 'meta'),
  };
  await factory.format(backends, GEOMETRY, 'all');
  const layer = new FaultLayer(backends);
  const engine = await factory.open(layer.devices as RestoreDevices, GEOMETRY);
  await engine.startRestore({ protect: true });
  return { layer, engine };
}

/** The I/Os `fn` issues, as `device op` strings. */
async function ios(layer: FaultLayer, fn: () => Promise<unknown>): Promise<string[]> {
  const from = layer.trace.length;
  await fn();
  return layer.trace.slice(from).map((e) => `${e.device} ${e.op}`);
}

describe('deferProtection', () => {
  it('acknowledges a first write to an extent not yet copied with no flush, and makes P durable at the flush, after the source', async () => {
    const { layer, engine } = await restoring();
    // Half of extent 1: the rest of it is the clone's, written with the host's data, with no flush.
    expect(await ios(layer, () => engine.writeSource(2 * SECTOR, HOST))).toEqual(['clone read', 'source write']);
    // The whole of extent 2: the write is its copy.
    expect(await ios(layer, () => engine.writeSource(4 * SECTOR, new Uint8Array(2 * SECTOR)))).toEqual(['source write']);
    expect((await engine.inspect!()).protected).toEqual([false, true, true, false]);
    expect(await ios(layer, () => engine.flushSource())).toEqual(['source flush', 'meta write', 'meta flush']);
    // Nothing pending: the next flush is the source's alone.
    expect(await ios(layer, () => engine.flushSource())).toEqual(['source flush']);
  });

  it('writes a write across extents not yet copied as one I/O, with the clone data of the two it covers in part', async () => {
    const { layer, engine } = await restoring();
    const data = new Uint8Array(6 * SECTOR).fill(0xb0);
    // Sectors 1-6: the second half of extent 0, extents 1 and 2 whole, the first half of extent 3.
    expect(await ios(layer, () => engine.writeSource(SECTOR, data))).toEqual(['clone read', 'clone read', 'source write']);
    const expected = CLONE.slice();
    expected.set(data, SECTOR);
    expect(await engine.readSource(0, GEOMETRY.volumeSize)).toEqual(expected);
    expect(await layer.peek('source')).toEqual(expected);
  });

  it('reads the clone once for a write within adjacent extents not yet copied, and lays the host\'s data over it', async () => {
    const { layer, engine } = await restoring();
    const data = new Uint8Array(2 * SECTOR).fill(0xc0);
    // Sectors 3-4: the second half of extent 1 and the first half of extent 2.
    expect(await ios(layer, () => engine.writeSource(3 * SECTOR, data))).toEqual(['clone read', 'source write']);
    const expected = CLONE.slice();
    expected.set(data, 3 * SECTOR);
    expect(await engine.readSource(0, GEOMETRY.volumeSize)).toEqual(expected);
    expect((await layer.peek('source')).subarray(2 * SECTOR, 6 * SECTOR)).toEqual(expected.subarray(2 * SECTOR, 6 * SECTOR));
  });

  it('still makes D durable before the data for an extent the copier already copied', async () => {
    const { layer, engine } = await restoring();
    await engine.step();
    expect((await engine.inspect!()).delta).toEqual([false, true, true, true]);
    expect(await ios(layer, () => engine.writeSource(0, HOST))).toEqual(['meta write', 'meta flush', 'source write']);
    expect(await engine.inspect!()).toEqual({ delta: [true, true, true, true], protected: [true, false, false, false] });
  });

  it('costs less than the eager default, which flushes before acknowledging the same write', async () => {
    const { layer, engine } = await restoring(referenceEngine);
    const eager = await ios(layer, () => engine.writeSource(2 * SECTOR, HOST));
    expect(eager.filter((io) => io.endsWith('flush'))).toEqual(['source flush', 'meta flush']);
  });

  it('after a power loss before the flush, the unflushed write is gone and the extent reads and restores as the clone', async () => {
    const { layer, engine } = await restoring();
    await engine.writeSource(2 * SECTOR, HOST);
    await engine.step();
    // The copier's step flushed the source: the host's data is on the disk, P is not.
    await layer.powerLoss('keep');
    layer.restart();
    const after = await deferredEngine.open(layer.devices as RestoreDevices, GEOMETRY);
    expect((await after.inspect!()).protected).toEqual([false, false, false, false]);
    expect(await after.readSource(0, GEOMETRY.volumeSize)).toEqual(CLONE);
    while (!(await after.step()).done);
    await after.flushSource();
    expect(await layer.peek('source')).toEqual(CLONE);
  });

  it('after a power loss right after the flush, the flushed write stays, and the rest of its extent is the clone', async () => {
    const { layer, engine } = await restoring();
    await engine.writeSource(2 * SECTOR, HOST);
    await engine.flushSource();
    await layer.powerLoss('drop');
    layer.restart();
    const after = await deferredEngine.open(layer.devices as RestoreDevices, GEOMETRY);
    const expected = CLONE.slice();
    expected.set(HOST, 2 * SECTOR);
    expect(await after.readSource(0, GEOMETRY.volumeSize)).toEqual(expected);
    while (!(await after.step()).done);
    await after.flushSource();
    expect(await layer.peek('source')).toEqual(expected);
    expect((await after.inspect!()).delta).toEqual([false, true, false, false]);
  });
});
