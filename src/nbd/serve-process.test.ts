/**
 * `prestore serve` as a real process, on real image files, over unix sockets in a temporary
 * directory.
 *
 * Judged by real clients nobody here wrote (Debian's qemu-utils and libnbd-bin): qemu-img compare
 * of the export against the clone at the start of a restore, nbdinfo, nbdcopy of the whole export
 * while the copier runs, qemu-io writing patterns during the restore and reading them back before
 * and after a kill -9 of the server and a restart, and the final images compared byte for byte.
 * These skip with a notice where the tools are missing, and fail instead when
 * PRESTORE_REAL_CLIENTS=1 (which CI sets, after installing them).
 *
 * Then, with the project's own client so it runs anywhere: SIGKILL at seeded-random moments of a
 * stream of writes and flushes (every flushed write survives every restart), the clean shutdown,
 * an unprotected restore served read-only, the lock, and bad usage.
 *
 * Kill delays come from a seeded generator but land on the real clock (see sigkill.test.ts): the
 * runs are not byte-for-byte reproducible, and each asserts only what must hold wherever they land.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../cli/text-sink.js';
import { builtBinary } from '../cli/built-binary.js';
import { seededRng } from '../devices/rng.js';
import { sha256File, writeSeededImage } from '../images/fixtures.js';
import { NbdClient } from './client.js';
import { startServe, type ServeProcess } from './serve-process.js';
import { NbdError, TransmissionFlag } from './wire.js';

const root = mkdtempSync(join(tmpdir(), 'prestore-serve-'));
const SIZE = 4 << 20;
const EXTENT = 64 << 10;

/** The built binary, rebuilt first if stale (../cli/built-binary.ts). */
let bin = '';
beforeAll(() => {
  bin = builtBinary();
}, 120_000);

/** Every server started, so none outlives the file's tests, however they end. */
const running: ServeProcess[] = [];
afterAll(() => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});


const cli = (...argv: string[]) => runCaptured(argv, { CI: '1' }, root);

interface Pair {
  readonly dir: string;
  readonly source: string;
  readonly clone: string;
  readonly meta: string;
  readonly socket: string;
  readonly cloneBytes: Buffer;
}

/** A fresh pair in its own directory: source and clone differ everywhere, every D bit set. */
async function newPair(name: string, extent = EXTENT): Promise<Pair> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const pair = { dir, source: join(dir, 'source.img'), clone: join(dir, 'clone.img'), meta: join(dir, 'pair.meta'), socket: join(dir, 'nbd.sock') };
  await writeSeededImage(pair.clone, SIZE, `${name}-clone`);
  await writeSeededImage(pair.source, SIZE, `${name}-source`);
  const r = await cli('init', '--source', pair.source, '--clone', pair.clone, '--meta', pair.meta, '--extent', `${extent}`, '--all-differ');
  expect(r.code, r.err).toBe(0);
  return { ...pair, cloneBytes: readFileSync(pair.clone) };
}

interface Status {
  readonly state: string;
  readonly protect: boolean | null;
  readonly extentsRemaining: number;
  readonly deltaCount: number;
  readonly protectedCount: number;
  readonly lock: string;
}

async function status(pair: Pick<Pair, 'meta'>): Promise<Status> {
  const r = await cli('status', '--meta', pair.meta, '--json', '-');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Status;
}

async function serve(pair: Pair, ...args: string[]): Promise<ServeProcess> {
  const s = await startServe(bin, ['--meta', pair.meta, '--socket', pair.socket, ...args], { timeoutMs: 60_000 });
  running.push(s);
  return s;
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)) return -1;
  const at = a.findIndex((x, i) => x !== b[i]);
  return at < 0 ? Math.min(a.length, b.length) : at;
}

// --- judged by real clients -------------------------------------------------------------------

const TOOLS = ['qemu-io', 'qemu-img', 'nbdcopy', 'nbdinfo'] as const;
const missing = TOOLS.filter((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).error !== undefined);
const required = process.env['PRESTORE_REAL_CLIENTS'] === '1';
if (missing.length > 0 && !required) {
  process.stderr.write(
    `\nNOTICE src/nbd/serve-process.test.ts: the real-client tests are SKIPPED: ${missing.join(', ')} not installed ` +
      `(apt-get install qemu-utils libnbd-bin); with PRESTORE_REAL_CLIENTS=1 they fail instead\n\n`,
  );
}

