/** `prestore merge` against real shard results: the whole run back, or a clear refusal. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-merge-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const sink = { write: (s: string) => chunks.push(String(s)) > 0 } as unknown as CommandIo['stdout'];
  const code = await runCli(argv, { stdout: sink, stderr: sink, env: {}, cwd: dir });
  return { code, out: chunks.join('') };
}

const json = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, number>;

describe('prestore merge', () => {
  it('gives back the whole run from its shards', { timeout: 60_000 }, async () => {
    for (const i of [1, 2, 3]) expect((await cli(['exhaust', 'protected-restore', 'nearly-equal', '--shard', `${i}/3`, '--json', `s${i}.json`])).code).toBe(0);
    expect((await cli(['exhaust', 'protected-restore', 'nearly-equal', '--json', 'whole.json'])).code).toBe(0);
    // Not shards of this run: another seed, another shard count.
    expect((await cli(['exhaust', 'protected-restore', 'nearly-equal', '--seed', 'other', '--shard', '2/3', '--json', 'other-seed.json'])).code).toBe(0);
    expect((await cli(['exhaust', 'protected-restore', 'nearly-equal', '--shard', '2/2', '--json', 'half.json'])).code).toBe(0);
    const merged = await cli(['merge', 's1.json', 's2.json', 's3.json', '--json', 'merged.json', '--junit', 'merged.xml']);
    expect(merged.code).toBe(0);
    expect(merged.out).toContain('merged from 3 shards');
    for (const field of ['cases', 'crashStates', 'distinctCrashStates']) expect(json('merged.json')[field]).toBe(json('whole.json')[field]);
    expect(readFileSync(join(dir, 'merged.xml'), 'utf8')).toMatch(/^<\?xml/);
  });

  it('exits 1 when a shard found a violation', { timeout: 60_000 }, async () => {
    for (const i of [1, 2]) await cli(['exhaust', 'protected-restore', '--engine', 'mutant:reads-from-source', '--shard', `${i}/2`, '--json', `m${i}.json`]);
    const merged = await cli(['merge', 'm1.json', 'm2.json']);
    expect(merged.code).toBe(1);
    expect(merged.out).toMatch(/reads-right/);
  });

  it.each([
    [['s1.json', 's3.json'], /shard 2\/3 missing/],
    [['s1.json', 's2.json', 's2.json', 's3.json'], /shard 2\/3 again/],
    [['s1.json', 's2.json', 'm1.json'], /not shards of one run/],
    [['s1.json', 'other-seed.json', 's3.json'], /other-seed\.json: seed is "other", but s1\.json has "prestore": not shards of one run/],
    [['s1.json', 'half.json', 's3.json'], /half\.json: shard 2\/2 of 2, but s1\.json is one of 3/],
    [['whole.json'], /not of a shard/],
    [['nothing.json'], /nothing\.json: no such file/],
  ])('refuses %j, naming why', async (files, message) => {
    const r = await cli(['merge', ...files]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(message);
  });
});
