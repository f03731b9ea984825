/**
 * The minimal example engine a vendor starts from (examples/minimal-engine.mjs) must pass the
 * harness, or the README's "Testing your own engine" would teach something broken. It imports
 * the contract from dist/, which `npm test` builds before running the suite.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineFactory } from '../src/engine/contract.js';
import { exhaust } from '../src/harness/exhaust.js';
import { explore } from '../src/harness/explore.js';
import { bundledScenariosDir, loadScenario } from '../src/harness/scenario-file.js';
import { RUNS, SEED } from './settings.js';

const example = async () => (await import('../examples/minimal-engine.mjs' as string)).default as EngineFactory;

describe('the minimal example engine', () => {
  it(`holds every rule over ${RUNS} random cases`, { timeout: 60_000 }, async () => {
    const result = await explore(await example(), { seed: SEED, runs: RUNS });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
  });

  it.each(['protected-restore', 'unprotected-restore', 'crash-during-recovery'])('passes exhaust on %s', { timeout: 60_000 }, async (name) => {
    const scenario = await loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
    const result = await exhaust(await example(), scenario, { seed: SEED });
    expect(result.violations.map((v) => v.message)).toEqual([]);
    expect(result.crashStates).toBeGreaterThan(30);
  });
});
