/**
 * Random exploration: fast-check draws cases (geometry, divergence, host operations, crashes in
 * every cache mode, I/O errors, crashes during recovery, and engine options for an engine that
 * takes them) and shrinks a failing one to a minimal case, whose replay line is reported.
 */
import fc from 'fast-check';
import type { EngineFactory } from '../engine/contract.js';
import { EngineMisbehaviourError } from '../errors.js';
import { caseArb, tunedCaseArb } from './arbitraries.js';
import { type CampaignOptions, type CampaignResult, checkCampaignOptions, countByRule, DEFAULT_RUNS } from './campaign.js';
import type { Case, Violation } from './case.js';
import { guardEngine } from './engine-guard.js';
import { runCase } from './run-case.js';
import { shrinkCrash } from './shrink-crash.js';
import { owns } from './shard.js';

/** fast-check wants a 32-bit seed; ours is a string, hashed the same way every time. */
export function numericSeed(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** A drawn case on the campaign's devices: without a profile, the case as drawn (its line unchanged). */
function withProfile(c: Case, options: CampaignOptions): Case {
  return options.profile === undefined ? c : { ...c, profile: options.profile };
}

/** The cases to draw: with engine options for an engine that takes them. */
function casesFor(engine: EngineFactory): fc.Arbitrary<Case> {
  return engine.withOptions === undefined ? caseArb : tunedCaseArb;
}

/**
 * Runs one case, unless the engine already broke the contract: then no case runs again. fast-check
 * would shrink the case that threw, running the engine again and again (each hang costing its
 * timeout), and no verdict can come of an engine that broke the contract.
 */
function caseRunner(engine: EngineFactory, options: CampaignOptions) {
  let misbehaved: EngineMisbehaviourError | undefined;
  return {
    async run(c: Case) {
      if (misbehaved !== undefined) return undefined;
      try {
        return await runCase(engine, withProfile(c, options), { seed: options.seed, engineArgs: options.engineArgs });
      } catch (e) {
        if (!(e instanceof EngineMisbehaviourError)) throw e;
        misbehaved = e;
        return undefined;
      }
    },
    /** Throws how the engine broke the contract, if it did. */
    check(): void {
      if (misbehaved !== undefined) throw misbehaved;
    },
  };
}

export async function explore(untrusted: EngineFactory, options: CampaignOptions): Promise<CampaignResult> {
  checkCampaignOptions('explore', options);
  const engine = guardEngine(untrusted, options);
  const runs = options.runs ?? DEFAULT_RUNS;
  let cases = 0;
  let crashStates = 0;
  let found: Violation | undefined;
  let drawn = 0;
  const runner = caseRunner(engine, options);
  const details = await fc.check(
    fc.asyncProperty(casesFor(engine), async (c) => {
      // Another shard's run passes untried; once a run of this shard fails, its shrinking is ours.
      if (found === undefined && !owns(options.shard, drawn++)) return true;
      // Once a run failed, every later call is fast-check shrinking it: not a case of the campaign.
      const shrinking = found !== undefined;
      const result = await runner.run(c);
      if (result === undefined) return true;
      if (!shrinking) {
        cases++;
        crashStates += result.crashStates;
      }
      const total = options.shard === undefined ? runs : Math.ceil((runs - options.shard.index + 1) / options.shard.count);
      if (cases <= total) options.onProgress?.({ done: Math.min(cases, total), total, crashStates, violations: found ? 1 : 0 });
      const v = result.violations[0];
      // fast-check shrinks from the first failure; the last failure it sees is the smallest.
      if (v !== undefined) found = v;
      return v === undefined;
    }),
    // From a run index: fast-check's replay path, which runs that case and shrinks from it.
    { seed: numericSeed(options.seed), numRuns: runs, ...(options.fromRun === undefined ? {} : { path: String(options.fromRun) }) },
  );
  runner.check();
  // A failure without a violation is the harness or the engine module throwing: never a pass.
  if (details.failed && found === undefined) throw details.errorInstance;
  const violations = details.failed && found !== undefined ? [await shrinkCrash(engine, found, { maxAttempts: options.crashShrinkAttempts })] : [];
  return { engine: engine.name, seed: options.seed, cases, crashStates, violations, violationsByRule: countByRule(violations), coverage: [] };
}

/** What one shard's runs found, without shrinking: crash states by run index, the first failing run. */
export interface ShardScan {
  readonly crashStates: Readonly<Record<number, number>>;
  readonly firstFailure?: number;
}

/** Runs a shard's cases in order and stops at its first failure, leaving the shrinking to the merge. */
export async function scanShard(untrusted: EngineFactory, options: CampaignOptions): Promise<ShardScan> {
  checkCampaignOptions('scanShard', options);
  const engine = guardEngine(untrusted, options);
  const crashStates: Record<number, number> = {};
  let firstFailure: number | undefined;
  let drawn = 0;
  const details = await fc.check(
    fc.asyncProperty(casesFor(engine), async (c) => {
      const run = drawn++;
      if (!owns(options.shard, run)) return true;
      const result = await runCase(engine, withProfile(c, options), { seed: options.seed, engineArgs: options.engineArgs });
      crashStates[run] = result.crashStates;
      if (result.violations.length > 0) firstFailure ??= run;
      return result.violations.length === 0;
    }),
    { seed: numericSeed(options.seed), numRuns: options.runs ?? DEFAULT_RUNS, endOnFailure: true },
  );
  // The harness or the engine module threw: the runs after it never ran, so this is no pass.
  if (details.failed && firstFailure === undefined) throw details.errorInstance;
  return firstFailure === undefined ? { crashStates } : { crashStates, firstFailure };
}

/**
 * The shards' scans, merged into what one `explore` gives: every run passed, or the earliest
 * failing run across the shards is replayed and shrunk exactly as one run would have shrunk it.
 */
export async function mergeScans(engine: EngineFactory, options: CampaignOptions, scans: readonly ShardScan[]): Promise<CampaignResult> {
  const failures = scans.flatMap((s) => (s.firstFailure === undefined ? [] : [s.firstFailure]));
  const first = failures.length === 0 ? undefined : Math.min(...failures);
  const before = scans.flatMap((s) => Object.entries(s.crashStates)).filter(([run]) => first === undefined || Number(run) < first);
  const passed = before.reduce((t, [, n]) => t + n, 0);
  if (first === undefined) return { engine: engine.name, seed: options.seed, cases: before.length, crashStates: passed, violations: [], violationsByRule: countByRule([]), coverage: [] };
  const { shard: _, ...rest } = options;
  const shrunk = await explore(engine, { ...rest, fromRun: first });
  return { ...shrunk, cases: first + shrunk.cases, crashStates: passed + shrunk.crashStates };
}
