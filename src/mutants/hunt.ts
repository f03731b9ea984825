/**
 * Hunting one engine for a violation, cheapest first: every bundled scenario exhausted at its
 * own depth (stopping at the first violation), then an I/O error at every I/O point of each
 * (`exhaust --eio` at depth 1, for the bugs only an error shows), then random cases. What `prestore mutants` runs
 * against each mutant, and what the mutant tests assert.
 */
import type { DeviceProfile } from '../devices/device-profile.js';
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CampaignResult } from '../harness/campaign.js';
import type { RuleName, Scenario, Violation } from '../harness/case.js';

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
  /**
   * Only a violation of this rule ends the hunt (any rule when absent): which rule trips first
   * depends on the order of the scenarios, and a mutant's test asks whether its rule catches it.
   */
  readonly rule?: RuleName;
  /** The devices every case runs on (overriding each scenario's); absent: each scenario's own. */
  readonly profile?: DeviceProfile;
}

export interface HuntResult {
  readonly killed: boolean;
  /** Cases run up to and including the one that found the violation (or all of them). */
  readonly cases: number;
  readonly violation?: Violation;
}

/** The crash states of every scenario first, then its I/O errors (at depth 1: a hunt is a quick look). */
const EXHAUST_PASSES: readonly Partial<CampaignOptions>[] = [{}, { eio: true, ioErrorsOnly: true, depth: 1 }];

export async function hunt(engine: EngineFactory, campaigns: Campaigns, options: HuntOptions): Promise<HuntResult> {
  const base = { seed: options.seed, ...(options.engineArgs === undefined ? {} : { engineArgs: options.engineArgs }), ...(options.profile === undefined ? {} : { profile: options.profile }) };
  const wanted = (v: Violation) => options.rule === undefined || v.rule === options.rule;
  let cases = 0;
  // Scenarios in the engine's default configuration first, those that tune it after: a mutant is
  // named by the rule its bug breaks in the configuration it was written against.
  const untunedFirst = [...options.scenarios].sort((a, b) => Number(a.engineOptions !== undefined) - Number(b.engineOptions !== undefined));
  for (const pass of EXHAUST_PASSES) {
    for (const scenario of untunedFirst) {
      const result = await campaigns.exhaust(engine, scenario, { ...base, ...pass, stopOnFirst: true });
      cases += result.cases;
      const violation = result.violations.find(wanted);
      if (violation !== undefined) return { killed: true, cases, violation };
    }
  }
  // No random cases asked for: explore is not run (a campaign of no case is refused).
  if (options.runs === 0) return { killed: false, cases };
  const result = await campaigns.explore(engine, { ...base, runs: options.runs });
  cases += result.cases;
  const violation = result.violations.find(wanted);
  return violation !== undefined ? { killed: true, cases, violation } : { killed: false, cases };
}
