/**
 * What the harness costs and how it scales, each figure measured side by side in one run:
 * - crashStatesPerSec: `exhaust` over every bundled scenario at depth 1, all cache modes;
 * - overheadRatio: one crash-free case through the fault layer and the oracle, over the same
 *   host operations issued straight to the reference engine on bare memory devices;
 * - guardOverheadRatio: that case with the engine behind the guard every campaign puts it behind
 *   (answers checked, each call under a timer), over the same case with the bare engine.
 *   Both ratios are of process CPU time over rounds of CASES_PER_ROUND cases, sides alternating:
 *   the bare case takes about a millisecond, less than one slice of a busy machine's scheduler,
 *   and the side that ran second paid for the garbage of the first;
 * - exhaustGrowth10x: exhaust time for a workload with ten times the I/O points over the
 *   original, resuming each crash state from the recorded run; and the same growth when every
 *   crash state re-runs its prefix (`exhaustGrowth10xNaive`), for comparison.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '../devices/memory-device.js';
import type { Geometry, RestoreEngine } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import type { Case, HostOp, Scenario } from '../harness/case.js';
import { guardEngine } from '../harness/engine-guard.js';
import { exhaust } from '../harness/exhaust.js';
import { runCase } from '../harness/run-case.js';
import { bundledScenariosDir, loadScenario } from '../harness/scenario-file.js';
import { hostWriteData, initialImages } from '../harness/sector-data.js';

/** Eight extents: the copy to the end after a crash stays short, so the workload's length shows. */
const GEOMETRY: Geometry = { sectorSize: 512, extentSectors: 2, volumeSize: 8 * 2 * 512 };

/** A protected restore with `writes` one-sector host writes spread over `sectors`, each flushed. */
export function restoreWithWrites(writes: number, sectors: number): HostOp[] {
  const ops: HostOp[] = [{ op: 'startRestore', protect: true }];
  for (let i = 0; i < writes; i++) ops.push({ op: 'write', volume: 'source', sector: (i * 5) % sectors, sectors: 1, pattern: i % 256 }, { op: 'flush', volume: 'source' });
  return ops;
}

function scenario(name: string, workload: HostOp[]): Scenario {
  return { name, description: name, geometry: GEOMETRY, initial: { differ: 'all', delta: 'exact' }, workload, modes: ['drop'], depth: 1 };
}

/** The same operations the checker would issue, straight to the engine, then the copier to the end. */
async function bare(ops: readonly HostOp[]): Promise<void> {
  const { source, clone } = initialImages(GEOMETRY, { differ: 'all', delta: 'exact' }, GEOMETRY.volumeSize / (GEOMETRY.extentSectors * GEOMETRY.sectorSize));
  const devices = { source: new MemoryDevice(source), clone: new MemoryDevice(clone), meta: MemoryDevice.zeroed(referenceEngine.metadataSize(GEOMETRY)) };
  await referenceEngine.format(devices, GEOMETRY, 'all');
  const engine: RestoreEngine = await referenceEngine.open(devices, GEOMETRY);
  for (const op of ops) {
    if (op.op === 'startRestore') await engine.startRestore({ protect: op.protect });
    else if (op.op === 'write') await engine.writeSource(op.sector * 512, hostWriteData(op.pattern, op.sector, op.sectors, 512));
    else if (op.op === 'flush') await engine.flushSource();
    else if (op.op === 'step') await engine.step();
  }
  while (!(await engine.step()).done);
  await engine.flushSource();
}

/** Cases per round of the overhead figures: enough that a round outlasts a scheduler slice and a collection. */
const CASES_PER_ROUND = 10;

