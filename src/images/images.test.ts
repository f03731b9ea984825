/**
 * The image commands in-process (init, restore, resume, status, verify through the dispatcher) on
 * small real files in the OS temp directory, and the refusals: wrong sizes, a different clone, a
 * changed source, a lock held, a damaged metadata file or map, a --meta that is not a file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runCaptured, TextSink } from '../cli/text-sink.js';
import { runCli } from '../cli/dispatch.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { BufferPool } from './buffer-pool.js';
import { EarlyWritebackDevice } from './early-writeback.js';
import { imageEngine } from './engine.js';
import { fingerprintRanges } from './fingerprint.js';
import { scribble, sha256File, writeSeededImage } from './fixtures.js';
import { decodeHeader, encodeHeader, HEADER_SIZE } from './header.js';
import { imageLockPath } from './lock.js';
import { OffsetDevice } from './offset-device.js';
import { OverlayDevice } from './overlay-device.js';
import { markSourceServed, openDevices, readHeader } from './pair.js';
import { parseSize } from './sizes.js';


const root = mkdtempSync(join(tmpdir(), 'prestore-images-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
/** The image locks of this file's runs, apart from any other prestore on the machine. */
const locks = join(root, 'locks');
mkdirSync(locks);

let dir = '';
let n = 0;
beforeEach(() => {
  dir = join(root, `t${n++}`);
  rmSync(dir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', dir]);
});

const cli = (...argv: string[]) => runCaptured(argv, { CI: '1', PRESTORE_LOCK_DIR: locks }, dir);

const EXTENT = 4096;
const SIZE = 1 << 20;

/** A pair in `dir`: the clone seeded, the source a copy of it with `differ` extents changed. */
async function pair(differ: readonly number[], size = SIZE): Promise<void> {
  await writeSeededImage(join(dir, 'c.img'), size, 'clone');
  writeFileSync(join(dir, 's.img'), readFileSync(join(dir, 'c.img')));
  await scribble(join(dir, 's.img'), differ.map((e) => ({ offset: e * EXTENT, length: Math.min(EXTENT, size - e * EXTENT) })), 'source');
}

async function status(): Promise<Record<string, unknown>> {
  const r = await cli('status', '--meta', 'm.meta', '--json', '-');
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as Record<string, unknown>;
}

const same = (a: string, b: string) => readFileSync(join(dir, a)).equals(readFileSync(join(dir, b)));

describe('init', () => {
  it('--compare marks exactly the extents that differ, the short last one included', async () => {
    const size = SIZE + 1024;
    await pair([3, 100, 256], size);
    const r = await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('differ    3 extents');
    const s = await status();
    expect(s).toMatchObject({ state: 'fractured', protect: null, extents: 257, deltaCount: 3, protectedCount: 0, extentsRemaining: 0 });
  });

  it('--all-differ sets every bit; the header records both images by absolute path', async () => {
    await pair([]);
    expect((await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '64K', '--all-differ')).code).toBe(0);
    expect(await status()).toMatchObject({ deltaCount: 16, extents: 16 });
    const header = await readHeader(join(dir, 'm.meta'));
    expect(header.source.path).toBe(join(dir, 's.img'));
    expect(header.clone.path).toBe(join(dir, 'c.img'));
    expect(header.geometry).toEqual({ volumeSize: SIZE, sectorSize: 512, extentSectors: 128 });
  });

  it('needs --compare or --all-differ, and says why; writes nothing', async () => {
    await pair([1]);
    const r = await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta');
    expect(r.code).toBe(2);
    expect(r.err).toContain('never under-approximate');
    expect(existsSync(join(dir, 'm.meta'))).toBe(false);
    expect((await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--compare', '--all-differ')).code).toBe(2);
  });

  it('refuses bad extents, unequal or unaligned images, one file twice, and an existing meta without --force', async () => {
    await pair([1]);
    const base = ['init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--all-differ'];
    let r = await cli(...base, '--extent', '1000');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('multiple of the sector size')]);
    r = await cli(...base, '--extent', '12Q');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('expected a size')]);
    writeFileSync(join(dir, 'odd.img'), new Uint8Array(SIZE + 512));
    r = await cli('init', '--source', 's.img', '--clone', 'odd.img', '--meta', 'm.meta', '--all-differ');
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/1048576 bytes and clone image .*odd.img is 1049088/)]);
    writeFileSync(join(dir, 'a.img'), new Uint8Array(1000));
    writeFileSync(join(dir, 'b.img'), new Uint8Array(1000));
    r = await cli('init', '--source', 'a.img', '--clone', 'b.img', '--meta', 'm.meta', '--all-differ');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('multiple of the sector size 512')]);
    r = await cli('init', '--source', 's.img', '--clone', 's.img', '--meta', 'm.meta', '--all-differ');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('same file')]);
    r = await cli('init', '--source', 'missing.img', '--clone', 'c.img', '--meta', 'm.meta', '--all-differ');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('missing.img: does not exist')]);
    r = await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'nowhere/m.meta', '--all-differ');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('does not exist')]);
    expect(existsSync(join(dir, 'm.meta'))).toBe(false);
    expect((await cli(...base)).code).toBe(0);
    r = await cli(...base);
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('already exists; pass --force')]);
    expect((await cli(...base, '--force')).code).toBe(0);
  });
});

