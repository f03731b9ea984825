/**
 * Shards never overlap and together are the whole run: for exhaust, every distinct crash state is
 * checked by exactly one shard; for explore, every drawn case is run by exactly one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import { mergeCoverageRows } from './campaign.js';
import { exhaust } from './exhaust.js';
import { explore, mergeScans, scanShard } from './explore.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';
import { owns, parseShard } from './shard.js';

describe('--shard i/n', () => {
  it('parses i/n and refuses anything else, naming it', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/3', '4/3', '1/0', 'x', '1/2/3', '-1/2']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });

  it('gives every unit to exactly one shard', () => {
    for (const count of [1, 2, 3, 7]) {
      for (let k = 0; k < 50; k++) expect(Array.from({ length: count }, (_, i) => owns({ index: i + 1, count }, k)).filter(Boolean)).toHaveLength(1);
    }
  });

  it('exhaust: the shards add up to the whole run, crash state for crash state', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'unprotected-restore.json'), 'unprotected-restore');
    const engine = mutants.find((m) => m.name === 'unprotected-no-mirror')!.factory;
    for (const factory of [referenceEngine, engine]) {
      const whole = await exhaust(factory, scenario, { seed: 'shards', crashShrinkAttempts: 0 });
      const parts = await Promise.all([1, 2, 3].map((index) => exhaust(factory, scenario, { seed: 'shards', crashShrinkAttempts: 0, shard: { index, count: 3 } })));
      const sum = (f: (r: typeof whole) => number) => parts.reduce((t, r) => t + f(r), 0);
      expect(sum((r) => r.cases)).toBe(whole.cases);
      expect(sum((r) => r.crashStates)).toBe(whole.crashStates);
      expect(sum((r) => r.distinctCrashStates)).toBe(whole.distinctCrashStates);
      expect(parts.flatMap((r) => r.violations.map((v) => v.replay)).sort()).toEqual(whole.violations.map((v) => v.replay).sort());
      expect(parts.every((r) => r.distinctCrashStates > 0)).toBe(true);
      expect(whole.coverage.map((row) => parts.map((p) => p.coverage.find((r) => r.mode === row.mode)!).reduce(mergeCoverageRows))).toEqual(whole.coverage);
      if (factory === engine) expect(whole.violations.length).toBeGreaterThan(1);
    }
  });

  it('explore: the shards run every case once between them', { timeout: 60_000 }, async () => {
    const whole = await explore(referenceEngine, { seed: 'shards', runs: 90 });
    const parts = await Promise.all([1, 2, 3].map((index) => explore(referenceEngine, { seed: 'shards', runs: 90, shard: { index, count: 3 } })));
    expect(parts.map((r) => r.cases)).toEqual([30, 30, 30]);
    expect(parts.reduce((t, r) => t + r.crashStates, 0)).toBe(whole.crashStates);
  });

  it('explore against a mutant: shard cases add up to the runs, and a failure merges back to the one-run result', { timeout: 120_000 }, async () => {
    // A mutant these 90 cases do not catch: every shard runs only its own cases, and all of them.
    const missed = mutants.find((m) => m.name === 'resume-ignores-p')!.factory;
    const whole = await explore(missed, { seed: 'shards', runs: 90 });
    expect(whole.violations).toEqual([]);
    const parts = await Promise.all([1, 2, 3].map((index) => explore(missed, { seed: 'shards', runs: 90, shard: { index, count: 3 } })));
    expect(parts.reduce((t, r) => t + r.cases, 0)).toBe(90);
    expect(parts.map((r) => r.cases)).toEqual([30, 30, 30]);
    expect(parts.reduce((t, r) => t + r.crashStates, 0)).toBe(whole.crashStates);

    // A mutant they catch: the shards' runs never overlap, cover every run before the first
    // failure, and merged give the failure one run finds, shrunk alike.
    const caught = mutants.find((m) => m.name === 'reads-from-source')!.factory;
    const options = { seed: 'shards', runs: 90, crashShrinkAttempts: 0 };
    const one = await explore(caught, options);
    expect(one.violations).toHaveLength(1);
    const scans = await Promise.all([1, 2, 3].map((index) => scanShard(caught, { ...options, shard: { index, count: 3 } })));
    const ran = scans.map((s) => Object.keys(s.crashStates).map(Number));
    ran.forEach((runs, i) => expect(runs.every((r) => r % 3 === i)).toBe(true));
    const first = Math.min(...scans.flatMap((s) => (s.firstFailure === undefined ? [] : [s.firstFailure])));
    expect(ran.flat().filter((r) => r <= first).sort((a, b) => a - b)).toEqual(Array.from({ length: first + 1 }, (_, r) => r));
    const merged = await mergeScans(caught, options, scans);
    expect({ ...merged, violations: merged.violations.map((v) => v.replay) }).toEqual({ ...one, violations: one.violations.map((v) => v.replay) });
  });
});
