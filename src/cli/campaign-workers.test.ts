/**
 * `--workers N` changes when the answer comes, never the answer: the same counts, coverage and
 * violations (shrunk alike) as one thread, for explore and exhaust, for an engine that passes and
 * one that fails. The workers run the compiled harness in dist/, which `npm test` builds first
 * and which is rebuilt here when any source is newer than it.
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../harness/scenario-file.js';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-workers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The newest modification time of the compiled sources under `path`. */
function newestSource(path: string): number {
  return Math.max(0, ...readdirSync(path, { withFileTypes: true }).map((e) => (e.isDirectory() ? newestSource(join(path, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? statSync(join(path, e.name)).mtimeMs : 0)));
}

beforeAll(() => {
  const root = packageRoot();
  const built = join(root, 'dist', 'src', 'cli', 'campaign-worker.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestSource(join(root, 'src'))) return;
  try {
    execSync('npx tsc -p .', { cwd: root, stdio: 'pipe' });
  } catch (e) {
    // tsc emits despite type errors (another change in progress); only a missing worker is fatal.
    if (!existsSync(built)) throw e;
  }
}, 180_000);

const CAMPAIGNS = {
  exhaust: ['exhaust', 'fractured-writes', 'unprotected-restore'],
  'exhaust --eio': ['exhaust', 'write-retry-after-error', '--eio'],
  explore: ['explore', '--runs', '300', '--seed', 'workers'],
};

async function campaign(kind: keyof typeof CAMPAIGNS, engine: string, workers: number): Promise<Record<string, unknown>> {
  const file = `${kind.replace(/\W/g, '-')}-${engine.replace(/\W/g, '-')}-${workers}.json`;
  const sink = { write: () => true } as unknown as CommandIo['stdout'];
  const code = await runCli([...CAMPAIGNS[kind], '--engine', engine, '--workers', String(workers), '--json', file], { stdout: sink, stderr: sink, env: {}, cwd: dir });
  expect(code).toBe(engine === 'reference' ? 0 : 1);
  const { elapsedMs: _, parts, ...result } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown> & { parts: Record<string, unknown>[] };
  return { ...result, parts: parts.map(({ elapsedMs: __, ...p }) => p) };
}

describe('--workers', () => {
  it.each([
    ['exhaust', 'reference'],
    ['exhaust', 'mutant:unprotected-no-mirror'],
    ['exhaust --eio', 'reference'],
    ['exhaust --eio', 'mutant:bit-before-write'],
    ['explore', 'reference'],
    ['explore', 'mutant:ack-before-intent'],
  ] as const)('%s gives the one-thread result with 2 and 3 workers: %s', { timeout: 120_000 }, async (kind, engine) => {
    const one = await campaign(kind, engine, 1);
    expect(await campaign(kind, engine, 2)).toEqual(one);
    expect(await campaign(kind, engine, 3)).toEqual(one);
  });

  it('refuses --workers with --stop-on-first or --shard', async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) > 0 } as unknown as CommandIo['stdout'];
    expect(await runCli(['exhaust', 'nearly-equal', '--workers', '2', '--stop-on-first'], { stdout: sink, stderr: sink, env: {}, cwd: dir })).toBe(2);
    expect(await runCli(['exhaust', 'nearly-equal', '--workers', '2', '--shard', '1/2'], { stdout: sink, stderr: sink, env: {}, cwd: dir })).toBe(2);
    expect(out.join('')).toMatch(/--workers and --stop-on-first.*\n?[\s\S]*--workers and --shard/);
  });
});
