/**
 * `--workers N`: a campaign split among N worker threads as N shards (../harness/shard.ts) and
 * merged back in the main thread into exactly the result one thread gives: the same counts, the
 * same violations in the same order, shrunk alike.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CampaignResult, CoverageRow } from '../harness/campaign.js';
import { countByRule } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import { inCrashOrder } from '../harness/exhaust.js';
import { mergeScans, type ShardScan } from '../harness/explore.js';
import { packageRoot } from '../harness/scenario-file.js';
import type { Shard } from '../harness/shard.js';
import { shrinkFirstOfEachRule } from '../harness/shrink-crash.js';
import { integerFlag } from './args.js';
import { UsageError } from './command.js';
import type { EngineFlags } from './engine-arg.js';

type JobOptions = Pick<CampaignOptions, 'seed' | 'engineArgs' | 'depth' | 'modes' | 'runs'>;

export type WorkerJob = { readonly engineFlags: EngineFlags; readonly cwd: string; readonly options: JobOptions; readonly shard: Shard } & (
  | { readonly kind: 'exhaust'; readonly scenarios: readonly Scenario[] }
  | { readonly kind: 'explore' }
);

type Job = WorkerJob extends infer J ? (J extends WorkerJob ? Omit<J, 'shard'> : never) : never;

/** `--workers N` help, for a command that splits its `units` among the workers. */
export function workersHelp(units: string): string {
  return `  --workers N               split the ${units} among N worker threads (default 1); the
                            result is the same as with one, only sooner
                            (an in-process engine: not with --engine-cmd)`;
}

/** `--workers N`, checked against the flags it cannot go with. */
export function workersFlag(values: { readonly workers?: string; readonly shard?: string; readonly 'engine-cmd'?: string }): number {
  const workers = integerFlag('workers', values.workers, 1, 1, 64);
  if (workers > 1 && values.shard !== undefined) throw new UsageError('--workers and --shard do not go together: workers already split the run');
  if (workers > 1 && values['engine-cmd'] !== undefined) throw new UsageError('--workers and --engine-cmd do not go together: each worker thread would start its own engine process; run --shard i/n jobs instead');
  return workers;
}

/** The compiled worker: beside this file when built, in dist/ when this runs from the sources. */
function workerFile(): string {
  const here = fileURLToPath(new URL('./campaign-worker.js', import.meta.url));
  return existsSync(here) ? here : join(packageRoot(), 'dist', 'src', 'cli', 'campaign-worker.js');
}

/** Runs `job` as `workers` shards; values by item, then by shard, and each item's slowest time. */
async function inWorkers<T>(job: Job, items: number, workers: number): Promise<{ values: T[][]; elapsedMs: number[] }> {
  const values: T[][] = Array.from({ length: items }, () => []);
  const elapsedMs: number[] = new Array<number>(items).fill(0);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const worker = new Worker(workerFile(), { workerData: { ...job, shard: { index: w + 1, count: workers } } });
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { index: number; value: T; elapsedMs: number }) => {
          values[m.index]![w] = m.value;
          // The shards of one item run side by side: it took as long as the slowest.
          elapsedMs[m.index] = Math.max(elapsedMs[m.index]!, m.elapsedMs);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${w + 1} exited with code ${code}`))));
      });
    }),
  );
  return { values, elapsedMs };
}

/** The shards' results of one scenario, added up as one run would count them. */
export function mergeShardResults(parts: readonly CampaignResult[]): CampaignResult {
  const first = parts[0]!;
  const coverage: CoverageRow[] = first.coverage.map((row) => {
    const same = parts.map((p) => p.coverage.find((r) => r.mode === row.mode)!);
    const sum = (f: (r: CoverageRow) => number) => same.reduce((t, r) => t + f(r), 0);
    return { ...row, crashStates: sum((r) => r.crashStates), distinctCrashStates: sum((r) => r.distinctCrashStates), secondCrashStates: sum((r) => r.secondCrashStates) };
  });
  const sum = (f: (r: CampaignResult) => number) => parts.reduce((t, r) => t + f(r), 0);
  // Workers do not shrink; what they say of a crash is redone for the merged list's firsts.
  const violations = inCrashOrder(parts.flatMap((p) => p.violations.map(({ crash: _, ...v }) => v)));
  const distinct = first.distinctCrashStates === undefined ? {} : { distinctCrashStates: sum((r) => r.distinctCrashStates!) };
  return { ...first, cases: sum((r) => r.cases), crashStates: sum((r) => r.crashStates), ...distinct, violations, violationsByRule: countByRule(violations), coverage };
}

export async function exhaustInWorkers(
  engine: EngineFactory,
  job: { readonly engineFlags: EngineFlags; readonly cwd: string; readonly scenarios: readonly Scenario[]; readonly options: JobOptions },
  workers: number,
  options: { readonly crashShrinkAttempts?: number } = {},
): Promise<{ result: CampaignResult; elapsedMs: number }[]> {
  const { values, elapsedMs } = await inWorkers<CampaignResult>({ kind: 'exhaust', ...job }, job.scenarios.length, workers);
  const merged: { result: CampaignResult; elapsedMs: number }[] = [];
  for (const [i, parts] of values.entries()) {
    const result = mergeShardResults(parts);
    const violations = await shrinkFirstOfEachRule(engine, result.violations, { maxAttempts: options.crashShrinkAttempts });
    merged.push({ result: { ...result, violations, violationsByRule: countByRule(violations) }, elapsedMs: elapsedMs[i]! });
  }
  return merged;
}

export async function exploreInWorkers(engine: EngineFactory, job: { readonly engineFlags: EngineFlags; readonly cwd: string; readonly options: JobOptions }, workers: number): Promise<CampaignResult> {
  const { values } = await inWorkers<ShardScan>({ kind: 'explore', ...job }, 1, workers);
  return mergeScans(engine, job.options as CampaignOptions, values[0]!);
}
