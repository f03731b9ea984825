/**
 * `--workers N`: a campaign split among N worker threads as N shards (../harness/shard.ts) and
 * merged back in the main thread into exactly the result one thread gives: the same counts, the
 * same violations in the same order, shrunk alike. The threads are watched (./watchdog.ts): one
 * whose engine ends it or blocks it past the call timeout ends the run, exit 2, naming the call.
 */
import { Worker } from 'node:worker_threads';
import type { EngineFactory } from '../engine/contract.js';
import { EngineMisbehaviourError, InputError, UsageError } from '../errors.js';
import type { CampaignOptions, CampaignResult, CoverageRow } from '../harness/campaign.js';
import { countByRule, mergeCoverageRows } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import { guardEngine, type GuardOptions } from '../harness/engine-guard.js';
import { inCrashOrder } from '../harness/exhaust.js';
import { mergeScans, type ShardScan } from '../harness/explore.js';
import type { Shard } from '../harness/shard.js';
import { shrinkFirstOfEachRule } from '../harness/shrink-crash.js';
import { integerFlag } from './args.js';
import type { EngineFlags } from './engine-arg.js';
import { CallBoard, endedMessage, hangMessage, uncaughtEngineMessage, watch, type WatchSlot } from './watchdog.js';
import { workerFile } from './worker-file.js';

type JobOptions = Pick<CampaignOptions, 'seed' | 'engineArgs' | 'depth' | 'modes' | 'runs' | 'eio' | 'profile'>;

export type WorkerJob = { readonly engineFlags: EngineFlags; readonly cwd: string; readonly options: JobOptions; readonly shard: Shard; readonly watch: WatchSlot } & (
  | { readonly kind: 'exhaust'; readonly scenarios: readonly Scenario[] }
  | { readonly kind: 'explore' }
);

type Job = WorkerJob extends infer J ? (J extends WorkerJob ? Omit<J, 'shard' | 'watch'> : never) : never;

/** What a worker posts: a result, then `done`; or why it could not go on. */
export type WorkerMessage =
  | { readonly kind: 'value'; readonly index: number; readonly value: unknown; readonly elapsedMs: number }
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly error: ThreadError };

/** An error on its way between threads, which keep its message but not its class. */
interface ThreadError {
  readonly type: 'engine' | 'input' | 'usage' | 'internal';
  readonly message: string;
  readonly stack?: string;
}

export function threadError(e: unknown): ThreadError {
  const err = e instanceof Error ? e : new Error(String(e));
  const type = e instanceof EngineMisbehaviourError ? 'engine' : e instanceof InputError ? 'input' : e instanceof UsageError ? 'usage' : 'internal';
  return { type, message: err.message, ...(err.stack === undefined ? {} : { stack: err.stack }) };
}

function fromThread(e: ThreadError): Error {
  if (e.type === 'engine') return new EngineMisbehaviourError(e.message);
  if (e.type === 'input') return new InputError(e.message);
  if (e.type === 'usage') return new UsageError(e.message);
  return Object.assign(new Error(e.message), e.stack === undefined ? {} : { stack: e.stack });
}

/** `--workers N` help, for a command that splits its `units` among the workers. */
export function workersHelp(units: string): string {
  return `  --workers N               split the ${units} among N worker threads (default 1); the
                            result is the same as with one, only sooner (with
                            --engine-cmd, each worker runs engine processes of its own)`;
}

/** `--workers N`, checked against the flags it cannot go with. */
export function workersFlag(values: { readonly workers?: string; readonly shard?: string }): number {
  const workers = integerFlag('workers', values.workers, 1, 1, 64);
  if (workers > 1 && values.shard !== undefined) throw new UsageError('--workers and --shard do not go together: workers already split the run');
  return workers;
}

/**
 * Runs `job` as `workers` shards; values by item, then by shard, and each item's slowest time.
 * The first worker to fail, hang or end unfinished ends them all.
 */
