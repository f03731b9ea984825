/**
 * The source as an NBD export (`prestore serve`), seen by a host: random 4 KiB write throughput
 * through the export while a restore runs, over the same with no restore, and the latency of a
 * 4 KiB read of an extent not yet copied (served from the clone) over one already copied.
 *
 * How it is measured, and what that means:
 * - The server is the real binary (`prestore serve`) in a child process, on a unix socket; the
 *   host is the project's own NBD client in this process (src/nbd/client.ts), one request in
 *   flight at a time (queue depth 1), so the bench runs wherever node does.
 * - Writes: the same seeded sequence of random 4 KiB-aligned writes over the whole image in each
 *   round, then one FLUSH, timed together; then the same again (`rewrite*`), when every extent
 *   they touch has been protected by the first pass. "No restore": the pair fractured with every delta-map
 *   bit set (init --all-differ), so the engine adds nothing to a write. "Restore": the same pair
 *   with a protected restore started by the server (--restore), its copier at up to 8 MiB/s:
 *   a write to an extent not yet protected costs the engine its copy-before-write (the clone's
 *   data around the host's, in one write; none for a whole extent), its P bit is made durable at
 *   the flush (`deferProtection`, as `prestore serve` runs the engine), and the copier yields to the host.
 *   Rounds alternate which side goes first; each side reports its median.
 * - Reads: a server with a restore whose copier is held back (--rate 1K): its first step copies
 *   the first batch (1 MiB) at once, and nothing else is copied during the measurement. Reads of
 *   single 4 KiB blocks alternate between extents in that batch (copied: read from the source)
 *   and extents past it (not copied: read from the clone); median latency of each.
 * - Both images are written just before and sit in the page cache: this measures the engine and
 *   the protocol, not the disk's reads; flushes (fdatasync) do reach the disk.
 *
 * PRESTORE_BENCH_NBD_SIZE (default 256M), PRESTORE_BENCH_NBD_WRITES (default 2000) and
 * PRESTORE_BENCH_ROUNDS (default 3) override the defaults; PRESTORE_BENCH_DIR the directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng } from '../devices/rng.js';
import { writeSeededImage } from '../images/fixtures.js';
import { parseSize } from '../images/sizes.js';
import { NbdClient } from '../nbd/client.js';
import { type ServeProcess, startServe } from '../nbd/serve-process.js';

export interface NbdBench {
  sizeBytes: number;
  extentBytes: number;
  writes: number;
  rounds: number;
  /** 4 KiB writes per second, fractured pair (no restore). */
  writeIopsNoRestore: number;
  /** The same during a protected restore, copier running. */
  writeIopsRestoring: number;
  /** Restoring over no restore, round by round, median; the aim is at least 0.9. */
  writeRatio: number;
  /** The same writes a second time, in the same round: every extent they touch is protected by then. */
  rewriteIopsNoRestore: number;
  rewriteIopsRestoring: number;
  rewriteRatio: number;
  /** Distinct extents the writes touch. */
  extentsWritten: number;
  /** Extents taken off the restore's list by the end of a restoring round, by the copier or the writes (median). */
  restoreExtentsDone: number;
  readUsCopied: number;
  readUsUncopied: number;
  /** readUsUncopied / readUsCopied. */
  readLatencyRatio: number;
}

const EXTENT = 64 << 10;
/** The copier's limit in the restoring rounds: a background restore, and one that outlasts the writes. */
const COPIER_RATE = '8M';
const BLOCK = 4096;
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

function prestore(...args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(process.execPath, [bin, ...args], { maxBuffer: 1 << 24 }, (error, stdout, stderr) => (error ? fail(new Error(`prestore ${args.join(' ')}: ${error.message}\n${stderr}`)) : done(stdout)));
  });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function stop(server: ServeProcess): Promise<void> {
  server.child.kill('SIGTERM');
  const exit = await server.exit;
  if (exit.code !== 0) throw new Error(`prestore serve ended with ${exit.code ?? exit.signal}:\n${server.stderr()}`);
}

async function remaining(meta: string): Promise<number> {
  return (JSON.parse(await prestore('status', '--meta', meta, '--json', '-')) as { extentsRemaining: number }).extentsRemaining;
}

