/**
 * Every rule proves it can fail: each mutant engine (one realistic bug each) must be caught by
 * the harness within the default budget of `prestore mutants`, by the rule its entry names.
 * And the reference engine, hunted the same way, must come through clean.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MUTANT_RUNS, MUTANTS_SEED } from '../src/cli/commands/mutants.js';
import { referenceEngine } from '../src/engine/reference/index.js';
import { exhaust } from '../src/harness/exhaust.js';
import { explore } from '../src/harness/explore.js';
import type { Scenario } from '../src/harness/case.js';
import { bundledScenariosDir, loadScenario } from '../src/harness/scenario-file.js';
import { mutants } from '../src/mutants/catalogue.js';
import { hunt } from '../src/mutants/hunt.js';
import { RULES } from '../src/harness/case.js';

let scenarios: Scenario[] = [];

beforeAll(async () => {
  const dir = bundledScenariosDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).sort();
  scenarios = await Promise.all(files.map((f) => loadScenario(join(dir, f), f)));
});

describe('the mutant catalogue', () => {
  it('has at least twelve mutants with distinct names, and trips every rule', () => {
    expect(mutants.length).toBeGreaterThanOrEqual(12);
    expect(new Set(mutants.map((m) => m.name)).size).toBe(mutants.length);
    expect(new Set(mutants.map((m) => m.rule))).toEqual(new Set(Object.values(RULES)));
  });

  it.each(mutants.map((m) => [m.name, m] as const))('kills %s', { timeout: 180_000 }, async (_, m) => {
    // Any rule kills a mutant; its own rule must catch it too, whichever scenario trips first.
    const result = await hunt(m.factory, { exhaust, explore }, { seed: MUTANTS_SEED, scenarios, runs: MUTANT_RUNS, rule: m.rule });
    expect(result.killed).toBe(true);
    expect(result.violation?.rule).toBe(m.rule);
  });

  it('leaves the reference engine standing under the same hunt', { timeout: 300_000 }, async () => {
    const result = await hunt(referenceEngine, { exhaust, explore }, { seed: MUTANTS_SEED, scenarios, runs: MUTANT_RUNS });
    expect(result.violation).toBeUndefined();
    expect(result.cases).toBeGreaterThan(MUTANT_RUNS);
  });
});