async function inWorkers<T>(job: Job, items: number, workers: number): Promise<{ values: T[][]; elapsedMs: number[] }> {
  const values: T[][] = Array.from({ length: items }, () => []);
  const elapsedMs: number[] = new Array<number>(items).fill(0);
  const board = CallBoard.create(workers);
  const threads = Array.from({ length: workers }, (_, w) => new Worker(workerFile('campaign-worker.js'), { workerData: { ...job, shard: { index: w + 1, count: workers }, watch: board.slot(w) } }));
  let stop = () => {};
  try {
    await new Promise<void>((resolve, reject) => {
      let running = workers;
      const fail = (e: Error) => {
        stop();
        for (const t of threads) void t.terminate();
        reject(e);
      };
      stop = watch(board, threads.map((_, w) => w), (hang) => fail(new EngineMisbehaviourError(hangMessage(hang, ` in worker ${hang.slot + 1}`))));
      threads.forEach((worker, w) => {
        let finished = false;
        worker.on('message', (m: WorkerMessage) => {
          if (m.kind === 'failed') return fail(fromThread(m.error));
          if (m.kind === 'done') {
            finished = true;
            if (--running === 0) resolve();
            return;
          }
          values[m.index]![w] = m.value as T;
          // The shards of one item run side by side: it took as long as the slowest.
          elapsedMs[m.index] = Math.max(elapsedMs[m.index]!, m.elapsedMs);
        });
        worker.on('error', (e) => {
          const engines = uncaughtEngineMessage(e, board.read(w), ` in worker ${w + 1}`);
          fail(engines === undefined ? e : new EngineMisbehaviourError(engines));
        });
        worker.on('exit', (code) => {
          if (!finished) fail(new EngineMisbehaviourError(endedMessage(board.read(w), code, ` in worker ${w + 1}`)));
        });
      });
    });
  } finally {
    stop();
  }
  return { values, elapsedMs };
}

/** The shards' results of one scenario, added up as one run would count them. */
export function mergeShardResults(parts: readonly CampaignResult[]): CampaignResult {
  const first = parts[0]!;
  const coverage: CoverageRow[] = first.coverage.map((row) => parts.slice(1).map((p) => p.coverage.find((r) => r.mode === row.mode)!).reduce(mergeCoverageRows, row));
  const sum = (f: (r: CampaignResult) => number) => parts.reduce((t, r) => t + f(r), 0);
  // Workers do not shrink; what they say of a crash is redone for the merged list's firsts.
  const violations = inCrashOrder(parts.flatMap((p) => p.violations.map(({ crash: _, ...v }) => v)));
  const distinct = first.distinctCrashStates === undefined ? {} : { distinctCrashStates: sum((r) => r.distinctCrashStates!) };
  return { ...first, cases: sum((r) => r.cases), crashStates: sum((r) => r.crashStates), ...distinct, violations, violationsByRule: countByRule(violations), coverage };
}

/** `guard`: the bound and monitor for the engine calls of the shrinking, which runs in this thread. */
export async function exhaustInWorkers(
  engine: EngineFactory,
  job: { readonly engineFlags: EngineFlags; readonly cwd: string; readonly scenarios: readonly Scenario[]; readonly options: JobOptions },
  workers: number,
  guard: GuardOptions,
  options: { readonly crashShrinkAttempts?: number } = {},
): Promise<{ result: CampaignResult; elapsedMs: number }[]> {
  const { values, elapsedMs } = await inWorkers<CampaignResult>({ kind: 'exhaust', ...job }, job.scenarios.length, workers);
  const guarded = guardEngine(engine, guard);
  const merged: { result: CampaignResult; elapsedMs: number }[] = [];
  for (const [i, parts] of values.entries()) {
    const result = mergeShardResults(parts);
    const violations = await shrinkFirstOfEachRule(guarded, result.violations, { maxAttempts: options.crashShrinkAttempts });
    merged.push({ result: { ...result, violations, violationsByRule: countByRule(violations) }, elapsedMs: elapsedMs[i]! });
  }
  return merged;
}

export async function exploreInWorkers(engine: EngineFactory, job: { readonly engineFlags: EngineFlags; readonly cwd: string; readonly options: JobOptions }, workers: number, guard: GuardOptions): Promise<CampaignResult> {
  const { values } = await inWorkers<ShardScan>({ kind: 'explore', ...job }, 1, workers);
  return mergeScans(engine, { ...job.options, ...guard } as CampaignOptions, values[0]!);
}
