/**
 * A worker thread of `prestore exhaust|explore --workers N`: loads the engine itself and runs its
 * shard, posting each result back, then `done`. Shrinking is left to the main thread, which
 * shrinks the merged result as one run would. Its engine calls are published on the board the
 * main thread watches (./watchdog.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { exhaust } from '../harness/exhaust.js';
import { endEngineProcesses } from '../protocol/stdio-engine.js';
import { scanShard } from '../harness/explore.js';
import { threadError, type WorkerJob, type WorkerMessage } from './campaign-workers.js';
import { resolveEngine } from './engine-arg.js';
import { realSeams } from './seams.js';
import { markEnding, threadGuard } from './watchdog.js';

markEnding();
const job = workerData as WorkerJob;
const post = (message: WorkerMessage) => parentPort!.postMessage(message);
try {
  const engine = await resolveEngine(job.engineFlags, realSeams.engineModules, job.cwd);
  const options = { ...job.options, ...threadGuard(engine.callTimeoutMs), shard: job.shard, crashShrinkAttempts: 0 };
  if (job.kind === 'explore') post({ kind: 'value', index: 0, value: await scanShard(engine.factory, options), elapsedMs: 0 });
  for (const [index, scenario] of (job.kind === 'exhaust' ? job.scenarios : []).entries()) {
    const started = performance.now();
    const value = await exhaust(engine.factory, scenario, options);
    post({ kind: 'value', index, value, elapsedMs: performance.now() - started });
  }
  // Engine processes (--engine-cmd) are this thread's: ended here, since prestore's own exit
  // ends only the main thread's.
  endEngineProcesses();
  post({ kind: 'done' });
} catch (e) {
  endEngineProcesses();
  post({ kind: 'failed', error: threadError(e) });
}
