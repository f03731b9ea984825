/**
 * Exhaust resumes each crash state from one recorded run instead of running the engine up to it.
 * That is only right if it changes nothing: the same crash states, the same verdicts, the same
 * replay lines and traces as running every prefix again, for engines that pass and that fail.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import { exhaust } from './exhaust.js';
import type { Scenario } from './case.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';

const SCENARIOS = ['fractured-writes', 'crash-during-recovery', 'unprotected-restore'];

/**
 * Host writes after an unprotected restore has completed: the pair may differ again, so the end
 * rules must not ask for source and clone to be equal. A resumed crash state knows that only if
 * the checker's state at the crash carried it over, so a state field the resume loses shows here.
 */
const writesAfterRestore: Scenario = {
  name: 'writes-after-an-unprotected-restore',
  description: '',
  geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 3], delta: 'exact' },
  workload: [
    { op: 'startRestore', protect: false },
    { op: 'step', count: 10 },
    { op: 'write', volume: 'source', sector: 0, sectors: 2, pattern: 1 },
    { op: 'flush', volume: 'source' },
  ],
  modes: ['drop', 'keep', 'subset', 'torn'],
  depth: 1,
};
const ENGINES = [referenceEngine, ...['ack-before-intent', 'clear-before-durable', 'unprotected-no-mirror'].map((n) => mutants.find((m) => m.name === n)!.factory)];

describe('exhaust at linear cost', () => {
  for (const name of [...SCENARIOS, writesAfterRestore.name]) {
    it(`finds exactly what re-running every prefix finds: ${name}`, { timeout: 60_000 }, async () => {
      const scenario = name === writesAfterRestore.name ? writesAfterRestore : await loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
      let violations = 0;
      for (const engine of ENGINES) {
        const resumed = await exhaust(engine, scenario, { seed: 'linear' });
        const rerun = await exhaust(engine, scenario, { seed: 'linear', rerunPrefix: true });
        expect(JSON.stringify(resumed), `${engine.name} on ${name}`).toBe(JSON.stringify(rerun));
        violations += resumed.violations.length;
      }
      // The comparison means something only if some engine failed somewhere.
      expect(violations).toBeGreaterThan(0);
    });
  }
});

describe('coverage per I/O point', () => {
  it('adds up to each row: crash states, distinct ones, violations and sampled points', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'protected-restore.json'), 'protected-restore');
    const engine = mutants.find((m) => m.name === 'clear-before-durable')!.factory;
    const result = await exhaust(engine, scenario, { seed: 'points', crashShrinkAttempts: 0 });
    const sum = (xs: readonly number[] | undefined) => (xs ?? []).reduce((t, x) => t + x, 0);
    for (const row of result.coverage) {
      expect(row.points?.crashStates).toHaveLength(row.ioPoints);
      expect(sum(row.points?.crashStates), row.mode).toBe(row.crashStates);
      expect(sum(row.points?.distinct), row.mode).toBe(row.distinctCrashStates);
      expect(sum(row.points?.sampled), row.mode).toBe(row.sampledPoints);
    }
    expect(sum(result.coverage.flatMap((r) => r.points?.violations ?? []))).toBe(result.violations.length);
    // The sums are only worth checking if something was sampled and something failed.
    expect(result.coverage.some((r) => r.sampledPoints > 0)).toBe(true);
    expect(result.violations.length).toBeGreaterThan(0);
  });
});
