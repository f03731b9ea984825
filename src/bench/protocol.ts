/**
 * What the stdio protocol costs, with the reference engine on both sides of it:
 *
 * - per I/O: the same crash-free cases (protected restores with 200 and with 800 host writes) in
 *   process, served by a process per instance (engines that do not declare `stateless`, the old
 *   way), and served by one persistent process; the marginal cost, (time for 800 - time for 200) /
 *   (I/O points for 800 - for 200), so process starts are left out; `processStartMs` is the fixed
 *   cost per case beyond the in-process one (starting processes, handshakes);
 * - per crash state: `exhaust` of a bundled scenario in process and with a persistent process
 *   (audit at its default rate), crash states per second and the ratio. (A process per instance
 *   starts one per crash state: `perProcessStartMs` each.)
 *
 * Side by side, alternating rounds, medians.
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
import { endRestingProcesses, stdioEngine } from '../protocol/stdio-engine.js';

const SERVED = `node ${fileURLToPath(new URL('../protocol/serve-reference.js', import.meta.url))}`;

export interface ProtocolBench {
  inProcessUsPerIo: number;
  /** A process per format and open: before persistent processes, and engines that keep state. */
  perProcessUsPerIo: number;
  persistentUsPerIo: number;
  perProcessOverheadUsPerIo: number;
  persistentOverheadUsPerIo: number;
  perProcessStartMs: number;
  persistentStartMs: number;
  exhaustScenario: string;
  inProcessCrashStatesPerSec: number;
  persistentCrashStatesPerSec: number;
  /** How many times slower out of process (persistent, audited) than in process, per crash state. */
  crashStateRatio: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type Side = 'local' | 'perProcess' | 'persistent';

async function perIo(rounds: number) {
  const geometry = { sectorSize: 512, extentSectors: 4, volumeSize: 64 * 512 };
  const cases = [200, 800].map((writes): Case => ({ geometry, initial: { differ: 'all', delta: 'exact' }, workload: restoreWithWrites(writes, 64), crashes: [], eio: [] }));
  const engines: Record<Side, EngineFactory> = { local: referenceEngine, perProcess: stdioEngine(SERVED, { persistent: false }), persistent: stdioEngine(SERVED) };
  const times: Record<Side, number[][]> = { local: [[], []], perProcess: [[], []], persistent: [[], []] };
  const points = [0, 0];
  for (let r = 0; r < rounds; r++) {
    for (const side of ['local', 'perProcess', 'persistent'] as const) {
      for (const [i, c] of cases.entries()) {
        const started = performance.now();
        points[i] = (await runCase(engines[side], c, { seed: 'bench' })).ioPoints;
        times[side][i]!.push(performance.now() - started);
      }
    }
  }
  const usPerIo = (side: Side) => ((median(times[side][1]!) - median(times[side][0]!)) * 1000) / (points[1]! - points[0]!);
  const fixed = (side: Side) => median(times[side][0]!) - (usPerIo(side) * points[0]!) / 1000;
  return {
    inProcessUsPerIo: usPerIo('local'),
    perProcessUsPerIo: usPerIo('perProcess'),
    persistentUsPerIo: usPerIo('persistent'),
    perProcessOverheadUsPerIo: usPerIo('perProcess') - usPerIo('local'),
    persistentOverheadUsPerIo: usPerIo('persistent') - usPerIo('local'),
    perProcessStartMs: fixed('perProcess') - fixed('local'),
    persistentStartMs: fixed('persistent') - fixed('local'),
  };
}

async function perCrashState(name: string) {
  const scenario = await loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
  const rate = async (engine: EngineFactory) => {
    const started = performance.now();
    const result = await exhaust(engine, scenario, { seed: 'bench' });
    return result.crashStates / ((performance.now() - started) / 1000);
  };
  const local = [];
  const persistent = [];
  for (let r = 0; r < 3; r++) {
    local.push(await rate(referenceEngine));
    persistent.push(await rate(stdioEngine(SERVED)));
  }
  return { exhaustScenario: name, inProcessCrashStatesPerSec: median(local), persistentCrashStatesPerSec: median(persistent), crashStateRatio: median(local) / median(persistent) };
}

export async function benchProtocol(rounds = 5): Promise<ProtocolBench> {
  try {
    return { ...(await perIo(rounds)), ...(await perCrashState('protected-restore')) };
  } finally {
    endRestingProcesses();
  }
}
