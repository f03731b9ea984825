/**
 * Restoring real image files, against `cp` of the same image on the same file system in the same
 * run: the full restore (every extent differs), the same with 1% of the extents differing, and
 * the peak RSS of the restoring process.
 *
 * How it is measured, and what that means:
 * - The restore runs as the real binary (`prestore restore --json -`) in a child process; its
 *   time is the one the command reports, from opening the engine to the final flush, so process
 *   start-up and the image checks (fingerprints) are not in it. They are in `restoreWallMs`.
 * - `cp` is timed from its start to the end of an fdatasync of the copy, because the restore's
 *   time includes making its copy durable, and a cp that leaves 1 GiB in the page cache would
 *   not be the same work.
 * - Rounds alternate cp and restore and each side reports its median, so a slow moment of the
 *   machine (the disk's writeback) hits both alike. Both read a clone that is in the page cache.
 * - Peak RSS is the child's `process.resourceUsage().maxRSS`, printed by a preloaded exit hook.
 *
 * PRESTORE_BENCH_IMAGE_SIZE (e.g. 64M, 4G; default 1G) and PRESTORE_BENCH_DIR (default the OS
 * temp directory) override the defaults; PRESTORE_BENCH_ROUNDS the rounds (default 3).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRng } from '../devices/rng.js';
import { scribble, writeSeededImage } from '../images/fixtures.js';
import { parseSize } from '../images/sizes.js';

export interface ImageBench {
  sizeBytes: number;
  extentBytes: number;
  rounds: number;
  restoreMs: number;
  restoreMBps: number;
  restoreWallMs: number;
  cpMs: number;
  cpMBps: number;
  /** restoreMBps / cpMBps: how close the restore comes to a plain copy. */
  ratioVsCp: number;
  delta1pctMs: number;
  /** delta1pctMs / restoreMs: time with 1% of extents differing over time with all. */
  delta1pctTimeRatio: number;
  /** The same, process to process (start-up and image checks included). */
  delta1pctWallRatio: number;
  peakRssMB: number;
}

const EXTENT = 64 << 10;
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const RSS_HOOK = 'data:text/javascript,process.on("exit",()=>process.stderr.write("maxrss="+process.resourceUsage().maxRSS+"\\n"))';

function run(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(file, args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) => (error ? fail(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`)) : done({ stdout, stderr })));
  });
}

function prestore(...args: string[]) {
  return run(process.execPath, [bin, ...args]);
}

interface RestoreRun {
  readonly ms: number;
  readonly wallMs: number;
  readonly bytes: number;
  readonly rssKB: number;
}

async function restore(meta: string): Promise<RestoreRun> {
  const t0 = performance.now();
  const { stdout, stderr } = await run(process.execPath, ['--import', RSS_HOOK, bin, 'restore', '--meta', meta, '--json', '-']);
  const wallMs = performance.now() - t0;
  const result = JSON.parse(stdout) as { outcome: string; elapsedMs: number; bytesCopied: number };
  if (result.outcome !== 'complete') throw new Error(`restore ended ${result.outcome}`);
  return { ms: result.elapsedMs, wallMs, bytes: result.bytesCopied, rssKB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? NaN) };
}

async function cp(from: string, to: string): Promise<number> {
  await unlink(to).catch(() => undefined);
  const t0 = performance.now();
  await run('cp', [from, to]);
  await datasync(to);
  return performance.now() - t0;
}

async function datasync(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export async function benchImage(options: { size?: number; dir?: string; rounds?: number } = {}): Promise<ImageBench> {
  const size = options.size ?? parseSize('PRESTORE_BENCH_IMAGE_SIZE', process.env.PRESTORE_BENCH_IMAGE_SIZE ?? '1G');
  const rounds = options.rounds ?? Number(process.env.PRESTORE_BENCH_ROUNDS ?? 3);
  if (size % EXTENT !== 0) throw new Error(`image size ${size} must be a multiple of ${EXTENT}`);
  const dir = mkdtempSync(join(options.dir ?? process.env.PRESTORE_BENCH_DIR ?? tmpdir(), 'prestore-bench-'));
  try {
    const clone = join(dir, 'clone.img');
    const source = join(dir, 'source.img');
    const meta = join(dir, 'pair.meta');
    await writeSeededImage(clone, size, 'bench-clone');
    await writeSeededImage(source, size, 'bench-source');
    // On the disk before the first round, so no round pays for the setup's writeback.
    await Promise.all([clone, source].map(datasync));
    const init = (how: string) => prestore('init', '--source', source, '--clone', clone, '--meta', meta, '--extent', `${EXTENT}`, how, '--force');

    const full: RestoreRun[] = [];
    const cps: number[] = [];
    for (let r = 0; r < rounds; r++) {
      // Every round restores every extent: the bits are set again, whatever the source holds.
      await init('--all-differ');
      // Alternate which side goes first, so neither always runs on the other's writeback.
      if (r % 2 === 0) {
        cps.push(await cp(clone, join(dir, 'copy.img')));
        full.push(await restore(meta));
      } else {
        full.push(await restore(meta));
        cps.push(await cp(clone, join(dir, 'copy.img')));
      }
    }
    await unlink(join(dir, 'copy.img')).catch(() => undefined);

    // 1%: the source now equals the clone; change 1% of its extents, seeded, and compare.
    const extents = size / EXTENT;
    const rng = seededRng('bench-delta');
    const delta: RestoreRun[] = [];
    for (let r = 0; r < rounds; r++) {
      const picked = new Set<number>();
      while (picked.size < Math.max(1, Math.round(extents / 100))) picked.add(rng.below(extents));
      await scribble(source, [...picked].map((e) => ({ offset: e * EXTENT, length: EXTENT })), `bench-delta-${r}`);
      // As for the images themselves: the changes are on the disk before the timed restore.
      await datasync(source);
      await init('--compare');
      delta.push(await restore(meta));
    }

    const restoreMs = median(full.map((f) => f.ms));
    const cpMs = median(cps);
    const mbps = (ms: number) => size / 1e6 / (ms / 1000);
    return {
      sizeBytes: size,
      extentBytes: EXTENT,
      rounds,
      restoreMs,
      restoreMBps: mbps(restoreMs),
      restoreWallMs: median(full.map((f) => f.wallMs)),
      cpMs,
      cpMBps: mbps(cpMs),
      ratioVsCp: mbps(restoreMs) / mbps(cpMs),
      delta1pctMs: median(delta.map((d) => d.ms)),
      delta1pctTimeRatio: median(delta.map((d) => d.ms)) / restoreMs,
      delta1pctWallRatio: median(delta.map((d) => d.wallMs)) / median(full.map((f) => f.wallMs)),
      peakRssMB: Math.max(...full.map((f) => f.rssKB), ...delta.map((d) => d.rssKB)) / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
