/**
 * `status`: what a pair's metadata says, read without changing anything (the engine is opened
 * over overlays, see overlay-device.ts) and without the lock, so it works while a restore runs;
 * then the figures are those of the running restore's last commit.
 *
 * What it checks is what its words claim: sizes and fingerprints (samples of each image, see
 * fingerprint.ts) and the maps' checksums, never every byte (that is `verify`). A pair that is
 * not what its metadata says (corrupt maps, a wrong image) is refused outright; one whose source
 * changed since init is reported, with the problem listed, so the command can fail on it.
 */
import { type EngineFactory, extentBytes, extentCount } from '../engine/contract.js';
import { MetadataError } from '../errors.js';
import { imageEngine } from './engine.js';
import type { MetaHeader } from './header.js';
import { ioError } from './io-error.js';
import { describeHolder, imageLockPath, lockState } from './lock.js';
import { checkIdleSource, checkImages, pairImages, probe, readHeader } from './pair.js';

export interface PairStatus {
  readonly meta: string;
  readonly source: { readonly path: string; readonly size: number; readonly check: string };
  readonly clone: { readonly path: string; readonly size: number; readonly check: string };
  readonly geometry: MetaHeader['geometry'];
  readonly extentBytes: number;
  readonly extents: number;
  readonly state: 'fractured' | 'restoring';
  /** Whether the restore in progress is protected; null when none is. */
  readonly protect: boolean | null;
  readonly extentsRemaining: number;
  readonly bytesRemaining: number;
  /** Set bits of the clone delta map (D) and the protected restore map (P). */
  readonly deltaCount: number;
  readonly protectedCount: number;
  readonly lock: string;
  /** What is wrong with the pair, if anything: each a sentence. Empty when all is as it should be. */
  readonly problems: readonly string[];
}

export async function pairStatus(meta: string, lockDir: string): Promise<PairStatus> {
  const header = await readHeader(meta);
  await checkImages(header, meta);
  const { geometry } = header;
  try {
    const lock = await describeLocks(header, lockDir);
    const { status, maps } = await probeSteadily(header, meta, imageEngine(geometry));
    const count = (bits: readonly boolean[] | undefined) => (bits === undefined ? 0 : bits.reduce((n, b) => (b ? n + 1 : n), 0));
    const remaining = status.state === 'restoring' ? status.extentsRemaining : 0;
    const problems: string[] = [];
    let sourceCheck = 'size ok; fingerprint not comparable mid-restore';
    if (status.state === 'fractured') {
      sourceCheck = await checkIdleSource(header, meta).then(
        (how) =>
          how === 'as-init' ? 'size ok, fingerprint as at init' : how === 'restored' ? 'size ok, fingerprint equals the clone\'s (restored)' : 'size ok; served to hosts by prestore serve, so not fingerprinted (prestore verify compares every byte)',
        (e: unknown) => {
          problems.push((e as Error).message);
          return 'CHANGED since init: a restore would be refused';
        },
      );
    }
    return {
      meta,
      source: { path: header.source.path, size: header.source.size, check: sourceCheck },
      clone: { path: header.clone.path, size: header.clone.size, check: 'size ok, fingerprint as at init' },
      geometry,
      extentBytes: extentBytes(geometry),
      extents: extentCount(geometry),
      state: status.state,
      protect: status.state === 'restoring' ? status.protect : null,
      extentsRemaining: remaining,
      bytesRemaining: Math.min(remaining * extentBytes(geometry), geometry.volumeSize),
      deltaCount: count(maps?.delta),
      protectedCount: count(maps?.protected),
      lock,
      problems,
    };
  } catch (e) {
    throw ioError(e, `status of ${meta}`);
  }
}

/**
 * `probe`, tried again when the metadata fails a check. A restore running in another process may
 * be rewriting a map sector just as it is read, and a read that overlaps a write can see part of
 * it; only a failure that persists is the metadata's.
 */
async function probeSteadily(header: MetaHeader, meta: string, engine: EngineFactory): ReturnType<typeof probe> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await probe(header, meta, engine, true);
    } catch (e) {
      if (!(e instanceof MetadataError) || attempt === 3) throw e;
    }
  }
}

/** The locks of both images, in words: free, or who holds which. */
async function describeLocks(header: MetaHeader, lockDir: string): Promise<string> {
  const parts: string[] = [];
  for (const image of pairImages(header)) {
    const path = await imageLockPath(lockDir, image);
    const lock = await lockState(path);
    if (lock.state === 'held') parts.push(`${image.role} held by ${describeHolder(lock.holder)} (a restore is running; figures are as of its last commit)`);
    else if (lock.state === 'stale') parts.push(`${image.role}: stale (left by ${describeHolder(lock.holder)}, no longer running; the next restore or resume clears it)`);
    else if (lock.state === 'unreadable') parts.push(`${image.role}: unreadable lock file ${path}`);
  }
  return parts.length === 0 ? 'free' : parts.join('; ');
}