function tool(name: string, args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(name, args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, out: `${stdout}${stderr}` }));
  });
}

/** What qemu-io writes during the restore: a partial extent, a whole one, one across two, and zeroes. */
const PATTERNS = [
  { offset: 100 << 10, length: 8 << 10, byte: 0x5a },
  { offset: 1 << 20, length: EXTENT, byte: 0xa5 },
  { offset: 2044 << 10, length: 8 << 10, byte: 0x3c },
  { offset: 3136 << 10, length: 128 << 10, byte: 0x00 },
] as const;

describe('prestore serve, judged by real clients', () => {
  it.runIf(required || missing.length === 0)('finds qemu-io, qemu-img, nbdcopy and nbdinfo installed (PRESTORE_REAL_CLIENTS=1 makes this required)', () => {
    expect(missing, 'install them: apt-get install -y qemu-utils libnbd-bin').toEqual([]);
  });

  describe.skipIf(missing.length > 0)('a VM image restored while in use', () => {
    let pair: Pair;
    let server: ServeProcess;
    const uri = () => server.uri;

    it('qemu-img compare: the export is the clone the moment the restore starts', async () => {
      pair = await newPair('real');
      // Slow enough that the restore is still running through every step up to the kill.
      server = await serve(pair, '--restore', '--rate', '128K', '--batch', `${EXTENT}`);
      const before = await status(pair);
      expect(before).toMatchObject({ state: 'restoring', protect: true });
      expect(before.extentsRemaining).toBeGreaterThan(0);
      const r = await tool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', uri(), pair.clone]);
      expect(r.out).toContain('Images are identical');
      expect(r.code).toBe(0);
      // And the source file itself is still far from it: the reads came from the clone.
      expect(firstDifference(readFileSync(pair.source), pair.cloneBytes)).toBeGreaterThanOrEqual(0);
      expect((await status(pair)).state).toBe('restoring');
    });

    it('nbdinfo: the size, a writable export with flush and FUA, 512-byte blocks', async () => {
      const r = await tool('nbdinfo', ['--json', uri()]);
      expect(r.code, r.out).toBe(0);
      const info = (JSON.parse(r.out) as { exports: Record<string, unknown>[] }).exports[0]!;
      expect(info).toMatchObject({
        'export-name': 'source.img',
        'export-size': SIZE,
        is_read_only: false,
        can_flush: true,
        can_fua: true,
        can_multi_conn: true,
        block_size_minimum: 512,
      });
    });

    it('nbdcopy copies the whole export while the copier runs, and gets the clone', async () => {
      const copy = join(pair.dir, 'copy.img');
      const r = await tool('nbdcopy', [uri(), copy]);
      expect(r.code, r.out).toBe(0);
      expect(firstDifference(readFileSync(copy), pair.cloneBytes)).toBe(-1);
      const s = await status(pair);
      expect(s.state, 'the copier should still be running, or nbdcopy proved nothing about it').toBe('restoring');
    });

    it('qemu-io writes patterns during the restore and reads them back (and notices a wrong one)', async () => {
      const writes = PATTERNS.flatMap((p) => ['-c', p.byte === 0 ? `write -z ${p.offset} ${p.length}` : `write -P ${p.byte} ${p.offset} ${p.length}`]);
      const w = await tool('qemu-io', ['-f', 'raw', uri(), ...writes, '-c', 'flush']);
      expect(w.code, w.out).toBe(0);
      expect((await status(pair)).protectedCount).toBeGreaterThanOrEqual(4);
      const reads = PATTERNS.flatMap((p) => ['-c', `read -P ${p.byte} ${p.offset} ${p.length}`]);
      const r = await tool('qemu-io', ['-f', 'raw', uri(), ...reads]);
      expect(r.out).not.toMatch(/fail/i);
      expect(r.code, r.out).toBe(0);
      const wrong = await tool('qemu-io', ['-f', 'raw', uri(), '-c', `read -P 0x77 ${PATTERNS[0].offset} 4096`]);
      expect(wrong.out).toContain('Pattern verification failed');
    });

    it('kill -9 of the server loses none of it; the restart continues the restore, which ends right', async () => {
      expect((await status(pair)).state).toBe('restoring');
      server.child.kill('SIGKILL');
      expect((await server.exit).signal).toBe('SIGKILL');
      const killed = await status(pair);
      expect(killed.state).toBe('restoring');
      expect(killed.lock).toMatch(/stale/);

      // The same command line again (--restore continues the one in progress), without the limit.
      server = await serve(pair, '--restore');
      const reads = PATTERNS.flatMap((p) => ['-c', `read -P ${p.byte} ${p.offset} ${p.length}`]);
      const r = await tool('qemu-io', ['-f', 'raw', uri(), ...reads]);
      expect(r.out).not.toMatch(/fail/i);
      expect(r.code, r.out).toBe(0);
      await server.waitFor(/restore: complete/, 60_000);

      server.child.kill('SIGTERM');
      const exit = await server.exit;
      expect(exit.code, server.stderr()).toBe(0);
      expect(server.stdout()).toContain('the pair is fractured');
      expect((await status(pair)).lock, 'the images are unlocked').toBe('free');

      const expected = Buffer.from(pair.cloneBytes);
      for (const p of PATTERNS) expected.fill(p.byte, p.offset, p.offset + p.length);
      expect(firstDifference(readFileSync(pair.source), expected), 'source = clone + the patterns').toBe(-1);
      expect(firstDifference(readFileSync(pair.clone), pair.cloneBytes), 'clone untouched').toBe(-1);
      const file = join(pair.dir, 'expected.img');
      writeFileSync(file, expected);
      const c = await tool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', file, pair.source]);
      expect(c.code, c.out).toBe(0);
    });
  });
});

