/**
 * The harness's public face for the command line: a campaign runs many cases against one engine
 * and sums up what it found. `explore` draws cases with fast-check, `exhaust` crashes one
 * scenario at every I/O point, `replay` re-runs one case from its replay line. Each lives in its
 * own module, which imports the types here.
 */
import type { CacheMode } from '../devices/fault-layer.js';
import { RULES, type RuleName, type Violation } from './case.js';
import type { Shard } from './shard.js';

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly crashStates: number;
  readonly violations: number;
}

/** How many cases explore draws when the caller does not say. */
export const DEFAULT_RUNS = 100;

export interface CampaignOptions {
  readonly seed: string;
  /** How the replay line names the engine, e.g. `--engine reference` (the default). */
  readonly engineArgs?: string;
  /** explore: how many cases fast-check draws (default `DEFAULT_RUNS`, 100). */
  readonly runs?: number;
  /** exhaust: override the scenario's depth. */
  readonly depth?: 1 | 2;
  /** exhaust: override the scenario's cache modes. */
  readonly modes?: readonly CacheMode[];
  /**
   * exhaust: run the engine from the start up to every crash state (the naive way, quadratic in
   * the workload), instead of resuming from the one recorded run. For comparison and checking.
   */
  readonly rerunPrefix?: boolean;
  /** explore: start at this run (a fast-check replay path), to shrink a failure a worker found. */
  readonly fromRun?: number;
  /** Run only this shard of the cases (./shard.ts); the shards of one run add up to it. */
  readonly shard?: Shard;
  /** Stop at the first violation (explore shrinks it first). */
  readonly stopOnFirst?: boolean;
  /** Runs spent shrinking each reported crash (./shrink-crash.ts); 0 reports crashes as found. */
  readonly crashShrinkAttempts?: number;
  readonly onProgress?: (progress: Progress) => void;
}

/** One row of the coverage report: what one scenario and cache mode explored. */
export interface CoverageRow {
  readonly scenario: string;
  readonly mode: CacheMode;
  readonly ioPoints: number;
  readonly crashStates: number;
  readonly distinctCrashStates: number;
  /** Crash points whose every survival subset was enumerated, vs sampled. */
  readonly enumeratedPoints: number;
  readonly sampledPoints: number;
  /** Second crashes checked during recoveries (depth 2). */
  readonly secondCrashStates: number;
}

export interface CampaignResult {
  readonly engine: string;
  readonly seed: string;
  readonly cases: number;
  readonly crashStates: number;
  /**
   * exhaust only: the crash states left once those with byte-identical images inside one host
   * operation are counted once. explore checks every crash state it draws, and has none.
   */
  readonly distinctCrashStates?: number;
  readonly violations: readonly Violation[];
  readonly violationsByRule: Readonly<Record<RuleName, number>>;
  readonly coverage: readonly CoverageRow[];
}

/** What `exhaust` finds: a campaign that counts its distinct crash states. */
export interface ExhaustResult extends CampaignResult {
  readonly distinctCrashStates: number;
}

/** Violations counted per rule, every rule present. */
export function countByRule(violations: readonly Violation[]): Record<RuleName, number> {
  const counts = Object.fromEntries(Object.values(RULES).map((r) => [r, 0])) as Record<RuleName, number>;
  for (const v of violations) counts[v.rule]++;
  return counts;
}
