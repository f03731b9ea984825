/**
 * The image tool as a real process, killed: `restore` and `resume` of the built binary are
 * SIGKILLed at seeded-random moments, over and over, and each campaign must end with the source
 * equal to the clone and the clone unchanged, byte for byte (what the README promises for real image files). Also SIGINT and
 * SIGTERM, which stop between steps with exit 130 and 143.
 *
 * The kill delays come from a seeded generator, but they are waited out on the real clock, and
 * where a kill lands depends on how fast this machine runs the process: that is the point of a
 * real-process test, so the run is not byte-for-byte reproducible. Each campaign asserts only the
 * outcome, which must hold wherever the kills land; the test also checks that enough kills landed
 * mid-copy to mean something.
 *
 * And two processes at once: a restore running through one metadata file locks the images, so a
 * restore of the same images through another metadata file is refused while it runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/text-sink.js';
import { builtBinary } from '../cli/built-binary.js';
import { seededRng } from '../devices/rng.js';
import { sha256File, writeSeededImage } from './fixtures.js';

let bin = '';
const root = mkdtempSync(join(tmpdir(), 'prestore-kill-'));
/** The image locks of this file's processes (the binary's and the in-process commands' alike). */
const locks = join(root, 'locks');
mkdirSync(locks);
/** The locks held. A process killed while taking one may leave its temporary file too, which is no lock. */
const heldLocks = () => readdirSync(locks).filter((name) => name.endsWith('.lock'));
const meta = join(root, 'm.meta');
const source = join(root, 's.img');
const clone = join(root, 'c.img');
// 32 MiB and a short last extent; 4 KiB extents, 16 KiB per step: a copy of about a second in
// some two thousand steps, so kills land before, inside and between steps alike.
const SIZE = (32 << 20) + 3 * 512;
const BATCH = '16K';

beforeAll(async () => {
  bin = builtBinary();
  await writeSeededImage(clone, SIZE, 'kill-clone');
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));


const cli = (...argv: string[]) => runCaptured(argv, { CI: '1', PRESTORE_LOCK_DIR: locks }, root);

async function state(): Promise<{ state: string; extentsRemaining: number; extents: number }> {
  const r = await cli('status', '--meta', meta, '--json', '-');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as { state: string; extentsRemaining: number; extents: number };
}

/**
 * A fresh campaign: the source all different from the clone, every D bit set. The metadata of
 * the last campaign goes first, in whatever state a test that failed midway left it.
 */
