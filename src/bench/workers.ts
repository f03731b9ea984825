/**
 * `exhaust --workers 2` over one thread, side by side on the same run: every bundled scenario at
 * depth 2 in torn mode, against the reference engine.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exhaustInWorkers } from '../cli/campaign-workers.js';
import { referenceEngine } from '../engine/reference/index.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir, loadScenario } from '../harness/scenario-file.js';

export async function benchWorkers(): Promise<{ oneWorkerMs: number; twoWorkersMs: number; speedup2: number }> {
  const dir = bundledScenariosDir();
  const scenarios = await Promise.all(readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).map((f) => loadScenario(join(dir, f), f)));
  const options = { seed: 'bench', depth: 2 as const, modes: ['torn' as const] };
  let started = performance.now();
  for (const s of scenarios) await exhaust(referenceEngine, s, options);
  const oneWorkerMs = performance.now() - started;
  started = performance.now();
  await exhaustInWorkers(referenceEngine, { engineFlags: { engine: 'reference' }, cwd: process.cwd(), scenarios, options }, 2);
  const twoWorkersMs = performance.now() - started;
  return { oneWorkerMs, twoWorkersMs, speedup2: oneWorkerMs / twoWorkersMs };
}
