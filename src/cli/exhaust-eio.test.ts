/**
 * `prestore exhaust --eio` as a user runs it: the flag in the help, the mutant only an I/O error
 * reveals passing without it and failing with it, the I/O errors column, and the printed replay
 * line and saved counterexample replaying the failure exactly.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCaptured } from './text-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-exhaust-eio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cli = (argv: string[]) => runCaptured(argv, {}, dir);
const MUTANT = ['--engine', 'mutant:bit-before-write'];

describe('prestore exhaust --eio', () => {
  it('is in the help', async () => {
    const r = await cli(['exhaust', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--eio {2,}also an I\/O error at every I\/O point, transient and sticky/);
  });

  it('catches bit-before-write, which passes without it, and its replay line and file fail again', { timeout: 60_000 }, async () => {
    const without = await cli(['exhaust', 'write-retry-after-error', ...MUTANT]);
    expect(without.code).toBe(0);
    expect(without.out).not.toContain('I/O errors');
    const r = await cli(['exhaust', 'write-retry-after-error', ...MUTANT, '--eio', '--save-failures', 'cx']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/I\/O errors \(distinct\) +\d+ \(\d+\)/);
    expect(r.out).toMatch(/write-retry-after-error +drop +45 .* 90 \(\d+\)/);
    const rule = /VIOLATION of rule \d \(([\w-]+)\)/.exec(r.out)![1]!;
    const line = r.out.split('\n').find((l) => l.startsWith('prestore replay '))!;
    // Exactly what the user typed, the engine flags included, and the case: nothing else to run.
    expect(line).toMatch(/^prestore replay --engine mutant:bit-before-write c1\.[\w-]+$/);
    const replayed = await cli(line.split(' ').slice(1));
    expect(replayed.code).toBe(1);
    expect(replayed.out).toContain(`VIOLATION of rule ${rule}`);
    expect(replayed.out).toMatch(/ EIO\n/);
    const [file] = readdirSync(join(dir, 'cx'));
    const fromFile = await cli(['replay', join('cx', file!)]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.out).toContain(`VIOLATION of rule ${rule}`);
    expect((await cli(['replay', '--engine', 'reference', join('cx', file!)])).code).toBe(0);
  });
});
