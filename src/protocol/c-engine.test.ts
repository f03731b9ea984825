/**
 * The C example engine (examples/c_engine.c), built here with the system's `cc`: it speaks the
 * binary framing, passes exhaust and explore on the command line, and its switchable ordering bug
 * is caught. Without `cc` the tests skip with a notice, unless PRESTORE_REAL_CLIENTS=1 (CI), where
 * that is a failure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/text-sink.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir, loadScenario, packageRoot } from '../harness/scenario-file.js';
import { allProcessesEnded, endEngineProcesses, liveProcesses, stdioEngine } from './stdio-engine.js';

const required = process.env.PRESTORE_REAL_CLIENTS === '1';
const dir = mkdtempSync(join(tmpdir(), 'prestore-c-engine-'));
const bin = join(dir, 'c_engine');
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasCc && !required) process.stderr.write('NOTICE: skipped the C example engine tests: no cc; set PRESTORE_REAL_CLIENTS=1 to make this a failure\n');
const test = hasCc || required ? it : it.skip;

beforeAll(() => {
  if (!hasCc) return;
  const built = spawnSync('cc', ['-std=c99', '-Wall', '-Wextra', '-pedantic', '-O2', '-o', bin, join(packageRoot(), 'examples', 'c_engine.c')], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc could not build examples/c_engine.c:\n${built.stderr}`);
  // Standard C: any warning is a portability problem to fix, not to live with.
  expect(built.stderr).toBe('');
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  // exhaust can leave an engine instance it never disposed of (and so its process) serving.
  endEngineProcesses();
  await allProcessesEnded();
  expect(liveProcesses()).toBe(0);
});

const cli = (argv: readonly string[]) => runCaptured(argv, {}, packageRoot());

describe('the C example engine', () => {
  test('is built by cc (PRESTORE_REAL_CLIENTS=1 needs it)', () => {
    expect(hasCc, 'PRESTORE_REAL_CLIENTS=1 but no cc: apt-get install gcc').toBe(true);
  });

  test('passes exhaust of every bundled scenario over binary frames', { timeout: 240_000 }, async () => {
    const r = await cli(['exhaust', 'scenarios/', '--engine-cmd', bin]);
    expect(r.out).toMatch(/every check held/);
    expect(r.code).toBe(0);
    // Every bundled file ran, not just those some earlier test chose.
    for (const name of readdirSync(bundledScenariosDir()).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'))) expect(r.out).toContain(name.replace(/\.json$/, ''));
  });

  test('passes the audit of every instance where host calls are made alongside a copy step and crash together', { timeout: 120_000 }, async () => {
    const r = await cli(['exhaust', 'host-alongside-copy', '--audit-rate', '1', '--engine-cmd', bin]);
    expect(r.out).toMatch(/every check held/);
    expect(r.code).toBe(0);
  });

  test('pipelines its writes and flushes, with the I/O, crash states and verdicts of waiting for each answer, I/O errors included', { timeout: 120_000 }, async () => {
    const hello = spawnSync(bin, [], { input: '', encoding: 'utf8' }).stdout.split('\n')[0]!;
    expect(JSON.parse(hello).capabilities).toContain('pipeline');
    const scenario = await loadScenario(join(bundledScenariosDir(), 'write-after-copy-error.json'), 'write-after-copy-error');
    // Depth 2: a crash at every I/O point after each I/O error, so a request performed that the
    // waiting engine never made is counted.
    const run = (pipeline: boolean) => exhaust(stdioEngine(bin, { pipeline, lanes: 1 }), scenario, { seed: 'pipeline', eio: true, ioErrorsOnly: true, depth: 2, modes: ['keep'] });
    const waiting = await run(false);
    expect(waiting.violations).toEqual([]);
    expect(waiting.coverage[0]!.ioErrors).toBeGreaterThan(0);
    expect(waiting.coverage[0]!.crashesAfterIoError).toBeGreaterThan(0);
    expect(await run(true)).toEqual(waiting);
  });

  test('passes explore', { timeout: 120_000 }, async () => {
    const r = await cli(['explore', '--runs', '30', '--seed', 'c-engine', '--engine-cmd', bin]);
    expect(r.out).toMatch(/every check held/);
    expect(r.code).toBe(0);
  });

  test('is caught when its copier clears D before the copy is durable, with the same report with --workers 2 as with one', { timeout: 120_000 }, async () => {
    const buggy = `${bin} --bug no-flush-before-clear`;
    const report = async (workers: number) => {
      const file = join(dir, `workers-${workers}.json`);
      const r = await cli(['exhaust', 'protected-restore', '--engine-cmd', buggy, '--workers', String(workers), '--json', file]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/reads-right/);
      expect(r.out).toContain(`prestore replay --engine-cmd '${buggy}'`);
      const { elapsedMs: _, parts, ...result } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & { parts: Record<string, unknown>[] };
      return { code: r.code, replays: r.out.split('\n').filter((l) => l.includes('prestore replay')), result, parts: parts.map(({ elapsedMs: __, ...p }) => p) };
    };
    const one = await report(1);
    expect(one.replays.length).toBeGreaterThan(0);
    expect(await report(2)).toEqual(one);
  });

  test('gives the same verdict, replay lines, JSON result and counterexample files with four engine lanes as with one, to the end and stopping at the first', { timeout: 240_000 }, async () => {
    const buggy = `${bin} --bug no-flush-before-clear`;
    const report = async (lanes: number, more: readonly string[]) => {
      // The same paths for both, which the output names.
      const file = join(dir, 'lanes.json');
      const saved = join(dir, 'lanes');
      rmSync(saved, { recursive: true, force: true });
      const r = await cli(['exhaust', 'protected-restore', '--audit-rate', '0.3', '--engine-cmd', buggy, '--engine-lanes', String(lanes), '--json', file, '--save-failures', saved, ...more]);
      expect(r.out).toMatch(/reads-right/);
      const { elapsedMs: _, ...result } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      const failures = readdirSync(saved).sort().map((name) => [name, readFileSync(join(saved, name), 'utf8')]);
      return { code: r.code, out: r.out.replace(/ *\d[\d.]* (ms|s)\b/g, '').replace(/\d+ min/g, '').replace(/ +/g, ' '), result: JSON.stringify(result, (k, v: unknown) => (/elapsed|Ms$/.test(k) ? undefined : v)), failures };
    };
    for (const more of [[], ['--stop-on-first']]) {
      const one = await report(1, more);
      expect(one.code).toBe(1);
      expect(one.failures.length).toBeGreaterThan(0);
      expect(await report(4, more)).toEqual(one);
    }
  });
});
