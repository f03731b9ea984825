/**
 * `--html FILE` and `prestore report RESULT.json` as a user runs them, against a real mutant: the
 * page at the end of a run is the page drawn later from its result file; older result files still
 * draw; an engine that cannot be run here is drawn from text, and says so; bad files exit 2.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from './text-sink.js';
import type { JsonResult } from './report.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-html-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (argv: string[]) => runCaptured(argv, {}, dir);

const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const articles = (html: string) => (html.match(/<article class="violation"/g) ?? []).length;

let result: JsonResult;

beforeAll(async () => {
  const r = await cli(['exhaust', 'protected-restore', '--engine', 'mutant:clear-before-durable', '--json', 'r.json', '--html', 'r.html']);
  expect(r.code, r.err).toBe(1);
  result = JSON.parse(read('r.json')) as JsonResult;
}, 120_000);

describe('--html on a campaign', () => {
  it('draws the first violation of each rule, the shrunk one, and lists the rest, each with its replay line', () => {
    const html = read('r.html');
    expect(new Set(result.violations.map((v) => v.rule))).toEqual(new Set(['reads-right']));
    expect(articles(html)).toBe(1);
    expect(result.violations[0]!.crash).toBeDefined();
    expect(html).toContain('class="timeline-svg"');
    expect(html).toContain('class="heatmap"');
    for (const v of result.violations.slice(0, 101)) expect(html).toContain(v.replay);
    expect(html).toContain(`… and ${result.violations.length - 1 - 100} more violations`);
  });

  it('is the page prestore report draws from the run\'s --json result, byte for byte', async () => {
    const r = await cli(['report', 'r.json', '-o', 'again.html']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('report written: again.html');
    expect(read('again.html')).toBe(read('r.html'));
  });

  it('goes to standard output with -, the summary then to standard error; two reports cannot both', async () => {
    const r = await cli(['report', 'r.json', '-o', '-']);
    expect(r.code).toBe(0);
    expect(r.out).toBe(read('r.html'));
    const both = await cli(['exhaust', 'protected-restore', '--json', '-', '--html', '-']);
    expect(both.code).toBe(2);
    expect(both.err).toContain('--json and --html cannot both go to standard output');
  });
});

/** The crash point of the run's first (shrunk) violation, as its crash words name it. */
function firstCrashPoint(): number {
  const words = (result.violations[0]!.crash ?? []).join('\n');
  const m = /crash at I\/O point (\d+)/.exec(words);
  expect(m, words).not.toBeNull();
  return Number(m![1]);
}

describe('prestore report on other files', () => {
  it('draws a result written before per-point coverage and crash words were kept', async () => {
    const old = { ...result, coverage: result.coverage.map(({ points: _, ...row }) => row), violations: result.violations.map(({ crash: _, ...v }) => v) };
    writeFileSync(join(dir, 'old.json'), JSON.stringify(old));
    expect((await cli(['report', 'old.json', '-o', 'old.html'])).code).toBe(0);
    const html = read('old.html');
    expect(html).toContain('is not in this result file');
    expect(articles(html)).toBe(1);
    // Replayed all the same: the picture knows the crash in words from the replay.
    expect(html).toContain(`crash at I/O point ${firstCrashPoint()}`);

    // Only the documented minimum fields: no parts, coverage, rule counts or command.
    const { engine, seed, cases, crashStates, distinctCrashStates, violations, elapsedMs } = result;
    writeFileSync(join(dir, 'spec.json'), JSON.stringify({ engine, seed, cases, crashStates, distinctCrashStates, violations, elapsedMs }));
    expect((await cli(['report', 'spec.json', '-o', 'spec.html'])).code).toBe(0);
    expect(articles(read('spec.html'))).toBeGreaterThan(0);
  });

  it('draws from the kept trace lines when the engine a line names cannot be run here, and says why', async () => {
    const elsewhere = { ...result, violations: result.violations.slice(0, 1).map((v) => ({ ...v, replay: v.replay.replace('--engine mutant:clear-before-durable', '--engine ./not-here.js') })) };
    writeFileSync(join(dir, 'elsewhere.json'), JSON.stringify(elsewhere));
    const r = await cli(['report', 'elsewhere.json', '-o', 'elsewhere.html']);
    expect(r.code, r.err).toBe(0);
    const html = read('elsewhere.html');
    expect(html).toContain('Drawn from the last I/O the result file kept, because its engine cannot be run here');
    expect(html).toContain('not-here.js');
    expect(html).toContain(`class="crash-line" data-point="${firstCrashPoint()}"`);
  });

  it('draws the kill matrix of prestore mutants, each killed mutant replayed', { timeout: 120_000 }, async () => {
    const r = await cli(['mutants', 'clear-before-durable', 'clone-write', '--runs', '0', '--json', 'm.json', '--html', 'm.html']);
    expect(r.code, r.err).toBe(0);
    const report = await cli(['report', 'm.json', '-o', 'm2.html']);
    expect(report.code, report.err).toBe(0);
    for (const html of [read('m.html'), read('m2.html')]) {
      expect(html).toContain('<table class="kill">');
      expect(articles(html)).toBe(2);
      expect(html).toMatch(/data-mutant="clone-write"[^]*?data-rule="clone-preserved" data-caught data-expected>◉/);
    }
  });

  it('refuses what is not a result, naming the field', async () => {
    const cases: [string, string, RegExp][] = [
      ['not.json', '{ "engine": ', /not\.json: invalid JSON at line 1/],
      ['rule.json', JSON.stringify({ ...result, violations: [{ ...result.violations[0], rule: 'no-such-rule' }] }), /rule\.json: violations\[0\]\.rule: "no-such-rule" is not a rule/],
      ['points.json', JSON.stringify({ ...result, coverage: [{ ...result.coverage[0], points: { ...result.coverage[0]!.points, sampled: [1] } }] }), /points\.json: coverage\[0\]\.points\.sampled: must be 33 numbers/],
      ['cases.json', JSON.stringify({ ...result, cases: '3' }), /cases\.json: cases: must be a number/],
      ['rows.json', JSON.stringify([{ mutant: 'x' }]), /rows\.json: \[0\]\.description: missing/],
      ['ce.json', JSON.stringify({ format: 'prestore-counterexample' }), /ce\.json: this is a counterexample file.*prestore replay ce\.json --html/],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(join(dir, name), text);
      const r = await cli(['report', name, '-o', 'x.html']);
      expect(r.code, name).toBe(2);
      expect(r.err, name).toMatch(message);
    }
    expect((await cli(['report', 'r.json'])).err).toContain('report needs -o FILE.html');
    expect((await cli(['report', 'missing.json', '-o', 'x.html'])).err).toContain('missing.json: no such file');
    expect((await cli(['report', 'r.json', '-o', 'no-dir/x.html'])).code).toBe(2);
  });
});

describe('prestore replay --html', () => {
  it('draws the one case it replays', { timeout: 30_000 }, async () => {
    const r = await cli(['replay', result.violations[0]!.replay, '--html', 'replay.html']);
    expect(r.code).toBe(1);
    const html = read('replay.html');
    expect(articles(html)).toBe(1);
    expect(html).toContain('data-verdict="failed"');
    expect(html).toContain(result.violations[0]!.replay);
  });
});
