/**
 * A worker thread of `prestore exhaust|explore --workers N`: loads the engine itself and runs its
 * shard, posting each result back. Shrinking is left to the main thread, which shrinks the merged
 * result as one run would.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exhaust } from '../harness/exhaust.js';
import { scanShard } from '../harness/explore.js';
import type { WorkerJob } from './campaign-workers.js';
import { resolveEngine } from './engine-arg.js';
import { realSeams } from './seams.js';

const job = workerData as WorkerJob;
const { factory } = await resolveEngine(job.engineFlags, realSeams.engineModules, job.cwd);
const options = { ...job.options, shard: job.shard, crashShrinkAttempts: 0 };
if (job.kind === 'explore') parentPort!.postMessage({ index: 0, value: await scanShard(factory, options), elapsedMs: 0 });
for (const [index, scenario] of (job.kind === 'exhaust' ? job.scenarios : []).entries()) {
  const started = performance.now();
  const value = await exhaust(factory, scenario, options);
  parentPort!.postMessage({ index, value, elapsedMs: performance.now() - started });
}