export async function benchNbd(options: { size?: number; writes?: number; rounds?: number; dir?: string } = {}): Promise<NbdBench> {
  const size = options.size ?? parseSize('PRESTORE_BENCH_NBD_SIZE', process.env.PRESTORE_BENCH_NBD_SIZE ?? '256M');
  const writes = options.writes ?? Number(process.env.PRESTORE_BENCH_NBD_WRITES ?? 2000);
  const rounds = options.rounds ?? Number(process.env.PRESTORE_BENCH_ROUNDS ?? 3);
  if (size % EXTENT !== 0) throw new Error(`image size ${size} must be a multiple of ${EXTENT}`);
  const dir = mkdtempSync(join(options.dir ?? process.env.PRESTORE_BENCH_DIR ?? tmpdir(), 'prestore-bench-nbd-'));
  try {
    const clone = join(dir, 'clone.img');
    const source = join(dir, 'source.img');
    const meta = join(dir, 'pair.meta');
    const socket = join(dir, 'nbd.sock');
    await writeSeededImage(clone, size, 'bench-nbd-clone');
    await writeSeededImage(source, size, 'bench-nbd-source');
    // A new pair each round, every bit set: an earlier round's restore (left in progress on
    // purpose) is dropped with its metadata file, and whatever it left in the source is all to be restored again.
    const fresh = async () => {
      await unlink(meta).catch(() => undefined);
      await prestore('init', '--source', source, '--clone', clone, '--meta', meta, '--extent', `${EXTENT}`, '--all-differ');
    };
    const serve = (...args: string[]) => startServe(bin, ['--meta', meta, '--socket', socket, ...args]);

    const rng = seededRng('bench-nbd-writes');
    const offsets = Array.from({ length: writes }, () => rng.below(size / BLOCK) * BLOCK);
    const touched = new Set(offsets.map((o) => Math.floor(o / EXTENT))).size;
    const writeRound = async (restoring: boolean): Promise<{ first: number; again: number; done: number }> => {
      await fresh();
      const server = await serve(...(restoring ? ['--restore', '--rate', COPIER_RATE] : []));
      const client = await NbdClient.connect({ socket });
      const data = new Uint8Array(BLOCK).fill(0x5a);
      const pass = async () => {
        const t0 = performance.now();
        for (const offset of offsets) await client.write(offset, data);
        await client.flush();
        return (writes / (performance.now() - t0)) * 1000;
      };
      const first = await pass();
      const again = await pass();
      await client.disconnect();
      await stop(server);
      if (!restoring) return { first, again, done: 0 };
      const left = await remaining(meta);
      if (left === 0) throw new Error(`the restore ended before the writes did, so they were not measured during one: use a larger PRESTORE_BENCH_NBD_SIZE than ${size}`);
      // Extents taken off the restore's list, by the copier or by the host's writes.
      return { first, again, done: size / EXTENT - left };
    };

    const plain: { first: number; again: number }[] = [];
    const during: { first: number; again: number }[] = [];
    const done: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const restoring of r % 2 === 0 ? [false, true] : [true, false]) {
        const round = await writeRound(restoring);
        (restoring ? during : plain).push(round);
        if (restoring) done.push(round.done);
      }
    }

    await fresh();
    const server = await serve('--restore', '--rate', '1K');
    const client = await NbdClient.connect({ socket });
    const copiedExtents = (1 << 20) / EXTENT;
    const extents = size / EXTENT;
    if (extents - (await remaining(meta)) < copiedExtents) throw new Error('the copier has not copied its first batch yet');
    const pick = seededRng('bench-nbd-reads');
    const fromSource: number[] = [];
    const fromClone: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const uncopied = i % 2 === 1;
      const extent = uncopied ? copiedExtents + pick.below(extents - copiedExtents) : pick.below(copiedExtents);
      const t0 = performance.now();
      await client.read(extent * EXTENT + pick.below(EXTENT / BLOCK) * BLOCK, BLOCK);
      (uncopied ? fromClone : fromSource).push((performance.now() - t0) * 1000);
    }
    await client.disconnect();
    await stop(server);

    const writeIopsNoRestore = median(plain.map((p) => p.first));
    const writeIopsRestoring = median(during.map((p) => p.first));
    const rewriteIopsNoRestore = median(plain.map((p) => p.again));
    const rewriteIopsRestoring = median(during.map((p) => p.again));
    const readUsCopied = median(fromSource);
    const readUsUncopied = median(fromClone);
    return {
      sizeBytes: size,
      extentBytes: EXTENT,
      writes,
      rounds,
      writeIopsNoRestore,
      writeIopsRestoring,
      // Per round, then the median: each round's two sides ran back to back on the same machine state.
      writeRatio: median(during.map((d, r) => d.first / plain[r]!.first)),
      rewriteIopsNoRestore,
      rewriteIopsRestoring,
      rewriteRatio: median(during.map((d, r) => d.again / plain[r]!.again)),
      extentsWritten: touched,
      restoreExtentsDone: median(done),
      readUsCopied,
      readUsUncopied,
      readLatencyRatio: readUsUncopied / readUsCopied,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
