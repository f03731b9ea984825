/**
 * A scenario directory that cannot be listed is bad input naming it and why, not an internal
 * error. Run as root, no directory is unreadable, so the listing fails here through a stand-in
 * for `readdir` that fails as it does on a directory without read permission.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { TextSink } from './text-sink.js';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';

vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  return { ...real, readdir: vi.fn(real.readdir) };
});


const dir = mkdtempSync(join(tmpdir(), 'prestore-unreadable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a scenario directory that cannot be listed', () => {
  it('exit 2, naming the directory and the reason', async () => {
    mkdirSync(join(dir, 'locked'));
    const denied = Object.assign(new Error(`EACCES: permission denied, scandir '${join(dir, 'locked')}'`), { code: 'EACCES', errno: -13, syscall: 'scandir' });
    vi.mocked(readdir).mockRejectedValueOnce(denied);
    const stdout = new TextSink();
    const stderr = new TextSink();
    const io: CommandIo = { stdout, stderr, env: {}, cwd: dir };
    const code = await runCli(['exhaust', 'locked'], io);
    expect(stderr.text).toBe('prestore exhaust: locked: cannot list the directory: permission denied\n');
    expect(code).toBe(2);
  });
});
