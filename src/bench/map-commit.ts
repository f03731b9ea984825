/**
 * What a map commit costs the reference engine, at 1,000 and at 1,000,000 extents, measured side
 * by side: I/Os and microseconds per host write during a protected restore (the first write to an
 * extent not yet copied: copy-before-write, P, then the data), and I/Os per extent the copier
 * copies. Source and clone keep no data, so a million extents cost no memory; the metadata is real.
 */
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { seededRng } from '../devices/rng.js';
import type { Geometry, RestoreEngine } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';

const SECTOR = 512;
const EXTENT_SECTORS = 8;

/** Counts every I/O that reaches `device`; with no device, a sized one that reads zeros and keeps nothing. */
function counted(size: number, device?: BlockDevice): BlockDevice & { ios: number } {
  const counter = {
    ios: 0,
    size,
    sectorSize: SECTOR,
    async read(offset: number, length: number) {
      counter.ios++;
      return device === undefined ? new Uint8Array(length) : device.read(offset, length);
    },
    async write(offset: number, data: Uint8Array, options?: WriteOptions) {
      counter.ios++;
      if (device !== undefined) await device.write(offset, data, options);
    },
    async flush() {
      counter.ios++;
      if (device !== undefined) await device.flush();
    },
  };
  return counter;
}

interface Rig {
  readonly engine: RestoreEngine;
  readonly extents: number;
  ios(): number;
}

/** A protected restore just started on `extents` extents, all differing. */
async function restoring(extents: number): Promise<Rig> {
  const geometry: Geometry = { sectorSize: SECTOR, extentSectors: EXTENT_SECTORS, volumeSize: extents * EXTENT_SECTORS * SECTOR };
  const metaSize = referenceEngine.metadataSize(geometry);
  const devices = { source: counted(geometry.volumeSize), clone: counted(geometry.volumeSize), meta: counted(metaSize, MemoryDevice.zeroed(metaSize, SECTOR, 'meta')) };
  await referenceEngine.format(devices, geometry, 'all');
  const engine = await referenceEngine.open(devices, geometry);
  await engine.startRestore({ protect: true });
  return { engine, extents, ios: () => devices.source.ios + devices.clone.ios + devices.meta.ios };
}

/** One-sector host writes, each to an extent not written before, in a seeded order. */
async function hostWrites(rig: Rig, writes: number, seed: string): Promise<{ iosPerWrite: number; usPerWrite: number }> {
  const rng = seededRng(seed);
  const targets = new Set<number>();
  while (targets.size < writes) targets.add(rng.below(rig.extents));
  const data = new Uint8Array(SECTOR);
  const before = rig.ios();
  const started = performance.now();
  for (const e of targets) await rig.engine.writeSource(e * EXTENT_SECTORS * SECTOR, data);
  const ms = performance.now() - started;
  return { iosPerWrite: (rig.ios() - before) / writes, usPerWrite: (ms * 1000) / writes };
}

async function iosPerCopiedExtent(rig: Rig, steps: number): Promise<number> {
  const before = rig.ios();
  for (let i = 0; i < steps; i++) await rig.engine.step();
  return (rig.ios() - before) / steps;
}

export interface MapCommitBench {
  iosPerWrite1k: number;
  iosPerWrite1M: number;
  usPerWrite1k: number;
  usPerWrite1M: number;
  /** usPerWrite1M / usPerWrite1k (target: 1.2 or less). */
  usRatio1MOver1k: number;
  iosPerCopiedExtent1k: number;
  iosPerCopiedExtent1M: number;
}

export async function benchMapCommit(writes = 500, rounds = 7): Promise<MapCommitBench> {
  const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sizes = { k: 1000, m: 1_000_000 } as const;
  await hostWrites(await restoring(sizes.k), writes, 'warm-up');
  await hostWrites(await restoring(sizes.m), writes, 'warm-up');
  const runs: Record<keyof typeof sizes, { iosPerWrite: number; usPerWrite: number }[]> = { k: [], m: [] };
  // The two sizes alternate round by round, so a slow moment of the machine hits both alike.
  for (let round = 0; round < rounds; round++) {
    for (const size of ['k', 'm'] as const) runs[size].push(await hostWrites(await restoring(sizes[size]), writes, `round-${round}`));
  }
  const us = (size: 'k' | 'm') => median(runs[size].map((r) => r.usPerWrite));
  return {
    iosPerWrite1k: median(runs.k.map((r) => r.iosPerWrite)),
    iosPerWrite1M: median(runs.m.map((r) => r.iosPerWrite)),
    usPerWrite1k: us('k'),
    usPerWrite1M: us('m'),
    usRatio1MOver1k: us('m') / us('k'),
    iosPerCopiedExtent1k: await iosPerCopiedExtent(await restoring(sizes.k), 100),
    iosPerCopiedExtent1M: await iosPerCopiedExtent(await restoring(sizes.m), 100),
  };
}
