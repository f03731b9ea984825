/**
 * The background copier on the reference engine over memory devices, with a fake clock: it runs
 * the restore to the end, keeps to its rate, yields to host I/O (but never for longer than its
 * bound), stops when asked, and reports a failed step without harming the restore.
 */
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../devices/block-device.js';
import { MemoryDevice } from '../devices/memory-device.js';
import type { Geometry, RestoreEngine } from '../engine/contract.js';
import { createReferenceEngine } from '../engine/reference/index.js';
import { Copier, type CopierOptions } from './copier.js';
import { HostActivity } from './host-activity.js';

const SECTOR = 512;
const EXTENT = 4 * SECTOR;
const EXTENTS = 16;
const GEOMETRY: Geometry = { sectorSize: SECTOR, extentSectors: 4, volumeSize: EXTENTS * EXTENT };
/** Two extents per step. */
const factory = createReferenceEngine({ copyBatch: 2 });

/** A clock that only moves when the copier sleeps (or the test says so). */
function fakeClock() {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number, signal: AbortSignal) => {
      clock.sleeps.push(ms);
      if (!signal.aborted) clock.t += ms;
    },
  };
  return clock;
}

async function restoring(source?: (d: MemoryDevice) => BlockDevice): Promise<{ engine: RestoreEngine; clone: MemoryDevice; sourceBytes: Uint8Array }> {
  const src = new MemoryDevice(new Uint8Array(GEOMETRY.volumeSize).fill(1), SECTOR, 'source');
  const clone = new MemoryDevice(Uint8Array.from({ length: GEOMETRY.volumeSize }, (_, i) => (i >> 9) & 0xff), SECTOR, 'clone');
  const meta = MemoryDevice.zeroed(factory.metadataSize(GEOMETRY), SECTOR, 'meta');
  await factory.format({ source: src, clone, meta }, GEOMETRY, 'all');
  const engine = await factory.open({ source: source === undefined ? src : source(src), clone, meta }, GEOMETRY);
  await engine.startRestore({ protect: true });
  return { engine, clone, sourceBytes: src.bytes };
}

function options(clock: ReturnType<typeof fakeClock>, more: Partial<CopierOptions> = {}): CopierOptions {
  return { stepBytes: 2 * EXTENT, quietMs: 20, maxYieldMs: 1000, now: clock.now, sleep: clock.sleep, ...more };
}

describe('the background copier', () => {
  it('runs the restore to the end, one engine step at a time, without sleeping when nothing limits it', async () => {
    const { engine, clone, sourceBytes } = await restoring();
    const clock = fakeClock();
    const remaining: number[] = [];
    const end = await new Copier(engine, new HostActivity(clock.now), options(clock)).run((r) => remaining.push(r.remaining));
    expect(end).toEqual({ kind: 'complete' });
    expect(remaining).toEqual([14, 12, 10, 8, 6, 4, 2, 0]);
    expect(clock.sleeps).toEqual([]);
    expect(await engine.status()).toEqual({ state: 'fractured' });
    expect(sourceBytes).toEqual(clone.bytes);
  });

  it('keeps to its rate: a step of B bytes every B / rate seconds', async () => {
    const { engine } = await restoring();
    const clock = fakeClock();
    const stepsAt: number[] = [];
    // 2 extents (4 KiB) a step at 1 KiB/s: one step every 4 s.
    await new Copier(engine, new HostActivity(clock.now), options(clock, { rate: 1024 })).run(() => stepsAt.push(clock.t));
    expect(stepsAt).toEqual([0, 4000, 8000, 12000, 16000, 20000, 24000, 28000]);
  });

  it('waits for the host to be quiet, but copies at least one step per maxYieldMs under endless host I/O', async () => {
    const { engine } = await restoring();
    const clock = fakeClock();
    const activity = new HostActivity(clock.now);
    // A host request that never ends: the host is busy for good.
    void activity.track(() => new Promise(() => undefined));
    const stepsAt: number[] = [];
    const end = await new Copier(engine, activity, options(clock)).run(() => stepsAt.push(clock.t));
    expect(end.kind).toBe('complete');
    expect(stepsAt).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]);
  });

  it('after a host request, waits out the rest of the quiet period only', async () => {
    const { engine } = await restoring();
    const clock = fakeClock();
    const activity = new HostActivity(clock.now);
    clock.t = 100;
    await activity.track(async () => undefined);
    clock.t = 105;
    const stepsAt: number[] = [];
    await new Copier(engine, activity, options(clock)).run(() => stepsAt.push(clock.t));
    // Quiet since 100: the first step waits until 120; later ones need no wait.
    expect(stepsAt[0]).toBe(120);
    expect(clock.sleeps).toEqual([15]);
  });

  it('stops when asked, even in the middle of a long sleep, and the restore goes on later', async () => {
    const { engine } = await restoring();
    const clock = fakeClock();
    const sleeps: number[] = [];
    let wake: (() => void) | undefined;
    const copier = new Copier(engine, new HostActivity(clock.now), {
      ...options(clock, { rate: 1 }),
      // At 1 byte/s the wait after the first step is 4096 s: a sleep only the stop ends.
      sleep: (ms, signal) => {
        sleeps.push(ms);
        return new Promise((done) => {
          wake = done;
          signal.addEventListener('abort', () => done(), { once: true });
        });
      },
    });
    let steps = 0;
    const run = copier.run(() => steps++);
    while (wake === undefined) await new Promise((done) => setImmediate(done));
    copier.stop();
    expect(await run).toEqual({ kind: 'stopped' });
    expect(sleeps).toEqual([4096_000]);
    expect(steps).toBe(1);
    expect(await engine.status()).toMatchObject({ state: 'restoring', extentsRemaining: 14 });
    const again = await new Copier(engine, new HostActivity(clock.now), options(clock)).run(() => undefined);
    expect(again.kind).toBe('complete');
  });

  it('reports a failed step, and the engine finishes the restore on the next run', async () => {
    let failures = 1;
    const { engine, clone, sourceBytes } = await restoring((src) => ({
      size: src.size,
      sectorSize: src.sectorSize,
      read: (o, l) => src.read(o, l),
      write: (o, d, opts) => src.write(o, d, opts),
      flush: () => (failures-- > 0 ? Promise.reject(new Error('EIO: flush failed')) : src.flush()),
    }));
    const clock = fakeClock();
    const end = await new Copier(engine, new HostActivity(clock.now), options(clock)).run(() => undefined);
    expect(end.kind).toBe('failed');
    expect(String((end as { error: unknown }).error)).toMatch(/EIO: flush failed/);
    expect(await engine.status()).toMatchObject({ state: 'restoring', extentsRemaining: EXTENTS });
    expect((await new Copier(engine, new HostActivity(clock.now), options(clock)).run(() => undefined)).kind).toBe('complete');
    expect(sourceBytes).toEqual(clone.bytes);
  });
});
