/**
 * `start` shards merge too: its exhaust parts and its explore part each keep their own violations
 * (a `start` result names the explore part's violations `scenario: "explore"`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-merge-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[]): Promise<number> {
  const sink = { write: () => true } as unknown as CommandIo['stdout'];
  return runCli(argv, { stdout: sink, stderr: sink, env: {}, cwd: dir });
}

type Result = { cases: number; crashStates: number; violations: { scenario: string; replay: string }[]; parts: { name: string; violations: number }[] };
const json = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Result;

it('merges start shards into the whole run, violations counted once, each in its own part', { timeout: 120_000 }, async () => {
  const start = ['start', '--engine', 'mutant:reads-from-source', '--runs', '20'];
  expect(await cli([...start, '--json', 'whole.json'])).toBe(1);
  for (const i of [1, 2]) await cli([...start, '--shard', `${i}/2`, '--json', `s${i}.json`]);
  expect(await cli(['merge', 's1.json', 's2.json', '--json', 'merged.json'])).toBe(1);
  const [whole, merged, shards] = [json('whole.json'), json('merged.json'), [json('s1.json'), json('s2.json')]];
  expect(merged.violations.length).toBe(shards[0]!.violations.length + shards[1]!.violations.length);
  for (const part of merged.parts) expect(part.violations).toBe(merged.violations.filter((v) => v.scenario === part.name).length);
  expect(merged.violations.some((v) => v.scenario === 'explore')).toBe(true);
  const exhausted = (r: Result) => r.violations.filter((v) => v.scenario !== 'explore').length;
  // Each exhaust violation is found by exactly one shard; explore stops at its first failure, per shard.
  expect(exhausted(merged)).toBe(exhausted(whole));
});
