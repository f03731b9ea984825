/**
 * `restore` and `resume`: the pair checked, locked, and the copier run to the end, stopping only
 * between steps when asked. Every step leaves the metadata consistent on disk (that is the
 * engine's contract), so a stop between steps, and equally a SIGKILL or a failed write inside
 * one, loses nothing: `resume` takes up from the maps. With `verify`, the images are compared
 * byte for byte once the restore completes, before the lock is given back.
 */
import { InputError } from '../errors.js';
import { extentBytes } from '../engine/contract.js';
import { DEFAULT_BATCH_BYTES, imageEngine } from './engine.js';
import type { MetaHeader } from './header.js';
import { ioError } from './io-error.js';
import { acquirePairLock, type Lock } from './lock.js';
import { checkIdleSource, checkImages, openDevices, openEngine, pairImages, probe, readHeader } from './pair.js';
import { comparePair, type CompareProgress, type Verification } from './verify.js';

export interface SessionOptions {
  /** Absolute path of the metadata file. */
  readonly meta: string;
  readonly mode: 'restore' | 'resume';
  /** `restore` only; a resumed restore keeps the protection it was started with. */
  readonly protect?: boolean;
  readonly batchBytes?: number;
  readonly lockDir: string;
  /** Once the restore completes, compare the images byte for byte (still under the lock). */
  readonly verify?: CompareProgress | false;
  /** Aborted: stop at the next point between steps. */
  readonly signal?: AbortSignal;
  readonly now: () => number;
  readonly notice: (message: string) => void;
  /** Called once the lock is held, so a hard exit can still release it. */
  readonly onLock?: (lock: Lock) => void;
  /** Called once the copy starts, with the bytes to copy; then with the bytes copied so far. */
  readonly onStart?: (totalBytes: number) => void;
  readonly onProgress?: (doneBytes: number) => void;
}

export interface SessionOutcome {
  readonly header: MetaHeader;
  /** `complete`: every extent the delta map marked was copied, the pair is fractured again; `interrupted`: resumable. */
  readonly outcome: 'complete' | 'interrupted' | 'not-started';
  readonly protect: boolean;
  readonly extentsAtStart: number;
  readonly extentsCopied: number;
  readonly bytesCopied: number;
  readonly extentsRemaining: number;
  /** From the start of the restore (or the resume) to the final flush. */
  readonly elapsedMs: number;
  /** The byte-for-byte comparison, when asked for and the restore completed. */
  readonly verification?: Verification;
}

export async function runSession(options: SessionOptions): Promise<SessionOutcome> {
  const { meta, mode } = options;
  const header = await readHeader(meta);
  await checkImages(header, meta);
  const lock = await acquirePairLock(options.lockDir, pairImages(header), options.notice);
  options.onLock?.(lock);
  try {
    const engine = imageEngine(header.geometry, options.batchBytes ?? DEFAULT_BATCH_BYTES);
    const { status } = await probe(header, meta, engine, false);
    if (mode === 'restore' && status.state === 'restoring') {
      throw new InputError(`${meta}: a restore of this pair is already in progress (it was interrupted); finish it with: prestore resume --meta ${meta}`);
    }
    if (mode === 'resume' && status.state === 'fractured') {
      throw new InputError(`${meta}: no restore is in progress, so there is nothing to resume; to start one: prestore restore --meta ${meta}`);
    }
    if (mode === 'restore') await checkIdleSource(header, meta);
    const outcome = await copy(header, options);
    if (outcome.outcome !== 'complete' || !options.verify) return outcome;
    // D after completion: clear, as the image tool issues no host writes; read back, not assumed.
    const { maps } = await probe(header, meta, imageEngine(header.geometry), true);
    return { ...outcome, verification: await comparePair(header, maps?.delta ?? [], options.verify) };
  } catch (e) {
    throw ioError(e, `${mode} of ${meta}`);
  } finally {
    await lock.release();
  }
}

async function copy(header: MetaHeader, options: SessionOptions): Promise<SessionOutcome> {
  const { geometry } = header;
  const per = extentBytes(geometry);
  const bytesOf = (extents: number) => Math.min(extents * per, geometry.volumeSize);
  const opened = await openDevices(header, options.meta, { readOnly: false });
  // Whether the pair may now hold a restore in progress: from here a failure must say how to go on.
  let begun = options.mode === 'resume';
  try {
    const engine = await openEngine(imageEngine(geometry, options.batchBytes ?? DEFAULT_BATCH_BYTES), opened.devices, header, options.meta);
    const base = { header, extentsCopied: 0, bytesCopied: 0, elapsedMs: 0 };
    const started = options.now();
    if (options.mode === 'restore') {
      // The last point where stopping leaves the pair as it was: after this the restore is durable.
      if (options.signal?.aborted) return { ...base, outcome: 'not-started', protect: options.protect ?? true, extentsAtStart: 0, extentsRemaining: 0 };
      begun = true;
      await engine.startRestore({ protect: options.protect ?? true });
    }
    const first = await engine.status();
    const protect = first.state === 'restoring' ? first.protect : (options.protect ?? true);
    const atStart = first.state === 'restoring' ? first.extentsRemaining : 0;
    options.onStart?.(bytesOf(atStart));
    let remaining = atStart;
    let done = first.state === 'fractured';
    while (!done) {
      if (options.signal?.aborted) break;
      const r = await engine.step();
      remaining = r.remaining;
      done = r.done;
      options.onProgress?.(bytesOf(atStart - remaining));
    }
    if (done) await engine.flushSource();
    await engine.dispose?.();
    const copied = atStart - remaining;
    return { ...base, outcome: done ? 'complete' : 'interrupted', protect, extentsAtStart: atStart, extentsCopied: copied, bytesCopied: bytesOf(copied), extentsRemaining: remaining, elapsedMs: options.now() - started };
  } catch (e) {
    throw begun ? howToGoOn(e, options.meta) : e;
  } finally {
    await opened.close();
  }
}

/**
 * A system call failed once the restore may have begun (a full disk, an I/O error). The engine
 * leaves its metadata consistent whatever fails, so nothing is lost: the message says what failed,
 * where, and that `prestore resume` continues once the cause is gone.
 */
function howToGoOn(e: unknown, meta: string): unknown {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string') return e;
  const fix = err.code === 'ENOSPC' ? `free some space on the file system${err.path === undefined ? '' : ` that holds ${err.path}`}` : 'fix the cause';
  return new InputError(`${err.message}.\nNothing is lost: the restore is saved in ${meta}. ${fix[0]!.toUpperCase()}${fix.slice(1)}, then continue it with:\n  prestore resume --meta ${meta}`);
}
