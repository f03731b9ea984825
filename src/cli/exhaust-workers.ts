/**
 * `prestore exhaust --workers N`: the distinct crash states of every scenario split among N worker
 * threads as N shards (../harness/shard.ts), merged back in the main thread into exactly the
 * result one thread gives: the same counts, the same violations in the same order, shrunk alike.
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
import { packageRoot } from '../harness/scenario-file.js';
import type { Shard } from '../harness/shard.js';
import { shrinkFirstOfEachRule } from '../harness/shrink-crash.js';
import type { EngineFlags } from './engine-arg.js';

export interface WorkerJob {
  readonly engineFlags: EngineFlags;
  readonly cwd: string;
  readonly scenarios: readonly Scenario[];
  readonly options: Pick<CampaignOptions, 'seed' | 'engineArgs' | 'depth' | 'modes'>;
  readonly shard: Shard;
}

/** The compiled worker: beside this file when built, in dist/ when this runs from the sources. */
function workerFile(): string {
  const here = fileURLToPath(new URL('./exhaust-worker.js', import.meta.url));
  return existsSync(here) ? here : join(packageRoot(), 'dist', 'src', 'cli', 'exhaust-worker.js');
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
  return { ...first, cases: sum((r) => r.cases), crashStates: sum((r) => r.crashStates), distinctCrashStates: sum((r) => r.distinctCrashStates), violations, violationsByRule: countByRule(violations), coverage };
}

export async function exhaustInWorkers(
  engine: EngineFactory,
  job: Omit<WorkerJob, 'shard'>,
  workers: number,
  options: { readonly crashShrinkAttempts?: number } = {},
): Promise<{ result: CampaignResult; elapsedMs: number }[]> {
  const results: CampaignResult[][] = job.scenarios.map(() => []);
  const elapsed: number[] = job.scenarios.map(() => 0);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const worker = new Worker(workerFile(), { workerData: { ...job, shard: { index: w + 1, count: workers } } satisfies WorkerJob });
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { scenario: number; result: CampaignResult; elapsedMs: number }) => {
          results[m.scenario]![w] = m.result;
          // The shards of a scenario run side by side: it took as long as the slowest.
          elapsed[m.scenario] = Math.max(elapsed[m.scenario]!, m.elapsedMs);
        });
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exhaust worker ${w + 1} exited with code ${code}`))));
      });
    }),
  );
  const merged: { result: CampaignResult; elapsedMs: number }[] = [];
  for (const [i, parts] of results.entries()) {
    const result = mergeShardResults(parts);
    const violations = await shrinkFirstOfEachRule(engine, result.violations, { maxAttempts: options.crashShrinkAttempts });
    merged.push({ result: { ...result, violations, violationsByRule: countByRule(violations) }, elapsedMs: elapsed[i]! });
  }
  return merged;
}
