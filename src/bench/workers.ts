/**
 * `exhaust --workers 2` over one thread, side by side on the same runs, against the reference
 * engine: `speedup2` on every bundled scenario at depth 2 in torn mode (one round), and
 * `speedup2Depth1` at depth 1 in all cache modes (median of 3, alternating). Two workers each
 * redo a scenario's recorded run and start cold, so 2 is the ceiling, a short run shows less, and
 * so does a busy machine. Both sides must count the same distinct crash states.
 */
import { availableParallelism } from 'node:os';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exhaustInWorkers } from '../cli/campaign-workers.js';
import { referenceEngine } from '../engine/reference/index.js';
import type { CampaignOptions } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir, loadScenario } from '../harness/scenario-file.js';

const ROUNDS = 3;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Figures = { scenarios: number; distinctCrashStates: number; cpus: number; oneWorkerMs: number; twoWorkersMs: number; speedup2: number };

export async function benchWorkers(): Promise<Figures & { oneWorkerDepth1Ms: number; twoWorkersDepth1Ms: number; speedup2Depth1: number }> {
  const dir = bundledScenariosDir();
  const scenarios = await Promise.all(readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).map((f) => loadScenario(join(dir, f), f)));
  // The headline is the long run (depth 2, torn: tens of seconds), where the fixed cost each worker
  // repeats (start-up, the recorded run) weighs little; depth 1 is a few seconds, shown beside it.
  const depth2 = await sideBySide(scenarios, { seed: 'bench', depth: 2, modes: ['torn'] }, 1);
  const depth1 = await sideBySide(scenarios, { seed: 'bench', depth: 1 }, ROUNDS);
  return { ...depth2, oneWorkerDepth1Ms: depth1.oneWorkerMs, twoWorkersDepth1Ms: depth1.twoWorkersMs, speedup2Depth1: depth1.speedup2 };
}

async function sideBySide(scenarios: readonly Scenario[], options: CampaignOptions, rounds: number): Promise<Figures> {
  const one: number[] = [];
  const two: number[] = [];
  let distinctCrashStates = 0;
  for (let round = 0; round < rounds; round++) {
    let started = performance.now();
    distinctCrashStates = 0;
    for (const s of scenarios) distinctCrashStates += (await exhaust(referenceEngine, s, options)).distinctCrashStates;
    one.push(performance.now() - started);
    started = performance.now();
    const merged = await exhaustInWorkers(referenceEngine, { engineFlags: { engine: 'reference' }, cwd: process.cwd(), scenarios, options }, 2, {});
    two.push(performance.now() - started);
    const mergedDistinct = merged.reduce((t, m) => t + (m.result.distinctCrashStates ?? 0), 0);
    if (mergedDistinct !== distinctCrashStates) throw new Error(`workers bench: 2 workers checked ${mergedDistinct} distinct crash states, one thread ${distinctCrashStates}`);
  }
  const oneWorkerMs = median(one);
  const twoWorkersMs = median(two);
  return { scenarios: scenarios.length, distinctCrashStates, cpus: availableParallelism(), oneWorkerMs, twoWorkersMs, speedup2: oneWorkerMs / twoWorkersMs };
}
