/**
 * `status`: what a pair's metadata says, read without changing anything (the engine is opened
 * over overlays, see overlay-device.ts) and without the lock, so it works while a restore runs;
 * then the figures are those of the running restore's last commit.
 */
import { extentBytes, extentCount } from '../engine/contract.js';
import { imageEngine } from './engine.js';
import type { MetaHeader } from './header.js';
import { ioError } from './io-error.js';
import { describeHolder, lockState } from './lock.js';
import { checkIdleSource, checkImages, probe, readHeader } from './pair.js';

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
}

export async function pairStatus(meta: string): Promise<PairStatus> {
  const header = await readHeader(meta);
  await checkImages(header, meta);
  const lock = await lockState(meta);
  const { geometry } = header;
  try {
    const { status, maps } = await probe(header, meta, imageEngine(geometry), true);
    const count = (bits: readonly boolean[] | undefined) => (bits === undefined ? 0 : bits.reduce((n, b) => (b ? n + 1 : n), 0));
    const remaining = status.state === 'restoring' ? status.extentsRemaining : 0;
    let sourceCheck = 'size ok; fingerprint not comparable mid-restore';
    if (status.state === 'fractured') {
      sourceCheck = await checkIdleSource(header, meta).then(
        (how) => (how === 'as-init' ? 'ok (as at init)' : 'ok (equals the clone: restored)'),
        (e: unknown) => `CHANGED since init: a restore would be refused (${(e as Error).message})`,
      );
    }
    return {
      meta,
      source: { path: header.source.path, size: header.source.size, check: sourceCheck },
      clone: { path: header.clone.path, size: header.clone.size, check: 'ok' },
      geometry,
      extentBytes: extentBytes(geometry),
      extents: extentCount(geometry),
      state: status.state,
      protect: status.state === 'restoring' ? status.protect : null,
      extentsRemaining: remaining,
      bytesRemaining: Math.min(remaining * extentBytes(geometry), geometry.volumeSize),
      deltaCount: count(maps?.delta),
      protectedCount: count(maps?.protected),
      lock:
        lock.state === 'free'
          ? 'free'
          : lock.state === 'held'
            ? `held by ${describeHolder(lock.holder)} (a restore is running; figures are as of its last commit)`
            : lock.state === 'stale'
              ? `stale (left by ${describeHolder(lock.holder)}, no longer running; the next restore or resume clears it)`
              : 'unreadable lock file',
    };
  } catch (e) {
    throw ioError(e, `status of ${meta}`);
  }
}