/** Checks `check` every 100 ms, `tries` times at most; whether it held. */
async function eventually(check: () => boolean, tries: number): Promise<boolean> {
  for (let i = 0; i < tries; i++, await new Promise((r) => setTimeout(r, 100))) if (check()) return true;
  return false;
}

const extentOf = (path: string, e: number) => readFileSync(path).subarray(e * EXTENT, (e + 1) * EXTENT);

describe.skipIf(missing.length > 0)('copy-ahead, seen through qemu-io', () => {
  it('an extent qemu-io reads twice while uncopied is copied next, far ahead of the copier\'s order', async () => {
    const pair = await newPair('copy-ahead');
    // One extent a second: in order, the copier would reach extent 48 after some 48 seconds.
    const server = await serve(pair, '--restore', '--rate', `${EXTENT}`, '--batch', `${EXTENT}`);
    const hot = 48;
    const r = await tool('qemu-io', ['-f', 'raw', server.uri, '-c', `read ${hot * EXTENT} 4096`, '-c', `read ${hot * EXTENT + 8192} 4096`]);
    expect(r.code, r.out).toBe(0);
    const clone = (e: number) => pair.cloneBytes.subarray(e * EXTENT, (e + 1) * EXTENT);
    expect(await eventually(() => extentOf(pair.source, hot).equals(clone(hot)), 100), 'the hot extent copied onto the source').toBe(true);
    expect(extentOf(pair.source, hot - 1).equals(clone(hot - 1)), 'the extent before it is not copied yet').toBe(false);
    server.child.kill('SIGTERM');
    expect((await server.exit).code, server.stderr()).toBe(0);
  });
});

// --- a real file system --------------------------------------------------------------------

const FS_TOOLS = ['mke2fs', 'e2fsck', 'debugfs'] as const;
const fsMissing = [...missing, ...FS_TOOLS.filter((t) => spawnSync(t, ['-V'], { stdio: 'ignore' }).error !== undefined)];
if (fsMissing.length > 0 && !required) process.stderr.write(`\nNOTICE src/nbd/serve-process.test.ts: the ext4 walk-through is SKIPPED: ${fsMissing.join(', ')} not installed (apt-get install e2fsprogs qemu-utils libnbd-bin)\n\n`);

const FS_SIZE = 16 << 20;
/** Files of the two file systems: the same names, different content. */
const FILES = ['etc-image', 'usr-lib', 'var-log'] as const;

