/** Flag values, shell quoting of replay lines, and the report writers' escaping and atomicity. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { integerFlag, modesFlag, shellQuote, shellSplit } from './args.js';
import { UsageError } from './command.js';
import { writeAtomically, xmlEscape } from './report.js';
import { distinctFailures } from './failures.js';
import { formatMs } from './summary.js';

describe('shell words', () => {
  it('quotes only what needs it', () => {
    expect(shellQuote('mutant:clone-write')).toBe('mutant:clone-write');
    expect(shellQuote('./dist/engine.js')).toBe('./dist/engine.js');
    expect(shellQuote('python3 x.py')).toBe(`'python3 x.py'`);
    expect(shellQuote(`it's`)).toBe(`'it'\\''s'`);
    expect(shellQuote('')).toBe(`''`);
  });

  it('splitting a line of quoted words gives the words back', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme-ascii' }), { minLength: 1, maxLength: 6 }), (words) => {
        expect(shellSplit(words.map(shellQuote).join(' '))).toEqual(words);
      }),
    );
  });

  it('splits double quotes and backslashes as a shell does', () => {
    expect(shellSplit(`a "b c" d\\ e "f\\"g"`)).toEqual(['a', 'b c', 'd e', 'f"g']);
    expect(() => shellSplit(`'open`)).toThrow(UsageError);
  });
});

describe('flag values', () => {
  it('integers within bounds', () => {
    expect(integerFlag('runs', undefined, 100, 1, 10)).toBe(100);
    expect(integerFlag('runs', '7', 100, 1, 10)).toBe(7);
    expect(() => integerFlag('runs', '-1', 100, 1, 10)).toThrow(UsageError);
    expect(() => integerFlag('runs', '-1', 100, 0, 10)).toThrow('--runs "-1": must be a whole number from 0 to 10');
    expect(() => integerFlag('runs', '1e3', 100, 1, 10)).toThrow('--runs "1e3": must be a positive whole number from 1 to 10');
    expect(() => integerFlag('runs', '11', 100, 1, 10)).toThrow('--runs 11: must be from 1 to 10');
  });

  it('cache modes', () => {
    expect(modesFlag('torn, drop')).toEqual(['torn', 'drop']);
    expect(modesFlag(undefined)).toBeUndefined();
    expect(() => modesFlag('')).toThrow(UsageError);
  });
});

describe('reports', () => {
  it('escapes XML and replaces characters XML cannot hold', () => {
    expect(xmlEscape(`<a & "b" 'c'>`)).toBe('&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;');
    expect(xmlEscape('x\u0000y\u001bz')).toBe('x\uFFFDy\uFFFDz');
    expect(xmlEscape('line\nbreak')).toBe('line&#10;break');
  });

  const dir = mkdtempSync(join(tmpdir(), 'prestore-report-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically: the old file stays whole until the new one replaces it, no temp left', async () => {
    writeFileSync(join(dir, 'r.json'), 'old');
    await writeAtomically('r.json', 'new', dir);
    expect(readFileSync(join(dir, 'r.json'), 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['r.json']);
  });

  it('a failed write leaves neither a half file nor a temp file', async () => {
    await expect(writeAtomically('missing/r.json', 'x', dir)).rejects.toThrow('cannot write missing/r.json');
    expect(readdirSync(dir)).toEqual(['r.json']);
  });
});

describe('summary', () => {
  it('formats times', () => {
    expect(formatMs(12.4)).toBe('12 ms');
    expect(formatMs(4200)).toBe('4.2 s');
    expect(formatMs(125_000)).toBe('2 min 05 s');
  });

  it('reports the first violation of each rule in each part once, naming every part that found it', () => {
    const v = (rule: 'progress' | 'reads-right', i: number, token = `c1.X${i}`) => ({ rule, message: String(i), trace: [], replay: `prestore replay --engine e ${token}` });
    const failures = distinctFailures([
      { name: 'a', violations: [v('progress', 0), v('progress', 1), v('reads-right', 2, 'c1.SAME'), v('progress', 3)] },
      { name: 'b', violations: [v('reads-right', 4, 'c1.SAME'), v('reads-right', 5)] },
      { name: 'c', violations: [v('reads-right', 6)] },
    ]);
    expect(failures.map((f) => [f.violation.message, f.where, f.alsoSeen])).toEqual([
      ['0', ['a'], 2],
      ['2', ['a', 'b'], 1],
      ['6', ['c'], 0],
    ]);
  });
});