/** CPU milliseconds of this process (every thread: collection and compilation are costs too) per call of `fn`, over `CASES_PER_ROUND` calls. */
async function cpuPerCase(fn: () => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < CASES_PER_ROUND; i++) await fn();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / CASES_PER_ROUND;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await fn();
  return [value, performance.now() - started];
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface HarnessBench {
  crashStatesPerSec: number;
  overheadRatio: number;
  guardOverheadRatio: number;
  exhaustGrowth10x: number;
  exhaustGrowth10xNaive: number;
  ioPoints1x: number;
  ioPoints10x: number;
  distinctStates1x: number;
  distinctStates10x: number;
  msPerDistinctState1x: number;
  msPerDistinctState10x: number;
}

export async function benchHarness(rounds = 5): Promise<HarnessBench> {
  const dir = bundledScenariosDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
  const bundled = await Promise.all(files.map((f) => loadScenario(join(dir, f), f)));
  const [states, exhaustMs] = await timed(async () => {
    let n = 0;
    for (const s of bundled) n += (await exhaust(referenceEngine, s, { seed: 'bench', depth: 1 })).crashStates;
    return n;
  });

  const ops = restoreWithWrites(200, 16);
  const c: Case = { geometry: GEOMETRY, initial: { differ: 'all', delta: 'exact' }, workload: ops, crashes: [], eio: [] };
  const checked: number[] = [];
  const plain: number[] = [];
  const guarded: number[] = [];
  const sides = [
    async () => checked.push(await cpuPerCase(() => runCase(referenceEngine, c, { seed: 'bench' }))),
    async () => plain.push(await cpuPerCase(() => bare(ops))),
    async () => guarded.push(await cpuPerCase(() => runCase(guardEngine(referenceEngine), c, { seed: 'bench' }))),
  ];
  // A warm-up round, then each side first, second and last in turn: none always pays another's garbage.
  for (const side of sides) await side();
  checked.length = plain.length = guarded.length = 0;
  for (let r = 0; r < rounds; r++) for (let i = 0; i < sides.length; i++) await sides[(r + i) % sides.length]!();

  // Each host write and its flush add two I/O points to a fixed 46 (start, the copy, the end):
  // 12 writes give 70 points, 327 give 700.
  const small = scenario('bench-1x', restoreWithWrites(12, 16));
  const large = scenario('bench-10x', restoreWithWrites(327, 16));
  const perState: Record<string, number> = {};
  const time = async (s: Scenario, rerunPrefix: boolean) => {
    const [result, ms] = await timed(() => exhaust(referenceEngine, s, { seed: 'bench', rerunPrefix }));
    if (!rerunPrefix) perState[s.name] = ms / result.distinctCrashStates;
    perState[`${s.name}/distinct`] = result.distinctCrashStates;
    return ms;
  };
  const points = async (s: Scenario) => (await runCase(referenceEngine, { geometry: GEOMETRY, initial: s.initial, workload: s.workload, crashes: [], eio: [] }, { seed: 'bench' })).armedEnd;
  await time(small, false);
  const growth = { linear: [] as number[], naive: [] as number[] };
  for (let r = 0; r < Math.max(1, Math.floor(rounds / 2)); r++) {
    growth.linear.push((await time(large, false)) / (await time(small, false)));
    growth.naive.push((await time(large, true)) / (await time(small, true)));
  }
  return {
    crashStatesPerSec: Math.round(states / (exhaustMs / 1000)),
    overheadRatio: median(checked) / median(plain),
    guardOverheadRatio: median(guarded) / median(checked),
    exhaustGrowth10x: median(growth.linear),
    exhaustGrowth10xNaive: median(growth.naive),
    ioPoints1x: await points(small),
    ioPoints10x: await points(large),
    // Deduplication removes more of the short workload's crash states: the growth in time
    // follows the distinct states, each checked at a cost that does not grow with the prefix.
    distinctStates1x: perState['bench-1x/distinct']!,
    distinctStates10x: perState['bench-10x/distinct']!,
    msPerDistinctState1x: perState['bench-1x']!,
    msPerDistinctState10x: perState['bench-10x']!,
  };
}
