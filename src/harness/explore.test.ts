/**
 * What explore's counts mean: `cases` is the random cases drawn and run, up to and including the
 * first failing one; the runs fast-check spends shrinking that failure are not cases.
 */
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import { explore, scanShard } from './explore.js';

const engine = mutants.find((m) => m.name === 'clear-before-durable')!.factory;
const engineArgs = '--engine mutant:clear-before-durable';

describe('explore counts', () => {
  it('cases: the runs up to the first failure, not the shrink runs after it', async () => {
    const scan = await scanShard(engine, { seed: '7', runs: 300, engineArgs });
    expect(scan.firstFailure).toBeDefined();
    const result = await explore(engine, { seed: '7', runs: 300, engineArgs, crashShrinkAttempts: 0 });
    expect(result.violations).toHaveLength(1);
    expect(result.cases).toBe(scan.firstFailure! + 1);
    const before = Object.entries(scan.crashStates).filter(([run]) => Number(run) <= scan.firstFailure!);
    expect(result.crashStates).toBe(before.reduce((t, [, n]) => t + n, 0));
  });

  it('cases: every run when every check holds', async () => {
    const result = await explore(referenceEngine, { seed: '7', runs: 30, engineArgs: '--engine reference' });
    expect(result.violations).toEqual([]);
    expect(result.cases).toBe(30);
  });
});
