/**
 * Hunting one engine for a violation, cheapest first: every bundled scenario exhausted at its
 * own depth (stopping at the first violation), then random cases. What `prestore mutants` runs
 * against each mutant, and what the mutant tests assert.
 */
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CampaignResult } from '../harness/campaign.js';
import type { Scenario, Violation } from '../harness/case.js';

export interface Campaigns {
  explore(engine: EngineFactory, options: CampaignOptions): Promise<CampaignResult>;
  exhaust(engine: EngineFactory, scenario: Scenario, options: CampaignOptions): Promise<CampaignResult>;
}

export interface HuntOptions {
  readonly seed: string;
  readonly scenarios: readonly Scenario[];
  /** Random cases after the scenarios: the rest of the budget. */
  readonly runs: number;
  readonly engineArgs?: string;
}

export interface HuntResult {
  readonly killed: boolean;
  /** Cases run up to and including the one that found the violation (or all of them). */
  readonly cases: number;
  readonly violation?: Violation;
}

export async function hunt(engine: EngineFactory, campaigns: Campaigns, options: HuntOptions): Promise<HuntResult> {
  const base = { seed: options.seed, ...(options.engineArgs === undefined ? {} : { engineArgs: options.engineArgs }) };
  let cases = 0;
  // Scenarios in the engine's default configuration first, those that tune it after: a mutant is
  // named by the rule its bug breaks in the configuration it was written against.
  const untunedFirst = [...options.scenarios].sort((a, b) => Number(a.engineOptions !== undefined) - Number(b.engineOptions !== undefined));
  for (const scenario of untunedFirst) {
    const result = await campaigns.exhaust(engine, scenario, { ...base, stopOnFirst: true });
    cases += result.cases;
    if (result.violations.length > 0) return { killed: true, cases, violation: result.violations[0]! };
  }
  // No random cases asked for: explore is not run (a campaign of no case is refused).
  if (options.runs === 0) return { killed: false, cases };
  const result = await campaigns.explore(engine, { ...base, runs: options.runs });
  cases += result.cases;
  return result.violations.length > 0 ? { killed: true, cases, violation: result.violations[0]! } : { killed: false, cases };
}
