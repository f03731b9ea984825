/**
 * The model takes what the host wrote, not what the engine left in the host's buffer: an engine
 * may reuse the buffer a write handed it once the write is acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, ReferenceEngine } from '../../engine/reference/index.js';
import type { Case } from '../case.js';
import { runCase } from '../run-case.js';

/** The reference engine, which scribbles over each written buffer once the write is done. */
class Scribbling extends ReferenceEngine {
  override async writeSource(offset: number, data: Uint8Array): Promise<void> {
    await super.writeSource(offset, data);
    data.fill(0xee);
  }
}

const writes: Case = {
  geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 2], delta: 'exact' },
  workload: [
    { op: 'write', volume: 'source', sector: 6, sectors: 2, pattern: 2 },
    { op: 'read', volume: 'source', sector: 6, sectors: 2 },
    { op: 'startRestore', protect: false },
    { op: 'write', volume: 'source', sector: 1, sectors: 1, pattern: 3 },
    { op: 'read', volume: 'source', sector: 0, sectors: 4 },
  ],
  crashes: [],
  eio: [],
};

describe('a host write', () => {
  it('is modelled with the bytes the host wrote, whatever the engine does with the buffer afterwards', async () => {
    const run = await runCase(createReferenceEngine({}, 'scribbling', Scribbling), writes, { seed: 'x' });
    expect(run.violations).toEqual([]);
  });
});
