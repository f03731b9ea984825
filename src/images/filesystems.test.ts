/**
 * The image tool on file systems that say no: a full one (ENOSPC) and read-only files. Real file
 * systems, not fakes: the built binary runs inside a private mount namespace (`unshare -rm`)
 * where a tiny tmpfs can be mounted, filled, grown and remounted read-only without privileges
 * outside it; read-only files are files without write permission, opened by a user the
 * permissions bind (root ignores them, so as root the binary runs as `nobody`).
 *
 * Where this machine cannot do that, the tests are skipped with a notice, and fail instead when
 * PRESTORE_REAL_CLIENTS=1 (CI) asks for every real part.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtBinary } from '../cli/built-binary.js';
import { writeSeededImage } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'prestore-fs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const required = process.env.PRESTORE_REAL_CLIENTS === '1';
let bin = '';
const SIZE = 1 << 20;

beforeAll(async () => {
  bin = builtBinary();
  // Readable by every user: the read-only test runs the binary as another one.
  chmodSync(root, 0o755);
  await writeSeededImage(join(root, 'c.img'), SIZE, 'fs-clone');
  chmodSync(join(root, 'c.img'), 0o644);
}, 120_000);

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): Run {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000, ...options, env: { ...process.env, CI: '1', ...options.env } });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Whether a private mount namespace with a tmpfs can be had here; why not, if not. */
function mountNamespace(): string | undefined {
  const probe = join(root, 'probe');
  mkdirSync(probe, { recursive: true });
  const r = run('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=64k tmpfs ${probe} && mount -o remount,size=128k ${probe}`]);
  return r.status === 0 ? undefined : `unshare -rm with a tmpfs mount is not available (${(r.stderr || String(r.status)).trim()})`;
}

/** Runs `script` (sh) in a private mount namespace: $P is the prestore binary, $D a fresh directory. */
function inNamespace(name: string, script: string): { dir: string; run: Run } {
  const dir = join(root, name);
  mkdirSync(dir);
  const result = run('unshare', ['-rm', 'sh', '-uc', script], { env: { P: `${process.execPath} ${bin}`, D: dir, C: join(root, 'c.img') } });
  return { dir, run: result };
}

const file = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

function skipNotice(why: string): void {
  if (!required) process.stderr.write(`NOTICE: skipped real-file-system tests: ${why}; set PRESTORE_REAL_CLIENTS=1 to make this a failure\n`);
}

describe('a full file system', () => {
  const why = mountNamespace();
  if (why !== undefined) skipNotice(why);
  const test = why === undefined || required ? it : it.skip;

  test('ENOSPC mid-restore names the image and says prestore resume continues; resume then finishes it', () => {
    if (why !== undefined) throw new Error(why);
    // The source is a sparse image on a tmpfs with room for a quarter of it: the copier's writes
    // fill it. The metadata file and the locks live outside, where there is room.
    const { dir, run: r } = inNamespace(
      'enospc-restore',
      `mkdir "$D/small" "$D/locks" && mount -t tmpfs -o size=256k tmpfs "$D/small"
       truncate -s ${SIZE} "$D/small/s.img"
       export PRESTORE_LOCK_DIR="$D/locks"
       $P init --source "$D/small/s.img" --clone "$C" --meta "$D/m.meta" --extent 4K --all-differ > "$D/init.out" 2>&1 || exit 90
       $P restore --meta "$D/m.meta" --batch 16K > "$D/restore.out" 2> "$D/restore.err"; echo $? > "$D/restore.rc"
       $P status --meta "$D/m.meta" > "$D/status.out" 2>&1; echo $? > "$D/status.rc"
       mount -o remount,size=4m "$D/small"
       $P resume --meta "$D/m.meta" --verify > "$D/resume.out" 2> "$D/resume.err"; echo $? > "$D/resume.rc"
       cmp "$D/small/s.img" "$C" > /dev/null; echo $? > "$D/cmp.rc"`,
    );
    expect(r.status, r.stderr).toBe(0);
    const err = file(dir, 'restore.err');
    expect(file(dir, 'restore.rc').trim(), err).toBe('2');
    expect(err).toContain(`source image ${join(dir, 'small', 's.img')}: write at byte`);
    expect(err).toMatch(/ENOSPC|no space left/);
    expect(err).toContain(`Nothing is lost: the restore is saved in ${join(dir, 'm.meta')}. Free some space on the file system that holds ${join(dir, 'small', 's.img')}`);
    expect(err).toContain(`prestore resume --meta ${join(dir, 'm.meta')}`);
    expect(err).not.toContain('internal error');
    expect(file(dir, 'status.out')).toMatch(/state\s+restoring/);
    expect(file(dir, 'resume.rc').trim(), file(dir, 'resume.err')).toBe('0');
    expect(file(dir, 'resume.err') + file(dir, 'resume.out')).toContain('byte for byte');
    expect(file(dir, 'cmp.rc').trim()).toBe('0');
  });

  test('a lock whose temporary file cannot be written is refused, and its temporary file removed', () => {
    if (why !== undefined) throw new Error(why);
    // The lock directory (and the metadata file's) is a tmpfs filled to the last page.
    const { dir, run: r } = inNamespace(
      'enospc-lock',
      `mkdir "$D/full" && mount -t tmpfs -o size=64k tmpfs "$D/full"
       cp "$C" "$D/s.img"
       dd if=/dev/zero of="$D/full/filler" bs=4k > /dev/null 2>&1 || true
       PRESTORE_LOCK_DIR="$D/full" $P init --source "$D/s.img" --clone "$C" --meta "$D/full/m.meta" --all-differ > "$D/init.out" 2> "$D/init.err"; echo $? > "$D/init.rc"
       ls -A "$D/full" > "$D/left"`,
    );
    expect(r.status, r.stderr).toBe(0);
    expect(file(dir, 'init.rc').trim(), file(dir, 'init.err')).toBe('2');
    expect(file(dir, 'init.err')).toMatch(/cannot lock (source|clone) image .*no space left on device/);
    expect(file(dir, 'left').split('\n').filter(Boolean)).toEqual(['filler']);
  });
});

describe('read-only files', () => {
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const probe = run(process.execPath, [builtBinary(), '--version'], asNobody);
  const why = probe.status === 0 ? undefined : `the built binary cannot be run as an unprivileged user here (${probe.stderr.trim()})`;
  if (why !== undefined) skipNotice(why);
  const test = why === undefined || required ? it : it.skip;

  test('a read-only source or metadata file is named, with what needs writing, and nothing is changed', () => {
    if (why !== undefined) throw new Error(why);
    const dir = join(root, 'read-only');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const locks = join(dir, 'locks');
    mkdirSync(locks);
    chmodSync(locks, 0o777);
    const prestore = (...args: string[]) => run(process.execPath, [bin, ...args], { ...asNobody, cwd: dir, env: { PRESTORE_LOCK_DIR: locks } });
    const source = join(dir, 's.img');
    const meta = join(dir, 'm.meta');
    expect(run('cp', [join(root, 'c.img'), source]).status).toBe(0);
    chmodSync(source, 0o666);
    let r = prestore('init', '--source', source, '--clone', join(root, 'c.img'), '--meta', meta, '--all-differ');
    expect(r.status, r.stderr).toBe(0);

    chmodSync(source, 0o444);
    r = prestore('restore', '--meta', meta);
    expect([r.status, r.stderr]).toEqual([2, expect.stringContaining(`source image ${source} cannot be opened for writing (a restore writes the clone's content onto it): permission denied`)]);
    chmodSync(source, 0o666);

    chmodSync(meta, 0o444);
    r = prestore('restore', '--meta', meta);
    expect([r.status, r.stderr]).toEqual([2, expect.stringContaining(`metadata file ${meta} cannot be opened for writing (a restore records its progress there): permission denied`)]);
    // Nothing was started: the pair is as init left it.
    r = prestore('status', '--meta', meta);
    expect(r.stdout).toMatch(/state\s+fractured/);
  });
});
