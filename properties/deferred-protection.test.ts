/**
 * The reference engine with `deferProtection` on (P bits durable at the host's flush; the mode
 * `prestore serve` runs) against the whole oracle: random cases as for the default mode, and every
 * crash state of the bundled scenarios whose host writes land during a protected restore (and, for
 * deferred-write-error, an I/O error at every I/O point). The
 * mutants of src/mutants/deferred-protection.ts show these checks fail when an ordering of the mode breaks.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { engine as deferredEngine } from '../src/engine/reference/deferred.js';
import { exhaust } from '../src/harness/exhaust.js';
import { explore } from '../src/harness/explore.js';
import { bundledScenariosDir, loadScenario } from '../src/harness/scenario-file.js';
import { RUNS, SEED } from './settings.js';

describe('the reference engine with deferProtection, under the oracle', () => {
  it(`holds every rule over ${RUNS} random cases`, async () => {
    const result = await explore(deferredEngine, { seed: SEED, runs: RUNS });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBe(RUNS);
    expect(result.crashStates).toBeGreaterThan(RUNS / 2);
  });

  it.each(['host-writes-uncopied', 'write-heavy-restore'])('holds every rule in every crash state of %s', { timeout: 60_000 }, async (name) => {
    const scenario = await loadScenario(join(bundledScenariosDir(), `${name}.json`), `${name}.json`);
    const result = await exhaust(deferredEngine, scenario, { seed: SEED });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBeGreaterThan(100);
  });

  it('holds every rule in every crash state and with an I/O error at every I/O point of deferred-write-error', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'deferred-write-error.json'), 'deferred-write-error.json');
    const result = await exhaust(deferredEngine, scenario, { seed: SEED, eio: true });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBeGreaterThan(100);
  });
});
