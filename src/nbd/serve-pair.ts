/**
 * `serve`: the source image of a pair as an NBD export, through the reference engine, with the
 * background copier running while a restore is in progress.
 *
 * The pair is checked and locked as `restore` and `resume` do it (src/images): both images' sizes
 * and the clone's fingerprint always; the source's fingerprint only when this call starts the
 * restore. A restore already in progress (the server, or a `restore`, was killed) is served and
 * continued whatever the flags say, with the protection it was started with.
 *
 * The clone is opened read-only, as by every image command: a protected restore never writes it.
 * An unprotected restore mirrors host writes to the clone, so while one is in progress the export
 * is read-only (NBD_FLAG_READ_ONLY): the host may read the restored volume at once, not write it.
 *
 * Stopping (the signal) finishes each connection's request in hand, stops the copier after its
 * step, flushes the source, and releases the lock. A SIGKILL at any moment loses nothing a client
 * flushed: that is the engine's contract, and a restart recovers from the metadata alone.
 */
import { extentBytes, type RestoreEngine, type StepResult } from '../engine/contract.js';
import { InputError } from '../errors.js';
import { imageEngine } from '../images/engine.js';
import type { MetaHeader } from '../images/header.js';
import { ioError } from '../images/io-error.js';
import { acquirePairLock, type Lock } from '../images/lock.js';
import { checkIdleSource, checkImages, markSourceServed, openDevices, pairImages, probe, readHeader } from '../images/pair.js';
import { basename } from 'node:path';
import { Copier, type CopierEnd } from './copier.js';
import { EngineExport } from './engine-export.js';
import { HostActivity } from './host-activity.js';
import { type ListenAt, NbdServer, type ServerEvents } from './server.js';

/** Bytes per copier step by default: a host request waits at most one step's copy and two flushes. */
export const DEFAULT_SERVE_BATCH = 1 << 20;
export const QUIET_MS = 20;
export const MAX_YIELD_MS = 1000;

export interface ServeOptions {
  /** Absolute path of the metadata file. */
  readonly meta: string;
  readonly listen: ListenAt;
  /** Start a restore if none is in progress. */
  readonly restore: boolean;
  /** For a restore this call starts. */
  readonly protect: boolean;
  /** Copier bytes per second at most. */
  readonly rate?: number;
  readonly batchBytes?: number;
  /** Aborted: shut down. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Where the images' locks live (the same place `restore` and `resume` lock them). */
  readonly lockDir: string;
  readonly notice: (message: string) => void;
  readonly onLock?: (lock: Lock) => void;
  readonly onReady?: (ready: ServeReady) => void;
  /** After each copier step: the bytes still to copy. */
  readonly onProgress?: (remainingBytes: number, totalBytes: number) => void;
  /** The copier ended: the restore completed, or a step failed (host I/O goes on either way). */
  readonly onCopierEnd?: (end: CopierEnd) => void;
  readonly events?: ServerEvents;
}

export interface ServeReady {
  readonly header: MetaHeader;
  /** Where clients connect, as a URI qemu and libnbd take. */
  readonly uri: string;
  readonly exportName: string;
  readonly readOnly: boolean;
  /** The restore being served, if one is in progress. */
  readonly restore?: { readonly protect: boolean; readonly startedNow: boolean; readonly bytesToCopy: number };
}

export interface ServeOutcome {
  readonly header: MetaHeader;
  readonly state: 'fractured' | 'restoring';
  readonly bytesRemaining: number;
  readonly host: HostActivity['counts'];
}

export async function servePair(options: ServeOptions): Promise<ServeOutcome> {
  const { meta } = options;
  const header = await readHeader(meta);
  await checkImages(header, meta);
  const lock = await acquirePairLock(options.lockDir, pairImages(header), options.notice).catch((e: unknown) => {
    throw ioError(e, `cannot lock ${meta}`);
  });
  options.onLock?.(lock);
  try {
    return await serveLocked(header, options);
  } catch (e) {
    throw ioError(e, `serve of ${meta}`);
  } finally {
    await lock.release();
  }
}

