/**
 * No report can pass for a run of another engine: every summary, JSON and JUnit report names the
 * engine tested on its first line (exhaust, explore, merge, mutants), the README's CI recipe
 * tests the vendor's engine rather than the bundled one, and a replay line from a campaign run
 * from code never names an engine other than the one that failed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { explore } from '../harness/explore.js';
import { packageRoot } from '../harness/scenario-file.js';
import { mutants } from '../mutants/catalogue.js';
import { runCaptured } from './text-sink.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-reports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (argv: string[]) => runCaptured(argv, {}, dir);

const firstLine = (text: string) => text.split('\n')[0]!;
const fileHead = (file: string) => firstLine(readFileSync(join(dir, file), 'utf8'));

describe('the first line of every report names the engine', () => {
  it('exhaust with violations: the summary, the JSON and the JUnit report', { timeout: 60_000 }, async () => {
    const r = await cli(['exhaust', 'protected-restore', '--engine', 'mutant:reads-from-source', '--json', 'r.json', '--junit', 'r.xml']);
    expect(r.code).toBe(1);
    expect(firstLine(r.out)).toBe('prestore exhaust: engine mutant:reads-from-source, seed prestore');
    expect(fileHead('r.json')).toBe('{ "engine": "mutant:reads-from-source",');
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'))).toMatchObject({ engine: 'mutant:reads-from-source', ok: false });
    expect(fileHead('r.xml')).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><testsuites name="prestore exhaust: engine mutant:reads-from-source, seed prestore"/);
  });

  it('explore to standard output: the JSON first, the summary on standard error', async () => {
    const r = await cli(['explore', '--runs', '3', '--seed', 's', '--json', '-']);
    expect(r.code).toBe(0);
    expect(firstLine(r.out)).toBe('{ "engine": "reference",');
    expect(firstLine(r.err)).toBe('prestore explore: engine reference, seed s');
  });

  it('merge', { timeout: 60_000 }, async () => {
    for (const i of [1, 2]) await cli(['exhaust', 'protected-restore', '--engine', 'mutant:reads-from-source', '--shard', `${i}/2`, '--json', `s${i}.json`]);
    const r = await cli(['merge', 's1.json', 's2.json', '--json', 'm.json', '--junit', 'm.xml']);
    expect(r.code).toBe(1);
    expect(firstLine(r.out)).toBe('prestore exhaust: engine mutant:reads-from-source, seed prestore, merged from 2 shards');
    expect(fileHead('m.json')).toBe('{ "engine": "mutant:reads-from-source",');
    expect(JSON.parse(readFileSync(join(dir, 'm.json'), 'utf8'))).toMatchObject({ shards: 2 });
    expect(fileHead('m.xml')).toContain('<testsuites name="prestore exhaust: engine mutant:reads-from-source, seed prestore, merged from 2 shards"');
  });

  it('mutants', { timeout: 60_000 }, async () => {
    const r = await cli(['mutants', 'reads-from-source', '--runs', '0', '--junit', 'k.xml']);
    expect(r.code).toBe(0);
    expect(firstLine(r.out)).toBe('prestore mutants: engines mutant:reads-from-source, seed prestore-mutants');
    expect(fileHead('k.xml')).toContain('<testsuites name="prestore mutants: engines mutant:reads-from-source, seed prestore-mutants"');
  });
});

describe("the README's CI recipe", () => {
  it('names the engine in every campaign it runs, as the example workflow does', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    const workflow = readFileSync(join(packageRoot(), 'examples', 'github-actions.yml'), 'utf8');
    const yaml = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).join('\n') + workflow;
    const campaigns = yaml.split('\n').filter((line) => /\bprestore (exhaust|explore|start)\b/.test(line));
    expect(campaigns.length).toBeGreaterThan(0);
    for (const line of campaigns) expect(line, line).toMatch(/--engine(-cmd)? (?!reference\b)\S/);
  });
});

describe('a replay line from a campaign run from code', () => {
  const mutant = mutants.find((m) => m.name === 'reads-from-source')!;

  it('does not name another engine, and prestore replay refuses it until the engine is named', { timeout: 60_000 }, async () => {
    const result = await explore(mutant.factory, { seed: 'from-code', runs: 100, crashShrinkAttempts: 0 });
    const line = result.violations[0]!.replay;
    expect(line).not.toContain('--engine reference');
    expect(line).toMatch(/^prestore replay --engine from-code:mutant:reads-from-source c1\./);
    const pasted = await cli(['replay', line]);
    expect(pasted.code).toBe(2);
    expect(pasted.err).toContain('--engine from-code:mutant:reads-from-source: this line comes from a campaign run from code that did not say how to load its engine "mutant:reads-from-source"');
    const named = await cli(['replay', '--engine', 'mutant:reads-from-source', line]);
    expect(named.code).toBe(1);
    expect(named.out).toContain('VIOLATION of rule 2 (reads-right)');
  });
});
