/**
 * Copy-ahead: which extents a step takes once the host has read some of them repeatedly while
 * they were not yet copied. The harness judges the engine's safety (properties/copy-ahead.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../devices/memory-device.js';
import type { EngineFactory, Geometry, RestoreEngine } from '../contract.js';
import { CopyAheadEngine, HOT_READS } from './copy-ahead.js';
import { createReferenceEngine } from './index.js';

const SECTOR = 512;
/** Eight extents of two sectors. */
const GEOMETRY: Geometry = { sectorSize: SECTOR, extentSectors: 2, volumeSize: 16 * SECTOR };
const EXTENT = 2 * SECTOR;

const copyAhead = createReferenceEngine({ deferProtection: true }, 'copy-ahead', CopyAheadEngine);
const plain = createReferenceEngine({ deferProtection: true });

/** A pair that differs everywhere, D all set; a protected restore started unless `start` is false. */
async function restoring(factory: EngineFactory, start = true): Promise<RestoreEngine> {
  const devices = {
    source: MemoryDevice.zeroed(GEOMETRY.volumeSize, SECTOR, 'source'),
    clone: new MemoryDevice(new Uint8Array(GEOMETRY.volumeSize).fill(0x40), SECTOR, 'clone'),
    meta: MemoryDevice.zeroed(factory.metadataSize(GEOMETRY), SECTOR, 'meta'),
  };
  await factory.format(devices, GEOMETRY, 'all');
  const engine = await factory.open(devices, GEOMETRY);
  if (start) await engine.startRestore({ protect: true });
  return engine;
}

async function readTimes(engine: RestoreEngine, times: number, offset: number, length = SECTOR): Promise<void> {
  for (let i = 0; i < times; i++) await engine.readSource(offset, length);
}

/** The extents copied so far (D clear). */
async function copied(engine: RestoreEngine): Promise<number[]> {
  return (await engine.inspect!()).delta.flatMap((d, e) => (d ? [] : [e]));
}

describe('copy-ahead', () => {
  it(`copies an extent read ${HOT_READS} times while uncopied before the copier's order reaches it, then goes on in order`, async () => {
    const engine = await restoring(copyAhead);
    await readTimes(engine, HOT_READS, 6 * EXTENT + SECTOR);
    await engine.step();
    expect(await copied(engine)).toEqual([6]);
    await engine.step();
    expect(await copied(engine)).toEqual([0, 6]);
  });

  it('leaves the order alone without the hot reads: the reference engine itself, and one read only', async () => {
    const reference = await restoring(plain);
    await readTimes(reference, HOT_READS, 6 * EXTENT);
    await reference.step();
    expect(await copied(reference)).toEqual([0]);

    const once = await restoring(copyAhead);
    await readTimes(once, HOT_READS - 1, 6 * EXTENT);
    await once.step();
    expect(await copied(once)).toEqual([0]);
  });

  it('takes hot extents in the order they turned hot, a read across two extents making both hot', async () => {
    const engine = await restoring(copyAhead);
    await readTimes(engine, HOT_READS, 7 * EXTENT);
    await readTimes(engine, HOT_READS, 3 * EXTENT + SECTOR, 2 * SECTOR);
    const order: number[][] = [];
    for (let i = 0; i < 4; i++) {
      await engine.step();
      order.push(await copied(engine));
    }
    expect(order).toEqual([[7], [3, 7], [3, 4, 7], [0, 3, 4, 7]]);
  });

  it('passes by a hot extent the host has since written (protected: nothing to copy), and counts no reads outside a restore', async () => {
    const engine = await restoring(copyAhead);
    await readTimes(engine, HOT_READS, 5 * EXTENT);
    await engine.writeSource(5 * EXTENT, new Uint8Array(EXTENT).fill(0xa0));
    await engine.step();
    expect(await copied(engine)).toEqual([0]);

    const fractured = await restoring(copyAhead, false);
    await readTimes(fractured, HOT_READS, 5 * EXTENT);
    await fractured.startRestore({ protect: true });
    await fractured.step();
    expect(await copied(fractured)).toEqual([0]);
  });

  it('fills a step beyond its hot extents from the copier\'s order', async () => {
    const batched = createReferenceEngine({ deferProtection: true, copyBatch: 3 }, 'copy-ahead', CopyAheadEngine);
    const engine = await restoring(batched);
    await readTimes(engine, HOT_READS, 4 * EXTENT);
    await engine.step();
    expect(await copied(engine)).toEqual([0, 1, 4]);
    const end = await engine.step();
    expect(await copied(engine)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(end).toEqual({ remaining: 2, done: false });
  });
});