/** An ext4 image of FS_SIZE holding FILES, each 1 MiB of data seeded by `seed`. */
async function ext4Image(dir: string, name: string, seed: string): Promise<string> {
  const tree = join(dir, `${name}.d`);
  mkdirSync(tree);
  for (const f of FILES) await writeSeededImage(join(tree, f), 1 << 20, `${seed}-${f}`);
  const image = join(dir, `${name}.img`);
  const r = await tool('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', tree, image, `${FS_SIZE / 1024}k`]);
  expect(r.code, r.out).toBe(0);
  return image;
}

/** A file's content as debugfs reads it out of an ext4 image. */
function fileIn(image: string, name: string): Buffer {
  return spawnSync('debugfs', ['-R', `cat /${name}`, image], { maxBuffer: 1 << 24 }).stdout;
}

describe.skipIf(fsMissing.length > 0)('an ext4 image restored while a client uses it (docs/nbd.md, "A VM image restore")', () => {
  it.runIf(required)('finds mke2fs, e2fsck and debugfs installed', () => {
    expect(fsMissing, 'apt-get install -y e2fsprogs').toEqual([]);
  });

  it('reads as the snapshot at once, stays a clean file system throughout, and survives kill -9 with a flushed write', async () => {
    const dir = join(root, 'ext4');
    mkdirSync(dir);
    const clone = await ext4Image(dir, 'vm-snap', 'snapshot');
    const source = await ext4Image(dir, 'vm', 'damaged');
    const meta = join(dir, 'vm.meta');
    const socket = join(dir, 'vm.sock');
    const init = await cli('init', '--source', source, '--clone', clone, '--meta', meta, '--compare');
    expect(init.code, init.err).toBe(0);
    const pair = { meta };
    const toCopy = (await status(pair)).deltaCount;
    expect(toCopy, 'init --compare found only the differing extents').toBeGreaterThan(0);
    expect(toCopy).toBeLessThan(FS_SIZE / EXTENT / 2);
    expect((await tool('e2fsck', ['-fn', source])).code, 'the source is a clean file system, just the wrong one').toBe(0);

    const start = (...args: string[]) => startServe(bin, ['--meta', meta, '--socket', socket, ...args], { timeoutMs: 60_000 }).then((s) => (running.push(s), s));
    // Two extents a second: the restore is still running through the kill.
    let server = await start('--restore', '--rate', '128K', '--batch', `${EXTENT}`);
    const cloneBytes = readFileSync(clone);
    const compare = await tool('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', server.uri, clone]);
    expect(compare.out).toContain('Images are identical');

    const seen = join(dir, 'seen-by-host.img');
    const copy = await tool('nbdcopy', [server.uri, seen]);
    expect(copy.code, copy.out).toBe(0);
    const fsck = await tool('e2fsck', ['-fn', seen]);
    expect(fsck.code, fsck.out).toBe(0);
    for (const f of FILES) expect(fileIn(seen, f).equals(fileIn(clone, f)), `${f} as the host sees it`).toBe(true);
    const during = await status(pair);
    expect(during.state, 'still restoring, or the client proved nothing about it').toBe('restoring');
    expect(during.extentsRemaining).toBeLessThan(toCopy);

    // A flushed write to blocks the file system leaves free (the last MiB), then kill -9.
    const free = FS_SIZE - (1 << 20);
    const w = await tool('qemu-io', ['-f', 'raw', server.uri, '-c', `write -P 0x42 ${free} 65536`, '-c', 'flush']);
    expect(w.code, w.out).toBe(0);
    server.child.kill('SIGKILL');
    await server.exit;
    expect((await status(pair)).state).toBe('restoring');

    server = await start('--restore');
    const r = await tool('qemu-io', ['-f', 'raw', server.uri, '-c', `read -P 0x42 ${free} 65536`]);
    expect(r.out).not.toMatch(/fail/i);
    await server.waitFor(/restore: complete/, 60_000);
    server.child.kill('SIGTERM');
    expect((await server.exit).code, server.stderr()).toBe(0);

    const final = await tool('e2fsck', ['-fn', source]);
    expect(final.code, final.out).toBe(0);
    const expected = Buffer.from(cloneBytes);
    expected.fill(0x42, free, free + 65536);
    expect(firstDifference(readFileSync(source), expected), 'the source = the snapshot + the flushed write').toBe(-1);
    expect(firstDifference(readFileSync(clone), cloneBytes), 'the clone untouched').toBe(-1);
  });
});