async function newPair(seed: string): Promise<void> {
  rmSync(meta, { force: true });
  await writeSeededImage(source, SIZE, seed);
  const r = await cli('init', '--source', source, '--clone', clone, '--meta', meta, '--extent', '4K', '--all-differ', '--force');
  expect(r.code, r.err).toBe(0);
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Processes started and not yet seen to end: a test that fails midway must not leave one holding the images' locks. */
const running = new Map<ChildProcess, Promise<Exit>>();
afterEach(async () => {
  for (const [child, exit] of running) {
    child.kill('SIGKILL');
    await exit;
  }
});

function start(...command: string[]): { child: ChildProcess; exit: Promise<Exit> } {
  const child = spawn(process.execPath, [bin, ...command, '--meta', meta, '--batch', BATCH], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: '1', PRESTORE_LOCK_DIR: locks } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exit = new Promise<Exit>((done) =>
    child.on('close', (code, signal) => {
      running.delete(child);
      done({ code, signal, stderr });
    }),
  );
  running.set(child, exit);
  return { child, exit };
}

const wait = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** `killed`: the process died by SIGKILL, which may leave its lock behind (the next run clears a dead pid's lock). */
async function expectRestored(cloneHash: string, killed = false): Promise<void> {
  expect(readFileSync(source).equals(readFileSync(clone)), 'source equals clone').toBe(true);
  expect(await sha256File(clone), 'clone unchanged').toBe(cloneHash);
  if (!killed) expect(heldLocks()).toEqual([]);
}

describe('a restore killed at any moment loses nothing', () => {
  it('SIGKILL at seeded-random moments, then resume, campaign after campaign', async () => {
    const cloneHash = await sha256File(clone);
    // How long this machine takes to start the binary with the restore's modules (a command's
    // modules load only when it runs, so `--version` would say too little): kills are spread
    // around the copy after it.
    const t0 = performance.now();
    await start('restore', '--help').exit;
    const startup = performance.now() - t0;
    const rng = seededRng('prestore-sigkill');
    const KILLS = 16;
    let campaign = 0;
    let midCopy = 0;
    let started = false;
    await newPair(`kill-source-${campaign}`);
    for (let kill = 0; kill < KILLS; kill++) {
      const run = start(started ? 'resume' : 'restore');
      await wait(startup * 0.7 + rng.below(Math.round(startup * 0.5) + 250));
      run.child.kill('SIGKILL');
      const exit = await run.exit;
      const s = await state();
      if (exit.code !== null) expect(exit.code, exit.stderr).toBe(0);
      if (s.state === 'restoring') {
        started = true;
        if (s.extentsRemaining > 0 && s.extentsRemaining < s.extents) midCopy++;
        continue;
      }
      if (!started && exit.code === null) continue; // killed before the restore began: the pair is as it was
      // The restore completed, before the kill or despite it: check this campaign, begin another.
      await expectRestored(cloneHash, exit.code === null);
      campaign++;
      started = false;
      await newPair(`kill-source-${campaign}`);
    }
    const last = await start(started ? 'resume' : 'restore').exit;
    expect(last.code, last.stderr).toBe(0);
    await expectRestored(cloneHash);
    expect((await state()).state).toBe('fractured');
    expect(midCopy, `only ${midCopy} of ${KILLS} kills landed mid-copy (startup ${startup.toFixed(0)} ms)`).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('SIGINT and SIGTERM stop between steps, release the lock and say how to resume', async () => {
    const cloneHash = await sha256File(clone);
    await newPair('signal-source');
    const until = async (pred: () => Promise<boolean>) => {
      for (let i = 0; i < 500 && !(await pred()); i++) await wait(10);
    };
    const copying = async () => {
      const s = await state();
      return s.state === 'restoring' && s.extentsRemaining < s.extents;
    };
    const first = start('restore');
    await until(copying);
    first.child.kill('SIGINT');
    const a = await first.exit;
    expect(a.code, a.stderr).toBe(130);
    expect(a.stderr).toContain(`prestore resume --meta ${meta}`);
    expect(heldLocks()).toEqual([]);
    expect((await state()).state).toBe('restoring');

    const before = (await state()).extentsRemaining;
    const second = start('resume');
    await until(async () => (await state()).extentsRemaining < before);
    second.child.kill('SIGTERM');
    const b = await second.exit;
    expect(b.code, b.stderr).toBe(143);
    expect(heldLocks()).toEqual([]);

    const last = await start('resume').exit;
    expect(last.code, last.stderr).toBe(0);
    await expectRestored(cloneHash);
  }, 30_000);

  it('a restore through another metadata file of the same images is refused while one runs', async () => {
    const cloneHash = await sha256File(clone);
    await newPair('second-meta-source');
    const other = join(root, 'other.meta');
    const r = await cli('init', '--source', source, '--clone', clone, '--meta', other, '--extent', '4K', '--all-differ', '--force');
    expect(r.code, r.err).toBe(0);
    const first = start('restore');
    const copying = async () => {
      const s = await state();
      return s.state === 'restoring' && s.extentsRemaining < s.extents;
    };
    for (let i = 0; i < 500 && !(await copying()); i++) await wait(10);
    expect(await copying(), 'the first restore is copying').toBe(true);
    for (const command of ['restore', 'init']) {
      const args = command === 'init' ? ['--source', source, '--clone', clone, '--all-differ', '--force'] : [];
      const second = await cli(command, '--meta', other, ...args);
      expect([second.code, second.err], command).toEqual([2, expect.stringContaining(`is locked by process ${first.child.pid}, which is running`)]);
    }
    // Nothing was started through other.meta (whose fingerprint of the source the first restore has
    // since changed, so status reports that too).
    const s = await cli('status', '--meta', other, '--json', '-');
    expect((JSON.parse(s.out) as { state: string }).state).toBe('fractured');
    const done = await first.exit;
    expect(done.code, done.stderr).toBe(0);
    await expectRestored(cloneHash);
  }, 30_000);
});
