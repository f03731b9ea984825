/**
 * checkEngine, the one call a vendor's test suite makes: it runs the scenarios and the random
 * cases, says ok only when every check held in work that ran, and formats a failure as the
 * command line does, with a replay line naming the engine as the caller said.
 */
import { describe, expect, it } from 'vitest';
import { checkEngine } from './check-engine.js';
import { referenceEngine } from './engine/reference/index.js';
import { UsageError } from './errors.js';
import { decodeCase } from './harness/replay-line.js';
import { runCase } from './harness/run-case.js';
import { junitReport } from './cli/report.js';
import { mutants } from './mutants/catalogue.js';

const buggy = mutants.find((m) => m.name === 'clear-before-durable')!.factory;

describe('checkEngine', () => {
  it('the reference engine: ok, every part ran, the report says every check held', { timeout: 60_000 }, async () => {
    const progress: string[] = [];
    const check = await checkEngine(referenceEngine, { engineArgs: '--engine reference', scenarios: ['nearly-equal'], runs: 5, onProgress: (part) => progress.push(part) });
    expect(check.ok).toBe(true);
    expect(check.violations).toEqual([]);
    expect(check.report.parts.map((p) => p.name)).toEqual(['nearly-equal', 'explore']);
    expect(check.cases).toBeGreaterThan(5);
    expect(check.crashStates).toBeGreaterThan(10);
    expect(new Set(progress)).toEqual(new Set(['nearly-equal', 'explore']));
    expect(check.format()).toMatch(/every check held\n$/);
  });

  it('a buggy engine: not ok; each failure formatted as the command line does, replaying against the engine named', { timeout: 60_000 }, async () => {
    const engineArgs = '--engine ./engines/buggy.mjs';
    const check = await checkEngine(buggy, { engineArgs, scenarios: ['protected-restore'], runs: 0 });
    expect(check.ok).toBe(false);
    expect(check.failures.length).toBeGreaterThan(0);
    expect(check.violations.length).toBeGreaterThanOrEqual(check.failures.length);
    const text = check.format();
    expect(text).toContain('VIOLATION of rule 2 (reads-right) in protected-restore');
    expect(text).toMatch(/^ {2}crash at I\/O point \d+: /m);
    expect(text).toContain('the last I/O before it:');
    const lines = text.split('\n').filter((l) => l.startsWith('prestore replay '));
    expect(lines).toHaveLength(check.failures.length);
    for (const line of lines) {
      expect(line.startsWith(`prestore replay ${engineArgs} c1.`)).toBe(true);
      const { case: c, seed } = decodeCase(line.split(' ').pop()!);
      expect((await runCase(buggy, c, { seed, engineArgs })).violations[0]?.rule).toBe('reads-right');
    }
    expect(check.engine).toBe('./engines/buggy.mjs');
    expect(junitReport(check.report)).toContain('<failure message="reads-right: ');
  });

  it('names an out-of-process engine as the report does', async () => {
    const check = await checkEngine(referenceEngine, { engineArgs: '--engine-cmd "python3 my_engine.py"', scenarios: ['nearly-equal'], runs: 0, modes: ['drop'] });
    expect(check.engine).toBe('cmd: python3 my_engine.py');
    expect(check.report.parts[0]!.result.coverage.map((r) => r.mode)).toEqual(['drop']);
  });

  it.each([
    [{ engineArgs: '' }, 'engineArgs must say how the command line reaches the engine'],
    [{ engineArgs: 'reference' }, 'engineArgs must say how the command line reaches the engine'],
    [{ engineArgs: '--engine x.mjs', runs: -1 }, 'runs must be a whole number'],
    [{ engineArgs: '--engine x.mjs', depth: 3 as 1 }, 'depth must be 1 or 2'],
    [{ engineArgs: '--engine x.mjs', scenarios: [], runs: 0 }, 'nothing to check'],
  ])('refuses options that cannot make a fair check: %j', async (options, message) => {
    const error = await checkEngine(referenceEngine, options).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(message);
  });

  it('eio: an engine only an I/O error shows buggy fails with it, passes without it', { timeout: 60_000 }, async () => {
    const bitBeforeWrite = mutants.find((m) => m.name === 'bit-before-write')!.factory;
    const options = { engineArgs: '--engine mutant:bit-before-write', scenarios: ['write-retry-after-error'], runs: 0 } as const;
    expect((await checkEngine(bitBeforeWrite, options)).ok).toBe(true);
    const check = await checkEngine(bitBeforeWrite, { ...options, eio: true });
    expect(check.ok).toBe(false);
    expect(check.report.run.eio).toBe(true);
    expect(check.format()).toMatch(/I\/O errors \(distinct\) +\d+ \(\d+\)/);
  });
});
