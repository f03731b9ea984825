/**
 * The engine `prestore serve` runs (copy-ahead of hot extents, with `deferProtection`) against the
 * whole oracle: copying extents out of the copier's order must keep every rule, in every crash
 * state. Random cases read extents while they are uncopied, so some steps take hot extents first
 * (36 of the steps in the 500 default cases).
 */
import { describe, expect, it } from 'vitest';
import { engine as copyAheadEngine } from '../src/engine/reference/copy-ahead.js';
import { explore } from '../src/harness/explore.js';
import { RUNS, SEED } from './settings.js';

describe('the reference engine with copy-ahead, under the oracle', () => {
  it(`holds every rule over ${RUNS} random cases`, async () => {
    const result = await explore(copyAheadEngine, { seed: SEED, runs: RUNS });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBe(RUNS);
  });
});
