/**
 * What the fault layer costs: the same stream of 4 KiB writes (a flush every 64) on a bare
 * MemoryDevice and through a FaultLayer over MemoryDevices. The two are measured side by side in
 * one run, alternating round by round after a warm-up, and each side reports its median round, so
 * a slow moment of the machine hits both alike.
 */
import { MemoryDevice } from '../devices/memory-device.js';
import { type BlockDevice } from '../devices/block-device.js';
import { FaultLayer } from '../devices/fault-layer.js';

export interface FaultLayerBench {
  /** Writes per round, on each side. */
  writes: number;
  /** Median wall time of one round on the bare device, in milliseconds. */
  bareMs: number;
  /** Median wall time of one round through the fault layer, in milliseconds. */
  faultMs: number;
  /** faultMs / bareMs. */
  overheadRatio: number;
}

export interface FaultLayerBenchOptions {
  readonly writes?: number;
  /** Measured rounds per side (after one warm-up round each). */
  readonly rounds?: number;
}

const WRITE_SIZE = 4096;
const FLUSH_EVERY = 64;
/** The source device: 16 MiB, 4096 write slots. */
const DEVICE_SIZE = 16 * 1024 * 1024;

/** Issues the write stream: slot i*7919 mod slots (a fixed scatter over the device), flush every 64. */
async function writeStream(dev: BlockDevice, writes: number, buffers: readonly Uint8Array[]): Promise<void> {
  const slots = dev.size / WRITE_SIZE;
  for (let i = 0; i < writes; i++) {
    await dev.write(((i * 7919) % slots) * WRITE_SIZE, buffers[i % buffers.length]!);
    if ((i + 1) % FLUSH_EVERY === 0) await dev.flush();
  }
  if (writes % FLUSH_EVERY !== 0) await dev.flush();
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

export async function benchFaultLayer(options: FaultLayerBenchOptions = {}): Promise<FaultLayerBench> {
  const writes = options.writes ?? 100_000;
  const rounds = options.rounds ?? 5;
  const buffers = Array.from({ length: 16 }, (_, k) => new Uint8Array(WRITE_SIZE).fill(k + 1));
  const bare = MemoryDevice.zeroed(DEVICE_SIZE, 512, 'bare');
  const backends = {
    source: MemoryDevice.zeroed(DEVICE_SIZE, 512, 'source'),
    clone: MemoryDevice.zeroed(1024 * 1024, 512, 'clone'),
    meta: MemoryDevice.zeroed(1024 * 1024, 512, 'meta'),
  };
  // A fresh layer per round (empty trace), over the same backends: only the layer's work differs.
  const bareRound = () => timed(() => writeStream(bare, writes, buffers));
  const faultRound = () => timed(() => writeStream(new FaultLayer(backends, {}, 'bench').devices.source, writes, buffers));

  await bareRound();
  await faultRound();
  const bareTimes: number[] = [];
  const faultTimes: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so neither always runs on the other's garbage.
    if (r % 2 === 0) {
      bareTimes.push(await bareRound());
      faultTimes.push(await faultRound());
    } else {
      faultTimes.push(await faultRound());
      bareTimes.push(await bareRound());
    }
  }
  const bareMs = median(bareTimes);
  const faultMs = median(faultTimes);
  return { writes, bareMs, faultMs, overheadRatio: faultMs / bareMs };
}
