/**
 * What the stdio protocol costs, with the reference engine on both sides of it:
 *
 * - per I/O: the same crash-free cases (protected restores with 200 and with 800 host writes) in
 *   process, served by a process per instance (engines that do not declare `stateless`, the old
 *   way), by one persistent process speaking JSON lines (before the binary framing), and by one
 *   persistent process speaking binary frames (after); the marginal cost, (time for 800 - time
 *   for 200) / (I/O points for 800 - for 200), so process starts are left out; `...StartMs` is the
 *   fixed cost per case beyond the in-process one (starting processes, handshakes);
 * - per crash state: `exhaust` of a bundled scenario in process and with a persistent process
 *   (audit at its default rate), JSON lines and binary frames one crash state at a time (before
 *   engine lanes), and binary frames with the default lanes (after: `lanes...`), crash states per
 *   second and the ratios. (A process per instance starts one per crash state: `perProcessStartMs` each.)
 *
 * Side by side, alternating rounds, medians; each figure also as the range of its rounds (`...Range`),
 * since the machine is shared.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { referenceEngine } from '../engine/reference/index.js';
import type { EngineFactory } from '../engine/contract.js';
import type { Case } from '../harness/case.js';
import { exhaust } from '../harness/exhaust.js';
import { restoreWithWrites } from './harness.js';
import { runCase } from '../harness/run-case.js';
import { bundledScenariosDir, loadScenario } from '../harness/scenario-file.js';
import { endEngineProcesses, endRestingProcesses, stdioEngine } from '../protocol/stdio-engine.js';

const SERVED = `node ${fileURLToPath(new URL('../protocol/serve-reference.js', import.meta.url))}`;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: readonly number[]) => `${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)}`;

const SIDES = ['local', 'perProcess', 'json', 'binary'] as const;
type Side = (typeof SIDES)[number];

const engines = (): Record<Side | 'lanes', EngineFactory> => ({
  local: referenceEngine,
  perProcess: stdioEngine(SERVED, { persistent: false, framing: 'json', lanes: 1 }),
  json: stdioEngine(SERVED, { framing: 'json', lanes: 1 }),
  binary: stdioEngine(SERVED, { lanes: 1 }),
  lanes: stdioEngine(SERVED),
});

async function perIo(rounds: number) {
  const geometry = { sectorSize: 512, extentSectors: 4, volumeSize: 64 * 512 };
  const cases = [200, 800].map((writes): Case => ({ geometry, initial: { differ: 'all', delta: 'exact' }, workload: restoreWithWrites(writes, 64), crashes: [], eio: [] }));
  const factories = engines();
  const times = Object.fromEntries(SIDES.map((s) => [s, [[], []]])) as unknown as Record<Side, number[][]>;
  const points = [0, 0];
  for (let r = 0; r < rounds; r++) {
    for (const side of SIDES) {
      for (const [i, c] of cases.entries()) {
        const started = performance.now();
        points[i] = (await runCase(factories[side], c, { seed: 'bench' })).ioPoints;
        times[side][i]!.push(performance.now() - started);
      }
    }
  }
  // Per round too, for the ranges: round r's marginal cost from its own two cases.
  const roundUs = (side: Side) => times[side][1]!.map((t, r) => ((t - times[side][0]![r]!) * 1000) / (points[1]! - points[0]!));
  const usPerIo = (side: Side) => ((median(times[side][1]!) - median(times[side][0]!)) * 1000) / (points[1]! - points[0]!);
  const fixed = (side: Side) => median(times[side][0]!) - (usPerIo(side) * points[0]!) / 1000;
  const overhead = (side: Side) => usPerIo(side) - usPerIo('local');
  const overheadRange = (side: Side) => range(roundUs(side).map((us, r) => us - roundUs('local')[r]!));
  return {
    inProcessUsPerIo: usPerIo('local'),
    perProcessOverheadUsPerIo: overhead('perProcess'),
    jsonOverheadUsPerIo: overhead('json'),
    jsonOverheadUsPerIoRange: overheadRange('json'),
    binaryOverheadUsPerIo: overhead('binary'),
    binaryOverheadUsPerIoRange: overheadRange('binary'),
    perProcessStartMs: fixed('perProcess') - fixed('local'),
    jsonStartMs: fixed('json') - fixed('local'),
    binaryStartMs: fixed('binary') - fixed('local'),
  };
}

async function perCrashState(name: string, rounds: number) {
  const scenario = await loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
  const rate = async (engine: EngineFactory) => {
    const started = performance.now();
    const result = await exhaust(engine, scenario, { seed: 'bench' });
    return result.crashStates / ((performance.now() - started) / 1000);
  };
  const rates: Record<'local' | 'json' | 'binary' | 'lanes', number[]> = { local: [], json: [], binary: [], lanes: [] };
  for (let r = 0; r < rounds; r++) {
    const factories = engines();
    for (const side of ['local', 'json', 'binary', 'lanes'] as const) rates[side].push(await rate(factories[side]));
    endRestingProcesses();
  }
  const ratios = (side: 'json' | 'binary' | 'lanes') => rates.local.map((l, r) => l / rates[side][r]!);
  return {
    exhaustScenario: name,
    inProcessCrashStatesPerSec: median(rates.local),
    jsonCrashStatesPerSec: median(rates.json),
    binaryCrashStatesPerSec: median(rates.binary),
    /** How many times slower out of process (persistent, audited) than in process, per crash state. */
    jsonCrashStateRatio: median(ratios('json')),
    binaryCrashStateRatio: median(ratios('binary')),
    binaryCrashStateRatioRange: range(ratios('binary')),
    lanesCrashStatesPerSec: median(rates.lanes),
    lanesCrashStateRatio: median(ratios('lanes')),
    lanesCrashStateRatioRange: range(ratios('lanes')),
  };
}

export async function benchProtocol(rounds = 5) {
  try {
    return { ...(await perIo(rounds)), ...(await perCrashState('protected-restore', 3)) };
  } finally {
    endEngineProcesses();
  }
}