describe('restore', () => {
  it('makes the source equal to the clone, leaves the clone alone, and can run again', async () => {
    await pair([0, 7, 200, 255]);
    const cloneHash = await sha256File(join(dir, 'c.img'));
    expect((await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare')).code).toBe(0);
    const r = await cli('restore', '--meta', 'm.meta', '--json', '-');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ outcome: 'complete', protect: true, extentsCopied: 4, bytesCopied: 4 * EXTENT, extentsRemaining: 0 });
    expect(same('s.img', 'c.img')).toBe(true);
    expect(await sha256File(join(dir, 'c.img'))).toBe(cloneHash);
    expect(await status()).toMatchObject({ state: 'fractured', deltaCount: 0, lock: 'free' });
    expect(existsSync(join(dir, 'm.meta.lock'))).toBe(false);
    // The source now carries the clone's fingerprint, which a completed restore is allowed.
    expect((await cli('restore', '--meta', 'm.meta')).code).toBe(0);
  });

  it('unprotected restores too, without writing the clone', async () => {
    await pair([5]);
    const cloneHash = await sha256File(join(dir, 'c.img'));
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--all-differ');
    const r = await cli('restore', '--meta', 'm.meta', '--unprotected');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('unprotected');
    expect(same('s.img', 'c.img')).toBe(true);
    expect(await sha256File(join(dir, 'c.img'))).toBe(cloneHash);
  });

  it('refuses a resized or different clone, and a source changed since init, naming the image', async () => {
    await pair([1]);
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const before = readFileSync(join(dir, 's.img'));

    await scribble(join(dir, 's.img'), [{ offset: 0, length: 512 }], 'changed');
    let r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/source image .*s\.img does not match .*init --compare --force/)]);
    // status still reports the pair, and fails on it.
    r = await cli('status', '--meta', 'm.meta');
    expect([r.code, r.out, r.err]).toEqual([2, expect.stringContaining('CHANGED since init'), expect.stringMatching(/prestore status: source image .*s\.img does not match/)]);
    writeFileSync(join(dir, 's.img'), before);

    const clone = readFileSync(join(dir, 'c.img'));
    await scribble(join(dir, 'c.img'), [{ offset: SIZE / 2 - 4096, length: 4096 }], 'other');
    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/clone image .*c\.img does not match the image .* was made for \(fingerprint/)]);
    expect((await cli('status', '--meta', 'm.meta')).code).toBe(2);

    writeFileSync(join(dir, 'c.img'), clone);
    truncateSync(join(dir, 'c.img'), SIZE - 512);
    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/clone image .*c\.img is 1048064 bytes, but .* was made for 1048576 bytes: it was resized/)]);
    writeFileSync(join(dir, 'c.img'), clone);

    rmSync(join(dir, 'c.img'));
    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringMatching(/clone image .*c\.img: does not exist/)]);
    writeFileSync(join(dir, 'c.img'), clone);

    expect(readFileSync(join(dir, 's.img')).equals(before)).toBe(true);
    expect((await cli('restore', '--meta', 'm.meta')).code).toBe(0);
  });

  it('refuses a pair locked by a running process, and clears a stale lock with a notice', async () => {
    await pair([1]);
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const sourceLock = await imageLockPath(locks, { role: 'source image', path: join(dir, 's.img') });
    writeFileSync(sourceLock, `${process.ppid} ${hostname()}\n${join(dir, 's.img')}\n`);
    let r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining(`s.img is locked by process ${process.ppid}, which is running`)]);
    expect(same('s.img', 'c.img')).toBe(false);
    expect((await status()).lock).toContain('source image held by');

    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(sourceLock, `${dead} ${hostname()}\n`);
    expect((await status()).lock).toContain('stale');
    r = await cli('restore', '--meta', 'm.meta');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`stale lock left by process ${dead}`);
    expect(same('s.img', 'c.img')).toBe(true);
    expect(readdirSync(locks)).toEqual([]);

    writeFileSync(sourceLock, '');
    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('cannot be read')]);
    rmSync(sourceLock);
  });

  it('locks the images, not the metadata file: a pair restored through another --meta is refused, through a symlink too', async () => {
    await pair([1, 2]);
    const base = ['--clone', 'c.img', '--extent', '4K', '--compare'];
    expect((await cli('init', '--source', 's.img', ...base, '--meta', 'one.meta')).code).toBe(0);
    // The same images, named through a symlink and a second metadata file.
    spawnSync('ln', ['-s', join(dir, 's.img'), join(dir, 'alias.img')]);
    expect((await cli('init', '--source', 'alias.img', ...base, '--meta', 'two.meta')).code).toBe(0);
    // A restore of the pair through one.meta, running: it holds the lock of each image.
    const cloneLock = await imageLockPath(locks, { role: 'clone image', path: join(dir, 'c.img') });
    writeFileSync(cloneLock, `${process.ppid} ${hostname()}\n${join(dir, 'c.img')}\n`);
    for (const command of ['restore', 'verify']) {
      const r = await cli(command, '--meta', 'two.meta');
      expect([r.code, r.err]).toEqual([2, expect.stringContaining(`clone image ${join(dir, 'c.img')} is locked by process ${process.ppid}`)]);
    }
    const r = await cli('init', '--source', 's.img', ...base, '--meta', 'three.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('is locked by process')]);
    expect(same('s.img', 'c.img')).toBe(false);
    rmSync(cloneLock);
    expect((await cli('restore', '--meta', 'two.meta')).code).toBe(0);
    expect(same('s.img', 'c.img')).toBe(true);
    expect(readdirSync(locks)).toEqual([]);
  });

  it('refuses a metadata file that is not one, is damaged, or is truncated', async () => {
    await pair([1]);
    writeFileSync(join(dir, 'junk.meta'), new Uint8Array(8192).fill(7));
    let r = await cli('restore', '--meta', 'junk.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('not a prestore metadata file')]);
    r = await cli('status', '--meta', 'nothing.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('nothing.meta: does not exist')]);

    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const good = readFileSync(join(dir, 'm.meta'));
    const bad = Buffer.from(good);
    bad[60]! ^= 1;
    writeFileSync(join(dir, 'm.meta'), bad);
    r = await cli('resume', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('checksum mismatch')]);
    writeFileSync(join(dir, 'm.meta'), good.subarray(0, HEADER_SIZE + 512));
    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('truncated')]);
    // The engine's region damaged (both superblock slots): the engine's MetadataError, exit 2.
    const region = Buffer.from(good);
    region.fill(0xee, HEADER_SIZE, HEADER_SIZE + 1024);
    writeFileSync(join(dir, 'm.meta'), region);
    r = await cli('restore', '--meta', 'm.meta');
    expect(r.code, r.err).toBe(2);
    expect(same('s.img', 'c.img')).toBe(false);
  });

  it('refuses a map damaged in the metadata file, in every command, naming the map and where; restores nothing', async () => {
    await pair([1, 9]);
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const sourceHash = await sha256File(join(dir, 's.img'));
    const meta = readFileSync(join(dir, 'm.meta'));
    // D is the engine region's sector 2: clear extent 1's bit, a promise that extent 1 is equal.
    const D = HEADER_SIZE + 2 * 512;
    expect(meta[D]).toBe(0b10);
    meta[D] = 0;
    writeFileSync(join(dir, 'm.meta'), meta);
    for (const command of ['restore', 'status', 'verify']) {
      const r = await cli(command, '--meta', 'm.meta');
      expect(r.code, `${command}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(/m\.meta: clone delta map \(D\): sector 0 of 1 \(bytes 1024-1535 of the metadata device\) fails its checksum.*from byte 4096/);
    }
    expect(await sha256File(join(dir, 's.img'))).toBe(sourceHash);
  });

  it('a change behind prestore\'s back that the fingerprint misses: restore claims only what it did, verify and --verify find it', async () => {
    const size = 4 << 20;
    await pair([], size);
    expect((await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare')).out).toContain('differ    0 extents');
    // A raw write to the source, in an extent that no range of the fingerprint reads.
    const sampled = fingerprintRanges(size);
    const extent = Array.from({ length: size / EXTENT }, (_, e) => e).find((e) => sampled.every((r) => r.offset + r.length <= e * EXTENT || r.offset >= (e + 1) * EXTENT))!;
    await scribble(join(dir, 's.img'), [{ offset: extent * EXTENT + 1024, length: 512 }], 'behind-the-back');
    const [src, cln] = [readFileSync(join(dir, 's.img')), readFileSync(join(dir, 'c.img'))];
    const first = src.findIndex((b, i) => b !== cln[i]);
    expect(first).toBeGreaterThanOrEqual(extent * EXTENT + 1024);

    let r = await cli('restore', '--meta', 'm.meta');
    expect(r.code, r.err).toBe(0);
    expect(r.out).not.toMatch(/now holds|equals/);
    expect(r.out).toContain('not compared byte for byte: prestore verify --meta');
    expect(r.out).toContain(`restore complete: copied every extent the delta map marked, 0 B (0 extents)`);

    r = await cli('verify', '--meta', 'm.meta', '--json', '-');
    expect(r.code, r.err).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ equal: false, firstDifference: first, differingExtents: 1, uncoveredExtents: 1, bytesCompared: size });
    expect(r.err).toContain(`first at byte ${first} (extent ${extent}); 1 of 1024 extents differ, 1 of them NOT marked in the delta map`);

    r = await cli('restore', '--meta', 'm.meta', '--verify');
    expect([r.code, r.err]).toEqual([1, expect.stringContaining(`verification FAILED: source and clone differ, first at byte ${first}`)]);
  });

  it('verify: 1 before a restore (the delta map marks every difference), 0 after it; restore --verify says what it checked', async () => {
    await pair([2, 5]);
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    let r = await cli('verify', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/first at byte \d+ \(extent 2\); 2 of 256 extents differ, all of them marked in the delta map/)]);
    r = await cli('restore', '--meta', 'm.meta', '--verify', '--json', '-');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ outcome: 'complete', verified: { equal: true, firstDifference: null, differingExtents: 0, bytesCompared: SIZE } });
    expect(r.err).toMatch(/restored and verified: .*s\.img equals .*c\.img, byte for byte \(1 MiB compared\)/);
    r = await cli('verify', '--meta', 'm.meta');
    expect([r.code, r.out]).toEqual([0, expect.stringContaining('equals')]);
  });

  it('verify and restore --verify show the compare\'s progress on a terminal, and only there', async () => {
    await pair([3]);
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const stdout = new TextSink();
    const stderr = Object.assign(new TextSink(), { isTTY: true });
    const code = await runCli(['restore', '--meta', 'm.meta', '--verify'], { stdout, stderr, env: { PRESTORE_LOCK_DIR: locks }, cwd: dir });
    expect(code, stderr.text).toBe(0);
    expect(stderr.text).toMatch(/verify \[.*\] 100% \| 1 MiB \/ 1 MiB/);
    expect((await cli('verify', '--meta', 'm.meta')).err).toBe('');
  });

  it('a --meta that is a directory or a FIFO is refused before it is opened: exit 2, never a stack or a hang', async () => {
    mkdirSync(join(dir, 'd.meta'));
    expect(spawnSync('mkfifo', [join(dir, 'f.meta')]).status).toBe(0);
    for (const command of ['status', 'restore', 'resume', 'verify']) {
      for (const [meta, kind] of [['d.meta', 'is a directory'], ['f.meta', 'is a FIFO']]) {
        const r = await cli(command, '--meta', meta!);
        expect([r.code, r.err], `${command} --meta ${meta}`).toEqual([2, expect.stringContaining(`metadata file ${join(dir, meta!)}: ${kind}`)]);
        expect(r.err).not.toContain('internal error');
      }
    }
    await pair([1]);
    const r = await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'f.meta', '--all-differ', '--force');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('exists and is not a regular file')]);
  }, 10_000);

  it('bad usage: no --meta, an unknown flag, --unprotected on resume', async () => {
    expect((await cli('restore')).err).toContain('--meta FILE is required');
    expect((await cli('restore', '--meta', 'm', '--fast')).code).toBe(2);
    expect((await cli('resume', '--meta', 'm', '--unprotected')).code).toBe(2);
    expect((await cli('restore', '--meta', 'm', '--batch', 'lots')).code).toBe(2);
  });
});

describe('resume and status mid-restore', () => {
  /** A restore started and stepped a little, then abandoned as a crash would leave it. */
  async function interrupted(steps: number): Promise<void> {
    const meta = join(dir, 'm.meta');
    const header = await readHeader(meta);
    const opened = await openDevices(header, meta, { readOnly: false });
    const engine = await imageEngine(header.geometry, 8 * EXTENT).open(opened.devices, header.geometry);
    await engine.startRestore({ protect: true });
    for (let i = 0; i < steps; i++) await engine.step();
    await opened.close();
  }

  it('status reports it, restore and init --force refuse it, resume finishes it', async () => {
    await pair(Array.from({ length: 64 }, (_, i) => i * 4));
    const cloneHash = await sha256File(join(dir, 'c.img'));
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    let r = await cli('resume', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('no restore is in progress')]);

    await interrupted(3);
    const s = await status();
    expect(s).toMatchObject({ state: 'restoring', protect: true, extentsRemaining: 64 - 24, deltaCount: 40, protectedCount: 0 });
    expect(String((s.source as { check: string }).check)).toContain('not comparable mid-restore');

    r = await cli('restore', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('already in progress')]);
    r = await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--all-differ', '--force');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('records a restore in progress')]);

    r = await cli('verify', '--meta', 'm.meta');
    expect([r.code, r.err]).toEqual([2, expect.stringContaining('a restore of this pair is in progress')]);

    r = await cli('resume', '--meta', 'm.meta', '--verify', '--json', '-');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ command: 'resume', outcome: 'complete', extentsAtStart: 40, extentsCopied: 40, verified: { equal: true } });
    expect(same('s.img', 'c.img')).toBe(true);
    expect(await sha256File(join(dir, 'c.img'))).toBe(cloneHash);
    expect(await status()).toMatchObject({ state: 'fractured', deltaCount: 0 });
  });
});

describe('a map damaged mid-restore', () => {
  it('is refused by resume and status, and nothing more is copied', async () => {
    await pair(Array.from({ length: 64 }, (_, i) => i * 4));
    await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare');
    const meta = join(dir, 'm.meta');
    const header = await readHeader(meta);
    const opened = await openDevices(header, meta, { readOnly: false });
    const engine = await imageEngine(header.geometry, 8 * EXTENT).open(opened.devices, header.geometry);
    await engine.startRestore({ protect: true });
    await engine.step();
    await opened.close();
    const sourceHash = await sha256File(join(dir, 's.img'));
    // Zeros over D's bits for extents 64..255, as a stray write would leave them.
    const bytes = readFileSync(meta);
    bytes.fill(0, HEADER_SIZE + 2 * 512 + 8, HEADER_SIZE + 2 * 512 + 32);
    writeFileSync(meta, bytes);
    for (const command of ['resume', 'status']) {
      const r = await cli(command, '--meta', 'm.meta');
      expect([r.code, r.err], command).toEqual([2, expect.stringContaining('clone delta map (D): sector 0 of 1')]);
    }
    expect(await sha256File(join(dir, 's.img'))).toBe(sourceHash);
    expect(same('s.img', 'c.img')).toBe(false);
  });
});

describe('building blocks', () => {
  it('sizes', () => {
    expect(parseSize('extent', '64K')).toBe(65536);
    expect(parseSize('extent', '1MiB')).toBe(1 << 20);
    expect(parseSize('extent', '4096')).toBe(4096);
    expect(() => parseSize('extent', '0')).toThrow('positive');
    expect(() => parseSize('extent', '1.5M')).toThrow('expected a size');
  });

  it('header round-trips and refuses what is not one', () => {
    const h = {
      engine: 'reference',
      geometry: { volumeSize: 1 << 30, sectorSize: 512, extentSectors: 128 },
      metaOffset: HEADER_SIZE,
      metaSize: 8192,
      source: { path: '/a/s.img', size: 1 << 30, fingerprint: 'ab' },
      clone: { path: '/a/c.img', size: 1 << 30, fingerprint: 'cd' },
    };
    expect(decodeHeader(encodeHeader(h), 'm')).toEqual(h);
    expect(() => encodeHeader({ ...h, source: { ...h.source, path: 'x'.repeat(5000) } })).toThrow('too long');
    expect(() => decodeHeader(new Uint8Array(100), 'm')).toThrow('shorter than');
  });

  it('an offset device is a window, an overlay keeps writes in memory', async () => {
    const inner = MemoryDevice.zeroed(8192, 512, 'inner');
    const win = new OffsetDevice(inner, 4096, 2048);
    await win.write(512, new Uint8Array(512).fill(9));
    expect((await inner.read(4096 + 512, 512))[0]).toBe(9);
    await expect(win.read(2048, 512)).rejects.toThrow('past the device size');
    const over = new OverlayDevice(inner);
    await over.write(0, new Uint8Array(1024).fill(5));
    expect([...(await over.read(0, 1536))].filter((b) => b === 5).length).toBe(1024);
    expect((await inner.read(0, 512))[0]).toBe(0);
  });

  it('a pooled buffer given back is detached from its holder, so misuse fails loudly', () => {
    const pool = new BufferPool(1 << 20);
    const a = pool.take(4096);
    a.fill(1);
    pool.give(a);
    expect(a.length).toBe(0);
    const b = pool.take(4096);
    expect(b.length).toBe(4096);
    expect(b[0]).toBe(1); // the same memory, reused, not a fresh allocation
    const foreign = new Uint8Array(4096);
    pool.give(foreign);
    expect(foreign.length).toBe(4096);
  });

  it('early writeback never loses a background flush failure', async () => {
    const inner = MemoryDevice.zeroed(1 << 16, 512, 'inner');
    let failNext = true;
    const flaky = {
      size: inner.size,
      sectorSize: 512,
      read: inner.read.bind(inner),
      write: inner.write.bind(inner),
      flush: async () => {
        if (failNext) {
          failNext = false;
          throw new Error('EIO in writeback');
        }
      },
    };
    const dev = new EarlyWritebackDevice(flaky, 4096);
    await dev.write(0, new Uint8Array(4096));
    await expect(dev.flush()).rejects.toThrow('EIO in writeback');
    await expect(dev.flush()).resolves.toBeUndefined();
  });
});

describe('a source served to hosts', () => {
  it('is recorded in the metadata file before hosts may write it; status and restore then accept its changed content, which only they could have made', async () => {
    await pair([1, 2]);
    expect((await cli('init', '--source', 's.img', '--clone', 'c.img', '--meta', 'm.meta', '--extent', '4K', '--compare')).code).toBe(0);
    const meta = join(dir, 'm.meta');
    const engineRegion = readFileSync(meta).subarray(HEADER_SIZE);
    // A host write, as one through prestore serve: without the record, the pair is refused.
    await scribble(join(dir, 's.img'), [{ offset: 7 * EXTENT, length: 512 }], 'host');
    const refused = await cli('status', '--meta', 'm.meta');
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('changed since prestore init');
    const marked = await markSourceServed(await readHeader(meta), meta);
    expect(marked.sourceServed).toBe(true);
    expect((await readHeader(meta)).sourceServed).toBe(true);
    // The engine's region is carried over byte for byte, and no temporary file is left.
    expect(readFileSync(meta).subarray(HEADER_SIZE).equals(engineRegion)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('m.meta.'))).toEqual([]);
    const s = await status();
    expect((s.source as { check: string }).check).toContain('served to hosts');
  });
});