// --- with the project's own client ------------------------------------------------------------

describe('prestore serve, killed and restarted, with our own client', () => {
  it('SIGKILL at seeded-random moments of writes and flushes: every flushed write survives, and the restore ends right', async () => {
    // 4 KiB extents: a thousand of them, so the host's writes and the copier take a while to cover them all.
    const pair = await newPair('kills', 4096);
    const cloneHash = await sha256File(pair.clone);
    const rng = seededRng('prestore-serve-kill');
    const BLOCK = 4096;
    /** What the volume must hold: the clone, then every write a flush covered. */
    const model = Buffer.from(pair.cloneBytes);
    let issued: { offset: number; data: Buffer }[] = [];
    const KILLS = 3;
    let midRestore = 0;
    let uncertain = 0;
    let server: ServeProcess | undefined;
    for (let kill = 0; ; kill++) {
      const last = kill === KILLS;
      const restoring = (await status(pair)).state === 'restoring';
      server = await serve(pair, '--restore', ...(last ? [] : ['--rate', '256K', '--batch', '4K']));
      const client = await NbdClient.connect({ socket: pair.socket });
      // The writes since the last flush may or may not have reached the disk: each sector holds
      // the value before them or one of theirs. What it holds now is what the host sees from here.
      for (const w of issued) {
        const now = Buffer.from(await client.read(w.offset, BLOCK));
        for (let at = 0; at < BLOCK; at += 512) {
          const candidates = [model.subarray(w.offset + at, w.offset + at + 512), ...issued.filter((o) => o.offset === w.offset).map((o) => o.data.subarray(at, at + 512))];
          expect(candidates.some((c) => c.equals(now.subarray(at, at + 512))), `sector at ${w.offset + at} after kill ${kill}`).toBe(true);
        }
        now.copy(model, w.offset);
        uncertain++;
      }
      issued = [];
      expect(firstDifference(await client.read(0, SIZE), model), `the volume after kill ${kill}`).toBe(-1);
      if (last) {
        if (restoring) await server.waitFor(/restore: complete/, 60_000);
        await client.disconnect();
        break;
      }
      // Writes and flushes until the kill lands, a seeded-random moment after the server is up.
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        server!.child.kill('SIGKILL');
      }, 150 + rng.below(600));
      try {
        for (let n = 1; ; n++) {
          const offset = rng.below(SIZE / BLOCK) * BLOCK;
          const data = Buffer.alloc(BLOCK, (kill * 50 + n) % 251);
          issued.push({ offset, data });
          await client.write(offset, data);
          if (n % 4 === 0) {
            await client.flush();
            for (const w of issued) w.data.copy(model, w.offset);
            issued = [];
          }
        }
      } catch (e) {
        // Only the kill may end the stream of writes.
        if (!killed) throw e;
      } finally {
        clearTimeout(timer);
      }
      expect((await server.exit).signal).toBe('SIGKILL');
      if ((await status(pair)).state === 'restoring') midRestore++;
    }
    expect(uncertain, 'no kill landed between a write and its flush').toBeGreaterThan(0);
    expect(midRestore, 'too few kills landed while the restore was running').toBeGreaterThanOrEqual(2);
    server.child.kill('SIGINT');
    expect((await server.exit).code, server.stderr()).toBe(0);
    expect(firstDifference(readFileSync(pair.source), model), 'the source file').toBe(-1);
    expect(await sha256File(pair.clone), 'the clone').toBe(cloneHash);
    expect((await status(pair)).state).toBe('fractured');
  }, 120_000);

  it('an unprotected restore is served read-only while it runs, shows in prestore status, and serving it again finishes it, read-write from then on', async () => {
    const pair = await newPair('unprotected');
    const server = await serve(pair, '--restore', '--unprotected', '--rate', '1M', '--batch', `${EXTENT}`);
    expect(server.stdout()).toContain('read-only');
    const client = await NbdClient.connect({ socket: pair.socket });
    expect(client.flags & TransmissionFlag.READ_ONLY).toBe(TransmissionFlag.READ_ONLY);
    await expect(client.write(0, new Uint8Array(4096))).rejects.toMatchObject({ errno: NbdError.EPERM });
    expect(firstDifference(await client.read(0, SIZE), pair.cloneBytes)).toBe(-1);
    const first = await status(pair);
    expect(first).toMatchObject({ state: 'restoring', protect: false });
    await server.waitFor(/restore: \d+% copied/, 30_000);
    expect((await status(pair)).extentsRemaining).toBeLessThan(first.extentsRemaining);
    await client.disconnect();

    // The lock: a second server on the pair is refused while this one runs.
    const second = await startServe(bin, ['--meta', pair.meta, '--socket', join(pair.dir, 'other.sock')], { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(String(second)).toMatch(/locked by process/);

    server.child.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
    expect(server.stdout()).toMatch(/the restore is saved with .* left to copy/);
    expect(firstDifference(readFileSync(pair.clone), pair.cloneBytes)).toBe(-1);

    // Served again, the restore in progress continues, unprotected, read-only until it completes;
    // then nothing is mirrored, and connections made after are read-write.
    const again = await serve(pair, '--restore');
    expect(again.stdout()).toContain('read-only');
    await again.waitFor(/restore: complete/, 30_000);
    expect(firstDifference(readFileSync(pair.source), pair.cloneBytes)).toBe(-1);
    const late = await NbdClient.connect({ socket: pair.socket });
    expect(late.flags & TransmissionFlag.READ_ONLY).toBe(0);
    await late.write(0, new Uint8Array(4096).fill(0x99));
    await late.flush();
    await late.disconnect();
    again.child.kill('SIGTERM');
    expect((await again.exit).code).toBe(0);
    expect(readFileSync(pair.source).subarray(0, 4096).every((b) => b === 0x99)).toBe(true);
    expect(firstDifference(readFileSync(pair.clone), pair.cloneBytes)).toBe(-1);
  }, 60_000);
});