async function serveLocked(given: MetaHeader, options: ServeOptions): Promise<ServeOutcome> {
  let header = given;
  const { meta } = options;
  const { geometry } = header;
  const factory = imageEngine(geometry, options.batchBytes ?? DEFAULT_SERVE_BATCH);
  const before = (await probe(header, meta, factory, false)).status;
  const startsRestore = options.restore && before.state === 'fractured';
  if (startsRestore && header.sourceServed === true) throw new InputError(servedAgainRefusal(meta));
  if (startsRestore) await checkIdleSource(header, meta);
  if (options.restore && before.state === 'restoring') {
    options.notice(`a restore of this pair was already in progress (${before.protect ? 'protected' : 'unprotected'}, interrupted): serving it, and the copier continues it`);
  }
  // Hosts may write the source from here on: recorded first, so the pair is still recognised after.
  header = await markSourceServed(header, meta);
  const opened = await openDevices(header, meta, { readOnly: false });
  try {
    const engine = await factory.open(opened.devices, geometry);
    const restoring = startsRestore || before.state === 'restoring';
    const activity = new HostActivity(options.now);
    const exportName = basename(header.source.path);
    const exp = new EngineExport(engine, geometry, {
      name: exportName,
      description: `${header.source.path}${restoring ? `, restoring from ${header.clone.path}` : ''} (prestore)`,
      readOnly: startsRestore ? !options.protect : before.state === 'restoring' && !before.protect,
      activity,
    });
    const server = new NbdServer(exp, options.events);
    // The address first: a socket or port in use then changes nothing, not even the restore's start.
    const uri = await server.listen(options.listen);
    try {
      if (startsRestore) await engine.startRestore({ protect: options.protect });
      server.open();
      await serveOpen(header, options, engine, exp, activity, { uri, exportName, startsRestore });
    } finally {
      await server.close();
    }
    // Every write a client was answered for is made durable before the lock is let go.
    await engine.flushSource();
    const after = await engine.status();
    await engine.dispose?.();
    const remaining = after.state === 'restoring' ? Math.min(after.extentsRemaining * extentBytes(geometry), geometry.volumeSize) : 0;
    return { header, state: after.state, bytesRemaining: remaining, host: activity.counts };
  } finally {
    await opened.close();
  }
}

/**
 * `--restore` on a pair already served and not restoring: its restore completed (or was never
 * started), and hosts may have written the source since. A new restore would copy the clone over
 * those writes, which is what the same command line, run again to restart a killed server,
 * must never do; so it is refused, and an explicit `prestore restore` is the way to roll back.
 */
function servedAgainRefusal(meta: string): string {
  return (
    `${meta}: the source has been served since init and no restore is in progress (a served restore completed, ` +
    `or serving began without --restore), so --restore would copy the clone over the hosts' writes since. ` +
    `To serve the source as it is, leave out --restore; to roll it back to the clone anyway, run prestore restore --meta ${meta}`
  );
}

/** Serving, with the copier running while a restore is in progress, until the signal; then the copier stopped. */
async function serveOpen(
  header: MetaHeader,
  options: ServeOptions,
  engine: RestoreEngine,
  exp: EngineExport,
  activity: HostActivity,
  ready: { readonly uri: string; readonly exportName: string; readonly startsRestore: boolean },
): Promise<void> {
  const { geometry } = header;
  const status = await engine.status();
  const per = extentBytes(geometry);
  const bytesOf = (extents: number) => Math.min(extents * per, geometry.volumeSize);
  const total = status.state === 'restoring' ? bytesOf(status.extentsRemaining) : 0;
  options.onReady?.({
    header,
    uri: ready.uri,
    exportName: ready.exportName,
    readOnly: exp.readOnly,
    ...(status.state === 'restoring' ? { restore: { protect: status.protect, startedNow: ready.startsRestore, bytesToCopy: total } } : {}),
  });

  let copier: Copier | undefined;
  let copying: Promise<CopierEnd> | undefined;
  if (status.state === 'restoring') {
    const stepBytes = Math.max(1, Math.floor((options.batchBytes ?? DEFAULT_SERVE_BATCH) / per)) * per;
    copier = new Copier(engine, activity, { ...(options.rate === undefined ? {} : { rate: options.rate }), stepBytes, quietMs: QUIET_MS, maxYieldMs: MAX_YIELD_MS, now: options.now, sleep: options.sleep });
    copying = copier
      .run((r: StepResult) => options.onProgress?.(bytesOf(r.remaining), total))
      .then((end) => {
        // Completed, the pair is fractured: nothing is mirrored any more, so writes are safe.
        if (end.kind === 'complete') exp.readOnly = false;
        if (end.kind !== 'stopped') options.onCopierEnd?.(end);
        return end;
      });
  }

  await new Promise<void>((done) => {
    if (options.signal.aborted) done();
    else options.signal.addEventListener('abort', () => done(), { once: true });
  });
  copier?.stop();
  await copying;
}
