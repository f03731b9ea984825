/**
 * The reference engine against every bundled scenario, exhausted as `npm start` runs them: a crash
 * at every I/O point, in every cache mode the scenario names, at its own depth, and an I/O error
 * at every I/O point (transient and sticky) with the rest of the workload run on. The scenarios drive
 * what random cases reach only rarely (a batched copier, coalesced copy I/O, maps of several
 * sectors, a failed mirrored write), so this is half of what `npm run mutation` scores the engine with.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../src/engine/reference/index.js';
import { exhaust } from '../src/harness/exhaust.js';
import { bundledScenariosDir, loadScenario } from '../src/harness/scenario-file.js';
import { SEED } from './settings.js';

const dir = bundledScenariosDir();
const files = readdirSync(dir).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).sort();

describe('the reference engine, every bundled scenario exhausted', () => {
  it.each(files)('%s: every crash state and every I/O error holds every rule', { timeout: 120_000 }, async (file) => {
    const scenario = await loadScenario(join(dir, file), file);
    const result = await exhaust(referenceEngine, scenario, { seed: SEED, eio: true });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.crashStates).toBeGreaterThan(scenario.workload.length);
  });
});