describe('prestore serve, bad usage', () => {
  const cases: [string, string[], RegExp][] = [
    ['neither a socket nor a port', ['--meta', 'm.meta'], /give one of --socket PATH and --port N/],
    ['both', ['--meta', 'm.meta', '--socket', 's', '--port', '1'], /give one of --socket PATH and --port N/],
    ['--unprotected without --restore', ['--meta', 'm.meta', '--socket', 's', '--unprotected'], /--unprotected says how to start a restore: it needs --restore/],
    ['--bind with a socket', ['--meta', 'm.meta', '--socket', 's', '--bind', '0.0.0.0'], /--bind goes with --port/],
    ['a port out of range', ['--meta', 'm.meta', '--port', '70000'], /--port 70000: must be from 0 to 65535/],
    ['a rate that is no size', ['--meta', 'm.meta', '--socket', 's', '--rate', 'fast'], /--rate "fast": expected a size/],
    ['no metadata file', ['--meta', 'nope.meta', '--socket', 's'], /metadata file .*nope.meta: does not exist/],
  ];
  it.each(cases)('%s: exit 2, naming it', async (_, args, message) => {
    const r = await cli('serve', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('--restore again after a served restore completed: exit 2, and the host\'s writes since are not rolled back', async () => {
    const pair = await newPair('served-again');
    const server = await serve(pair, '--restore');
    await server.waitFor(/restore: complete/, 60_000);
    const client = await NbdClient.connect({ socket: pair.socket });
    await client.write(0, new Uint8Array(4096).fill(0x42));
    await client.flush();
    await client.disconnect();
    server.child.kill('SIGKILL');
    await server.exit;
    const r = await cli('serve', '--meta', pair.meta, '--socket', pair.socket, '--restore');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/served since init and no restore is in progress .* leave out --restore/);
    expect(readFileSync(pair.source).subarray(0, 4096).every((b) => b === 0x42), 'the write since is kept').toBe(true);
    expect((await status(pair)).state).toBe('fractured');
    expect((await status(pair)).lock, 'the images are unlocked').toBe('free');
  });

  it('a socket path that is a file: exit 2, the restore not started, the pair unlocked', async () => {
    const pair = await newPair('not-a-socket');
    const file = join(pair.dir, 'plain');
    copyFileSync(pair.meta, file);
    const r = await cli('serve', '--meta', pair.meta, '--socket', file, '--restore');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/exists and is not a socket/);
    expect((await status(pair)).state).toBe('fractured');
    expect((await status(pair)).lock, 'the images are unlocked').toBe('free');
  });
});
