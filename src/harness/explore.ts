/**
 * Random exploration: fast-check draws cases (geometry, divergence, host operations, crashes in
 * every cache mode, I/O errors, crashes during recovery) and shrinks a failing one to a minimal
 * case, whose replay line is reported.
 */
import fc from 'fast-check';
import type { EngineFactory } from '../engine/contract.js';
import { caseArb } from './arbitraries.js';
import { type CampaignOptions, type CampaignResult, countByRule } from './campaign.js';
import type { Violation } from './case.js';
import { runCase } from './run-case.js';
import { shrinkCrash } from './shrink-crash.js';
import { owns } from './shard.js';

/** fast-check wants a 32-bit seed; ours is a string, hashed the same way every time. */
export function numericSeed(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return h | 0;
}

export async function explore(engine: EngineFactory, options: CampaignOptions): Promise<CampaignResult> {
  const runs = options.runs ?? 100;
  let cases = 0;
  let crashStates = 0;
  let found: Violation | undefined;
  let drawn = 0;
  const details = await fc.check(
    fc.asyncProperty(caseArb, async (c) => {
      // Another shard's run passes untried; once a run of this shard fails, its shrinking is ours.
      if (found === undefined && !owns(options.shard, drawn++)) return true;
      const result = await runCase(engine, c, { seed: options.seed, engineArgs: options.engineArgs });
      cases++;
      crashStates += result.crashStates;
      const total = options.shard === undefined ? runs : Math.ceil((runs - options.shard.index + 1) / options.shard.count);
      if (cases <= total) options.onProgress?.({ done: Math.min(cases, total), total, crashStates, violations: found ? 1 : 0 });
      const v = result.violations[0];
      // fast-check shrinks from the first failure; the last failure it sees is the smallest.
      if (v !== undefined) found = v;
      return v === undefined;
    }),
    { seed: numericSeed(options.seed), numRuns: runs },
  );
  // A failure without a violation is the harness or the engine module throwing: never a pass.
  if (details.failed && found === undefined) throw details.errorInstance;
  const violations = details.failed && found !== undefined ? [await shrinkCrash(engine, found, { maxAttempts: options.crashShrinkAttempts })] : [];
  return { engine: engine.name, seed: options.seed, cases, crashStates, distinctCrashStates: crashStates, violations, violationsByRule: countByRule(violations), coverage: [] };
}
