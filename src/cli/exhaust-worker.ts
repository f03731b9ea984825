/**
 * A worker thread of `prestore exhaust --workers N`: loads the engine itself, runs its shard of
 * every scenario, and posts each result back. Crash shrinking is left to the main thread, which
 * shrinks the merged list as one run would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exhaust } from '../harness/exhaust.js';
import type { WorkerJob } from './exhaust-workers.js';
import { resolveEngine } from './engine-arg.js';
import { realSeams } from './seams.js';

const job = workerData as WorkerJob;
const { factory } = await resolveEngine(job.engineFlags, realSeams.engineModules, job.cwd);
for (const [i, scenario] of job.scenarios.entries()) {
  const started = performance.now();
  const result = await exhaust(factory, scenario, { ...job.options, shard: job.shard, crashShrinkAttempts: 0 });
  parentPort!.postMessage({ scenario: i, result, elapsedMs: performance.now() - started });
}
