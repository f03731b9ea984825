/**
 * `verify`, and `restore --verify`: source and clone compared byte for byte, every byte, with the
 * delta map beside the result. The fingerprint only samples the images; this is the check that
 * lets a message say "source equals clone".
 *
 * A difference is a finding (exit 1) either way, and the delta map tells which kind: in an extent
 * whose D bit is set it is one the next restore copies (a pair not yet restored); in one whose D
 * bit is clear it is a change made behind prestore's back, which no restore would ever copy.
 * Mid-restore the comparison means nothing (the copier is rewriting the source), so it is refused.
 */
import { InputError } from '../errors.js';
import { extentBytes, extentCount } from '../engine/contract.js';
import { compareImages } from './compare.js';
import { imageEngine } from './engine.js';
import type { MetaHeader } from './header.js';
import { ioError } from './io-error.js';
import { acquirePairLock, type Lock } from './lock.js';
import { checkImages, pairImages, probe, readHeader } from './pair.js';

export interface Verification {
  readonly equal: boolean;
  /** The offset of the first byte where source and clone differ; null when they are equal. */
  readonly firstDifference: number | null;
  readonly differingExtents: number;
  /** Differing extents whose D bit is clear: changes no restore would copy. */
  readonly uncoveredExtents: number;
  readonly bytesCompared: number;
}

export interface CompareProgress {
  /** Called once with the bytes to compare, then with the bytes compared so far. */
  readonly onStart?: (totalBytes: number) => void;
  readonly onProgress?: (doneBytes: number) => void;
}

/** Compares the pair's images, every byte, and holds the result against the delta map `delta`. */
export async function comparePair(header: MetaHeader, delta: readonly boolean[], progress: CompareProgress = {}): Promise<Verification> {
  const { geometry } = header;
  progress.onStart?.(geometry.volumeSize);
  const { delta: differs, firstDifference } = await compareImages(header.source.path, header.clone.path, geometry, progress.onProgress).catch((e: unknown) => {
    throw ioError(e, `comparing ${header.source.path} with ${header.clone.path}`);
  });
  let differing = 0;
  let uncovered = 0;
  differs.forEach((d, e) => {
    if (!d) return;
    differing++;
    if (delta[e] !== true) uncovered++;
  });
  return { equal: differing === 0, firstDifference: firstDifference ?? null, differingExtents: differing, uncoveredExtents: uncovered, bytesCompared: geometry.volumeSize };
}

/** Where a difference lies, in words: the byte, its extent, and what the delta map makes of it. */
export function describeDifference(header: MetaHeader, v: Verification): string {
  if (v.firstDifference === null) return 'source and clone are equal';
  const per = extentBytes(header.geometry);
  const first = `source and clone differ, first at byte ${v.firstDifference} (extent ${Math.floor(v.firstDifference / per)}); ${v.differingExtents} of ${extentCount(header.geometry)} extents differ`;
  if (v.uncoveredExtents === 0) return `${first}, all of them marked in the delta map: a restore copies them`;
  return (
    `${first}, ${v.uncoveredExtents} of them NOT marked in the delta map: the images were changed behind prestore's back (after init), ` +
    `and no restore would copy those extents. To restore them: prestore init --compare --force, then prestore restore`
  );
}

export interface VerifyOptions extends CompareProgress {
  /** Absolute path of the metadata file. */
  readonly meta: string;
  readonly lockDir: string;
  readonly notice: (message: string) => void;
  /** Called once the lock is held, so a hard exit can still release it. */
  readonly onLock?: (lock: Lock) => void;
}

/** `prestore verify`: the pair checked, locked (no restore may start meanwhile), and compared. */
export async function verifyPair(options: VerifyOptions): Promise<{ header: MetaHeader; verification: Verification }> {
  const { meta } = options;
  const header = await readHeader(meta);
  await checkImages(header, meta);
  const lock = await acquirePairLock(options.lockDir, pairImages(header), options.notice);
  options.onLock?.(lock);
  try {
    const { status, maps } = await probe(header, meta, imageEngine(header.geometry), true);
    if (status.state === 'restoring') {
      throw new InputError(`${meta}: a restore of this pair is in progress, so the source is still being rewritten and a comparison would mean nothing; finish it first: prestore resume --meta ${meta} --verify`);
    }
    return { header, verification: await comparePair(header, maps?.delta ?? [], options) };
  } finally {
    await lock.release();
  }
}
