/**
 * The reference protected-restore engine.
 *
 * Maps, as the engine keeps them (both persistent, see layout.ts):
 *   D[e]  the clone delta map: source and clone may differ in extent e. Never under-approximates.
 *   P[e]  the protected restore map: the host wrote extent e during the current restore, so the
 *         source, not the clone, holds its truth. Only meaningful while restoring.
 *
 * Invariants while restoring, which every ordering below keeps across any crash:
 *   - an extent that needs copying is exactly one with D set and P clear; reads of it go to the
 *     clone, reads of anything else to the source;
 *   - P ⊆ D, so at completion D already marks every extent the host changed, and completing a
 *     protected restore is a single superblock commit;
 *   - an extent's P bit is set on disk only once the source holds the whole extent durably: the
 *     clone's data (copy-before-write), or a host write that covered all of it.
 *
 * With `deferProtection` (protected restores only; see `ReferenceOptions`), the P bits of host
 * writes are set in memory first and made durable at the host's next flush, after the source's;
 * memory then holds P bits the disk does not yet have (`pendingProtection`), and only those.
 *
 * Every write ordering is one protected method below, with the crash it guards against; the
 * mutant engines (src/mutants) each break one of them. Operations run one at a time: a call that
 * arrives while another is in progress waits for it, so a copy and a host write never interleave;
 * with `concurrentHost`, host I/O is served while a step's copy data is in flight, with a host
 * write to an extent being copied waiting for its copy (`waitForCopier`).
 */
import type { BlockDevice } from '../../devices/block-device.js';
import { InputError, knownOptions, wholeOption } from '../../errors.js';
import {
  CloneBusyError,
  EngineStateError,
  type EngineMaps,
  type EngineStatus,
  extentBytes,
  extentRange,
  extentsOf,
  type Geometry,
  MetadataError,
  type RestoreDevices,
  type RestoreEngine,
  type StepResult,
} from '../contract.js';
import { Bitmap, type MapName } from './bitmap.js';
import { checkSameGeometry, encodeSuperblock, type EngineState, type Layout, newestSuperblock, SLOTS, type Superblock } from './layout.js';

/** Tuning; each option left out takes its value from `DEFAULT_OPTIONS`. */
export interface ReferenceOptions {
  /**
   * Extents copied per `step()` (default 1). One metadata flush clears the whole batch, so a larger
   * batch costs fewer flushes per copied extent but re-copies up to a batch after a crash.
   */
  readonly copyBatch?: number;
  /** The largest single copy I/O in bytes (default 1 MiB): contiguous extents are copied together up to this. */
  readonly maxIoBytes?: number;
  /** Copy I/Os in flight at once (default 1: one after another). */
  readonly queueDepth?: number;
  /**
   * During a protected restore, a host write's P bits are kept in memory and made durable at the
   * host's next `flushSource` (after the source's own flush), as dm-clone commits its hydration
   * map at FLUSH and FUA, instead of before the write is acknowledged (default false).
   *
   * The model allows it: a host write is only promised durable after a later flush, and a crash
   * before that flush loses the P bit and, with it, only writes nobody flushed (the copier copies
   * the clone over them: those sectors hold their durable value). It spares the first write to
   * each extent its metadata flush and its copy-before-write's source flush. What stays eager: D
   * for an extent the copier already copied (its D is clear), which must be durable before the
   * data is issued, as in a fractured write, or a crash could keep the data and lose the bit.
   *
   * Off by default so that the eager orderings, and the mutants that break them, stay the ones the
   * harness's `reference` engine runs; `prestore serve` turns it on (src/images/engine.ts): its NBD
   * clients are told of the write cache (SEND_FLUSH, SEND_FUA) and flush what must last.
   */
  readonly deferProtection?: boolean;
  /**
   * 1: host reads, writes and flushes are served while a `step()` copies its batch, instead of
   * waiting for the whole step (default 0: one operation at a time). A host write to an extent the
   * copier is copying waits for that copy's data to be written (`waitForCopier`); the step's map
   * changes still run one at a time with everything else, and leave alone the extents a host write
   * protected meanwhile (`stillUncopied`). A whole number, not a switch, so that a scenario's or a
   * case's `engineOptions` can set it.
   */
  readonly concurrentHost?: number;
}

const DEFAULT_OPTIONS: Required<ReferenceOptions> = { copyBatch: 1, maxIoBytes: 1 << 20, queueDepth: 1, deferProtection: false, concurrentHost: 0 };

/** The bounds of each option: a queue depth of 0 would copy nothing, a batch of 0 never finish. */
const OPTION_BOUNDS: Readonly<Record<Exclude<keyof ReferenceOptions, 'deferProtection'>, readonly [number, number]>> = {
  copyBatch: [1, 2 ** 31 - 1],
  // At least one sector; a single copy I/O holds this many bytes in memory.
  maxIoBytes: [512, 2 ** 30],
  queueDepth: [1, 1024],
  concurrentHost: [0, 1],
};

/** The options that are on or off. */
const SWITCHES = ['deferProtection'] as const;

/** The options checked, each named when wrong, with the defaults for those not given (or given as undefined). */
export function referenceOptions(options: ReferenceOptions, where = 'reference engine'): Required<ReferenceOptions> {
  if (typeof options !== 'object' || options === null) throw new InputError(`${where}: options must be an object, not ${options === null ? 'null' : typeof options}`);
  knownOptions(where, options, [...Object.keys(OPTION_BOUNDS), ...SWITCHES]);
  const out: Record<string, number | boolean> = { ...DEFAULT_OPTIONS };
  for (const [name, [min, max]] of Object.entries(OPTION_BOUNDS)) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined) out[name] = wholeOption(`${where}: options.${name}`, value, min, max);
  }
  for (const name of SWITCHES) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new InputError(`${where}: options.${name}: ${JSON.stringify(value) ?? String(value)} must be true or false`);
    out[name] = value;
  }
  return out as Required<ReferenceOptions>;
}

export class ReferenceEngine implements RestoreEngine {
  protected state: EngineState = 'fractured';
  protected protect = true;
  protected generation = 0;
  protected delta: Bitmap;
  protected prot: Bitmap;
  /** Extents with D set and P clear: what the copier still has to do. */
  protected remaining = 0;
  /** No extent below this needs copying, so the copier's scan never starts over. */
  private cursor = 0;
  /** A superblock commit failed: the disk may hold it or not, so the next call re-commits. */
  private commitInDoubt = false;
  /** Extents whose P bit memory dropped, or never took, but the metadata device may still hold set. */
  private readonly protectedOnDisk = new Set<number>();
  /** Mirrored host writes may sit in the clone's cache (unprotected restores only). */
  private cloneDirty = false;
  /** `deferProtection`: extents whose P bit memory holds and the disk may not, until the next flush. */
  private readonly pendingProtection = new Set<number>();
  private queue: Promise<unknown> = Promise.resolve();
  /** `concurrentHost`: steps run one after another, each alongside host I/O but not alongside another step. */
  private copierQueue: Promise<unknown> = Promise.resolve();
  private stepsInProgress = 0;
  /** `concurrentHost`: the extents whose copy data is in flight, and when it is all written. */
  private copying: { readonly extents: ReadonlySet<number>; readonly done: Promise<void>; readonly release: () => void } | undefined;
  /** `concurrentHost`: extents of the running step's batch that a failed host write may have landed on, after the copy. */
  private readonly landedOverCopy = new Set<number>();
  protected readonly options: Required<ReferenceOptions>;

  constructor(
    protected readonly devices: RestoreDevices,
    protected readonly geometry: Geometry,
    protected readonly layout: Layout,
    options: ReferenceOptions = {},
  ) {
    this.options = referenceOptions(options);
    this.delta = new Bitmap('delta', layout.extents, layout.sectorSize);
    this.prot = new Bitmap('protected', layout.extents, layout.sectorSize);
  }

  // --- recovery ------------------------------------------------------------------------------

  /**
   * Opening is recovery: the newest valid superblock says whether a restore is in progress, and
   * the maps say where it was. Everything is read and checked (every map sector's checksum
   * included) before anything is written.
   */
  async recover(): Promise<void> {
    const sb = await this.readNewestSuperblock();
    checkSameGeometry(sb.geometry, this.geometry);
    this.delta = await this.readMap('delta');
    this.prot = new Bitmap('protected', this.layout.extents, this.layout.sectorSize, await this.readProtectedMap());
    this.state = sb.state;
    this.protect = sb.protect;
    this.generation = sb.generation;
    if (this.state === 'restoring') await this.repairProtectedSubsetOfDelta();
    if (this.state === 'restoring' && !this.protect) await this.forgetMirroredExtents();
    this.remaining = this.countRemaining();
  }

  protected async readNewestSuperblock(): Promise<Superblock> {
    const bytes = await this.devices.meta.read(0, SLOTS * this.layout.sectorSize);
    const slots = Array.from({ length: SLOTS }, (_, i) => bytes.subarray(i * this.layout.sectorSize, (i + 1) * this.layout.sectorSize));
    return newestSuperblock(slots);
  }

  /** P's bits, its sectors' checksums verified. */
  protected async readProtectedMap(): Promise<Uint8Array> {
    return (await this.readMap('protected')).bytes;
  }

  /** One map read whole, refused (MetadataError naming the map and sector) if a sector fails its checksum. */
  private async readMap(name: MapName): Promise<Bitmap> {
    const first = name === 'delta' ? this.layout.deltaSector : this.layout.protectedSector;
    const size = this.layout.sectorSize;
    const disk = await this.devices.meta.read(first * size, this.layout.mapSectors * size);
    return Bitmap.decode(name, this.layout.extents, size, disk, first);
  }

  /**
   * `persistProtection` writes the D and P sectors and then flushes once, so a crash can keep the
   * P write and lose the D write. P is only set after the extent's copy is durable, so setting the
   * missing D bits now (before serving I/O) is always sound, and restores P ⊆ D, which completion
   * relies on to leave every host-written extent in D.
   */
  protected async repairProtectedSubsetOfDelta(): Promise<void> {
    const missing = [...this.prot.setBits()].filter((e) => !this.delta.get(e));
    await this.persistBits([['delta', missing, true]]);
  }

  /**
   * Unprotected restore, after a crash: a host write mirrored to both devices may have reached
   * one and not the other, and nothing records which. Dropping P (durably, before serving I/O)
   * sends those extents back to the copier, which makes the source equal to the clone again;
   * their D bits, set with P, keep them covered until then.
   */
  protected async forgetMirroredExtents(): Promise<void> {
    await this.persistBits([['protected', [...this.prot.setBits()], false]]);
  }

  // --- host I/O ------------------------------------------------------------------------------

  readSource(offset: number, length: number): Promise<Uint8Array> {
    return this.exclusive(() => this.routedRead(offset, length));
  }

  writeSource(offset: number, data: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      const extents = this.touched(offset, data.length);
      await this.waitForCopier(extents);
      if (this.state === 'fractured') {
        await this.persistWriteIntent(extents);
        await this.devices.source.write(offset, data);
        return;
      }
      try {
        await this.hostWriteDuringRestore(extents, offset, data);
      } catch (error) {
        this.hostWriteFailed(extents);
        throw error;
      }
    });
  }

  private async hostWriteDuringRestore(extents: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    const unprotected = extents.filter((e) => !this.prot.get(e));
    if (this.defersProtection()) return this.deferredProtectedWrite(unprotected, offset, data);
    const overwritten = this.mirrorsHostWrites() ? [] : unprotected.filter((e) => this.needsCopy(e) && this.covers(e, offset, data.length));
    await this.protectForHostWrite(unprotected.filter((e) => !overwritten.includes(e)));
    if (this.mirrorsHostWrites()) await this.mirroredWrite(extents, offset, data);
    else if (overwritten.length > 0) await this.overwriteUncopied(overwritten, offset, data);
    else await this.devices.source.write(offset, data);
  }

  /**
   * `concurrentHost`: a host write that failed may still have landed (its data written, its P
   * commit failed), over the copy the running step has just made of the extent: a host write to
   * an extent being copied waits only for the copy's data, not for D to be cleared. Guards against:
   * that step then clearing D as if its copy were still there, so that the restore ends with the
   * extent differing from the clone under a clear D bit. The extents stay to be copied again.
   */
  private hostWriteFailed(extents: readonly number[]): void {
    if (this.options.concurrentHost !== 1) return;
    for (const e of extents) this.landedOverCopy.add(e);
    this.cursor = Math.min(this.cursor, ...extents);
  }

  /**
   * Unprotected: the host's write goes to clone and source. If either fails, the two may now
   * differ under a P bit, where the copier would never look: P is dropped for those extents, in
   * memory (recovery drops it from disk anyway), so the copier makes the source equal to the
   * clone again. D stays set throughout, so nothing claims the pair equal before then.
   */
  private async mirroredWrite(extents: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    try {
      this.cloneDirty = true;
      await this.devices.clone.write(offset, data);
      await this.devices.source.write(offset, data);
    } catch (error) {
      const before = extents.filter((e) => this.needsCopy(e)).length;
      this.prot.apply(this.prot.staged(extents, false));
      for (const e of extents) this.protectedOnDisk.add(e);
      this.remaining += extents.filter((e) => this.needsCopy(e)).length - before;
      this.cursor = Math.min(this.cursor, ...extents);
      throw error;
    }
  }

  flushSource(): Promise<void> {
    return this.exclusive(async () => {
      // An unprotected restore mirrored the host's writes: a flushed write must be durable on
      // both devices, or recovery's re-copy from the clone would take back what was flushed.
      if (this.state === 'restoring' && this.mirrorsHostWrites()) await this.flushCloneMirror();
      await this.makeHostWritesDurable();
    });
  }

  readClone(offset: number, length: number): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.refuseCloneDuringRestore('readClone');
      return this.devices.clone.read(offset, length);
    });
  }

  writeClone(offset: number, data: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      this.refuseCloneDuringRestore('writeClone');
      await this.persistWriteIntent(this.touched(offset, data.length));
      await this.devices.clone.write(offset, data);
    });
  }

  flushClone(): Promise<void> {
    return this.exclusive(async () => {
      this.refuseCloneDuringRestore('flushClone');
      await this.devices.clone.flush();
    });
  }

  // --- restore -------------------------------------------------------------------------------

  startRestore(options: { readonly protect: boolean }): Promise<void> {
    return this.exclusive(async () => {
      if (this.state === 'restoring') throw new EngineStateError('startRestore: a restore is already in progress');
      await this.commitStart(options.protect);
      this.cursor = 0;
      this.remaining = this.countRemaining();
    });
  }

  step(): Promise<StepResult> {
    if (this.options.concurrentHost === 1) return this.stepAlongsideHost();
    return this.exclusive(async () => {
      if (this.state === 'fractured') return { remaining: 0, done: true };
      const batch = this.nextBatch();
      if (batch.length > 0) {
        await this.copyExtents(batch);
        await this.makeCopiesDurable();
        await this.clearCopied(batch);
      }
      if (this.remaining > 0) return { remaining: this.remaining, done: false };
      await this.complete();
      return { remaining: 0, done: true };
    });
  }

  /**
   * `concurrentHost`: a step in three parts. The batch is chosen, and its extents marked as being
   * copied, in one exclusive turn (so no host write can slip in between the choice and the mark);
   * the copy's data moves outside it, so host I/O is served meanwhile; and the copies made durable
   * and D cleared in a second exclusive turn, because every map change and metadata I/O runs one at
   * a time (map sectors are written from memory, and two changes interleaved could write a sector
   * holding one change without the other's).
   */
  private stepAlongsideHost(): Promise<StepResult> {
    // A step with none before it takes its first turn at once, so that host I/O issued after it
    // queues behind its choice of batch (and finds its extents marked), as with a real queue.
    const run = this.stepsInProgress++ === 0 ? this.stepInParts() : this.copierQueue.then(() => this.stepInParts());
    this.copierQueue = run.catch(() => undefined).finally(() => this.stepsInProgress--);
    return run;
  }

  private async stepInParts(): Promise<StepResult> {
    const batch = await this.exclusive(async () => (this.state === 'fractured' ? undefined : this.markCopying(this.nextBatch())));
    if (batch === undefined) return { remaining: 0, done: true };
    if (batch.length > 0) await this.copyMarked(batch);
    return this.exclusive(async () => {
      if (batch.length > 0) {
        await this.makeCopiesDurable();
        await this.clearCopied(this.stillUncopied(batch));
      }
      if (this.remaining > 0) return { remaining: this.remaining, done: false };
      await this.complete();
      return { remaining: 0, done: true };
    });
  }

  /** The batch's extents marked as being copied until `copyMarked` has written their data. */
  private markCopying(batch: number[]): number[] {
    if (batch.length === 0) return batch;
    let release!: () => void;
    const done = new Promise<void>((resolve) => (release = resolve));
    this.copying = { extents: new Set(batch), done, release };
    this.landedOverCopy.clear();
    return batch;
  }

  private async copyMarked(batch: readonly number[]): Promise<void> {
    try {
      await this.copyExtents(batch);
    } finally {
      const copying = this.copying;
      this.copying = undefined;
      copying?.release();
    }
  }

  status(): Promise<EngineStatus> {
    return this.exclusive(async () =>
      this.state === 'fractured' ? { state: 'fractured' as const } : { state: 'restoring' as const, protect: this.protect, extentsRemaining: this.remaining },
    );
  }

  inspect(): Promise<EngineMaps> {
    return this.exclusive(async () => ({
      delta: this.delta.toArray(),
      // P from an earlier restore may linger on disk until the next start clears it; it means nothing.
      protected: this.state === 'restoring' ? this.prot.toArray() : new Array<boolean>(this.layout.extents).fill(false),
    }));
  }

  // --- the write orderings ---------------------------------------------------------------------

  /**
   * Fractured host write (to source or clone), and with `deferProtection` a host write during the
   * restore to extents the copier already copied (D clear): the D bits are durable before the data
   * is issued. Guards against: a crash after the data reached the disk but before its bit did,
   * which would leave a clear D bit over extents that differ, and the next restore would never
   * copy them (nor would this one: a clear D bit is a copied extent).
   */
  protected async persistWriteIntent(extents: readonly number[]): Promise<void> {
    await this.persistBits([['delta', extents, true]]);
  }

  /**
   * A host write during the restore to extents not yet protected (those it overwrites whole and
   * that are not yet copied excepted: see `overwriteUncopied`). Copy-before-write: an extent not
   * yet copied gets the clone's data on the source, durably, before P marks it. Guards
   * against: P durable while the copy is not, after which a crash leaves the parts of the
   * extent the write does not cover holding stale source data that no one will ever copy over.
   */
  protected async protectForHostWrite(extents: readonly number[]): Promise<void> {
    if (extents.length === 0) return;
    await this.copyBeforeWrite(extents.filter((e) => this.needsCopy(e)));
    await this.persistProtection(extents);
  }

  /**
   * A host write that covers whole extents not yet copied: the write is their copy, so the clone
   * is not read for them (dm-clone skips hydrating a region a write overwrites). The order is the
   * reverse of `persistProtection`'s: the host's data is written and made durable first, and only
   * then does P mark those extents. Guards against: P durable while the data is not, after which a
   * crash leaves the pre-restore source data (neither the clone's nor the host's) in extents that
   * P now keeps from the copier, and reads return it for good. A crash before P only loses a write
   * that was never acknowledged: the extents still need copying, and reads go to the clone.
   */
  protected async overwriteUncopied(extents: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    await this.devices.source.write(offset, data);
    await this.makeCopiesDurable();
    await this.persistProtection(extents);
  }

  /**
   * Copy-before-write: extents the host is about to write partially get the clone's data on the
   * source, durably, before the write. Guards against: the host's write marking the extent
   * protected (so the copier skips it) while the parts the write does not cover still hold stale
   * source data, which reads would then return for good.
   */
  protected async copyBeforeWrite(uncopied: readonly number[]): Promise<void> {
    if (uncopied.length === 0) return;
    await this.copyExtents(uncopied);
    await this.makeCopiesDurable();
  }

  /**
   * P (and D with it) durable before the host's data is issued, and so before it is acknowledged.
   * Guards against: the host flushes its write, power fails, and P was still in the cache; the
   * copier would then overwrite the flushed data with clone data, and reads would return the clone.
   * D is set with P so that P ⊆ D and completion needs no map writes.
   */
  protected async persistProtection(extents: readonly number[]): Promise<void> {
    await this.persistBits([
      ['delta', extents, true],
      ['protected', extents, true],
    ]);
  }

  /**
   * `deferProtection`: a host write during a protected restore to extents not yet protected. D
   * made durable for the copied ones (`persistWriteIntent`); the data issued together with the
   * clone's data for the parts of not-yet-copied extents it does not cover, with no flush
   * (`writeOverClone`); and only once that is accepted, P set in memory (reads of those extents
   * go to the source from here on, and the copier passes them by), to be made durable at the next
   * flush (`persistPendingProtection`).
   * A crash before that flush finds P clear on disk and D set: reads go to the clone, the copier
   * copies the extent again, and the host's unflushed write is lost, as the model allows. A write
   * that fails leaves P clear, so the extent is read from the clone and copied as before.
   */
  protected async deferredProtectedWrite(extents: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    const copied = extents.filter((e) => !this.delta.get(e));
    const partial = extents.filter((e) => this.needsCopy(e) && !this.covers(e, offset, data.length));
    await this.persistWriteIntent(copied);
    // The intent made copied extents need copying again until P is set: the copier must not
    // have passed them by if the write fails.
    if (copied.length > 0) this.cursor = Math.min(this.cursor, ...copied);
    await this.writeOverClone(partial, offset, data);
    const before = extents.filter((e) => this.needsCopy(e)).length;
    this.prot.apply(this.prot.staged(extents, true));
    for (const e of extents) this.pendingProtection.add(e);
    this.remaining -= before;
  }

  /**
   * The host's data written with, around it, the clone's data for the parts of `partial` extents
   * (those it touches and does not cover, never copied) it leaves out: one source write instead of
   * a copy and then the host's write. Nothing orders the two within the cache: neither counts
   * until the flush that makes P durable after them.
   */
  protected async writeOverClone(partial: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    if (partial.length === 0) return this.devices.source.write(offset, data);
    // Only the first and the last extent a write touches can be partial, so the span is contiguous.
    const spans = partial.map((e) => extentRange(this.geometry, e));
    const start = Math.min(offset, ...spans.map((r) => r.offset));
    const end = Math.max(offset + data.length, ...spans.map((r) => r.offset + r.length));
    if (partial[partial.length - 1]! - partial[0]! === partial.length - 1 && start === spans[0]!.offset && end === spans[spans.length - 1]!.offset + spans[spans.length - 1]!.length) {
      // The write lies within adjacent partial extents (a 4 KiB write in one, typically): one clone
      // read of them, the host's data laid over it in place, no second buffer (src/bench/nbd.ts).
      const under = await this.devices.clone.read(start, end - start);
      under.set(data, offset - start);
      return this.devices.source.write(start, under);
    }
    const merged = new Uint8Array(end - start);
    for (const r of spans) merged.set(await this.devices.clone.read(r.offset, r.length), r.offset - start);
    merged.set(data, offset - start);
    await this.devices.source.write(start, merged);
  }

  /**
   * The host's flush: the source flushed, then (`deferProtection`) the pending P bits written and
   * the metadata flushed, all before the flush is acknowledged, and so before a FUA write is (the
   * NBD export makes one a write and a flush). Guards against, in order: P durable while the
   * copy-before-write or the host's data is not, after which a crash leaves stale pre-restore
   * source data in an extent P keeps from the copier; and a flush acknowledged with P still in
   * memory, after which a crash loses P and the copier overwrites the flushed data with the clone's.
   */
  protected async makeHostWritesDurable(): Promise<void> {
    await this.devices.source.flush();
    await this.persistPendingProtection();
  }

  /** The pending P bits durable: their sectors as memory holds them, then one metadata flush. */
  protected async persistPendingProtection(): Promise<void> {
    if (this.pendingProtection.size === 0) return;
    await this.writeMapSectors(this.layout.protectedSector, this.prot.current(this.pendingProtection));
    await this.syncMetadata();
    this.pendingProtection.clear();
  }

  /**
   * `deferProtection`, at completion: the source flushed before the commit to fractured when host
   * writes with P still pending may sit in its cache. Their D bits are durable (set at the start,
   * or by the intent), so nothing else is needed. Guards against: a crash after completion losing
   * a copy-before-write that sat in the cache: the extent, no longer restored by anyone, keeps
   * stale pre-restore source data where the host's write did not cover it.
   */
  protected async flushPendingBeforeCompletion(): Promise<void> {
    if (this.pendingProtection.size > 0) await this.devices.source.flush();
  }

  /** The copier's data movement: clone extents onto the source, large I/Os, bounded queue. */
  protected async copyExtents(extents: readonly number[]): Promise<void> {
    const chunks = this.copyChunks(extents);
    const { source, clone } = this.devices;
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      while (!failed && next < chunks.length) {
        const { offset, length } = chunks[next++]!;
        try {
          await source.write(offset, await clone.read(offset, length));
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    // A failed copy I/O stops every worker, and the copy fails only once none has an I/O in flight.
    // Guards against: the step rejecting while its other copy I/Os are still in flight (on a
    // device that completes them out of order); they would land later, after the copier moved
    // on, over a host write or in an extent this restore no longer copies (rule 5).
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.options.queueDepth, chunks.length) }, worker));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
  }

  /**
   * `concurrentHost`: a host write to an extent whose copy is in flight waits until the copy's data
   * is written, before it reads the maps or issues anything. Guards against: the copier's source
   * write of clone data issued or completing after the host's write to the same extent, so that
   * the clone's data lands over the host's acknowledged data (and, once P marks the extent, reads
   * return the clone's data for good). Waiting inside the exclusive turn cannot deadlock: the
   * copy's data phase takes no turn.
   */
  protected async waitForCopier(extents: readonly number[]): Promise<void> {
    while (this.copying !== undefined && extents.some((e) => this.copying!.extents.has(e))) await this.copying.done;
  }

  /**
   * `concurrentHost`: of a batch whose data was copied, the extents whose D bit the copy may clear:
   * those that still need copying, less those a failed host write may have landed on since (see
   * `hostWriteFailed`). A host write served while the copy was in flight may have protected some
   * (P set, D kept set with it). Guards against: clearing D under such a P bit, which breaks
   * P ⊆ D, so that completion leaves an extent the host changed with D clear, and the next restore
   * never copies it back.
   */
  protected stillUncopied(batch: readonly number[]): number[] {
    return batch.filter((e) => this.needsCopy(e) && !this.landedOverCopy.has(e));
  }

  /**
   * Copied data durable before any map says it is there (D clear, or P set). Guards against: a
   * crash that keeps the map change and loses the cached copy, leaving the source stale in an
   * extent the maps call restored.
   */
  protected async makeCopiesDurable(): Promise<void> {
    // Unprotected, the clone may hold mirrored host writes still in its cache, and the copies
    // were read from that cache: they are only as durable as the clone is.
    if (this.cloneDirty) await this.flushCloneMirror();
    await this.devices.source.flush();
  }

  private async flushCloneMirror(): Promise<void> {
    await this.devices.clone.flush();
    this.cloneDirty = false;
  }

  /** D cleared for copied extents, after `makeCopiesDurable`; a crash before the clear only re-copies. */
  protected async clearCopied(extents: readonly number[]): Promise<void> {
    await this.persistBits([['delta', extents, false]]);
  }

  /**
   * Starting a restore, in the order that makes it atomic: the clone made durable, stale P
   * cleared, then the superblock commit (written FUA): the one write that moves the pair from
   * fractured to restoring. A crash before the commit leaves the old source, after it the restore,
   * never a mix; and it is durable before `startRestore` returns, so a later crash resumes and
   * never rolls back (`writeSuperblock`).
   */
  protected async commitStart(protect: boolean): Promise<void> {
    await this.makeCloneDurableBeforeStart();
    await this.clearStaleProtection();
    await this.commit('restoring', protect);
  }

  /**
   * The clone's cached host writes made durable before the start commits. Guards against: a crash
   * after the start losing them, so that the image being restored (and preserved) changes under
   * the restore, and reads return data the host never saw on the clone.
   */
  protected async makeCloneDurableBeforeStart(): Promise<void> {
    await this.devices.clone.flush();
  }

  /**
   * P left by an earlier restore cleared, durably, before the start commits: the bits memory
   * holds, and those memory dropped after a failed mirrored write but the disk may still hold.
   * Guards against: a crash after the commit that finds a stale P bit, which makes the copier skip
   * an extent the host never wrote in this restore, and D is cleared over a difference.
   */
  protected async clearStaleProtection(): Promise<void> {
    await this.persistBits([['protected', [...this.prot.setBits()], false]]);
    if (this.protectedOnDisk.size === 0) return;
    await this.writeMapSectors(this.layout.protectedSector, this.prot.current(this.protectedOnDisk));
    await this.syncMetadata();
    this.protectedOnDisk.clear();
  }

  /**
   * Completion. Protected: D already holds every host-written extent (P ⊆ D), so the commit to
   * fractured is all there is. Unprotected: the mirrored writes made durable on both devices
   * first, then D cleared (the devices are now equal), then the commit; a crash anywhere before
   * the commit resumes the restore and redoes these idempotent steps.
   */
  protected async complete(): Promise<void> {
    if (!this.protect) {
      await this.flushCloneMirror();
      await this.devices.source.flush();
      await this.persistBits([['delta', [...this.delta.setBits()], false]]);
    }
    await this.flushPendingBeforeCompletion();
    await this.commit('fractured', this.protect);
    // Fractured, P means nothing: the next start clears what memory holds of it, on disk too.
    this.pendingProtection.clear();
  }

  /** Whether host writes' P bits wait for the next flush: `deferProtection`, protected restores only (unprotected ones mirror instead). */
  protected defersProtection(): boolean {
    return this.options.deferProtection && !this.mirrorsHostWrites();
  }

  /** Unprotected restores mirror host writes to the clone; protected ones never touch it. */
  protected mirrorsHostWrites(): boolean {
    return !this.protect;
  }

  /** Whether a read of extent `e` during the restore is served by the clone. */
  protected readsFromClone(e: number): boolean {
    return this.needsCopy(e);
  }

  protected needsCopy(e: number): boolean {
    return this.delta.get(e) && !this.prot.get(e);
  }

  /** The extents the copier takes next, lowest first. */
  protected nextBatch(): number[] {
    const batch: number[] = [];
    const bytes = this.delta.bytes;
    for (let e = this.cursor; e < this.layout.extents && batch.length < this.options.copyBatch; e++) {
      if ((e & 7) === 0 && bytes[e >> 3] === 0) {
        if (batch.length === 0) this.cursor = e + 8;
        e += 7;
        continue;
      }
      if (this.needsCopy(e)) batch.push(e);
      else if (batch.length === 0) this.cursor = e + 1;
    }
    return batch;
  }

  // --- metadata commits ----------------------------------------------------------------------

  /**
   * A superblock commit: generation g + 1 goes to the slot that does not hold g, with FUA, so it
   * is durable on return and a torn or lost write leaves generation g intact in the other slot.
   * Memory changes only once the commit is durable.
   */
  protected async commit(state: EngineState, protect: boolean): Promise<void> {
    const generation = this.generation + 1;
    try {
      await this.writeSuperblock({ state, protect, generation, geometry: this.geometry });
    } catch (error) {
      this.commitInDoubt = true;
      throw error;
    }
    this.commitInDoubt = false;
    this.state = state;
    this.protect = protect;
    this.generation = generation;
  }

  protected async writeSuperblock(sb: Superblock): Promise<void> {
    const slot = sb.generation % SLOTS;
    await this.devices.meta.write(slot * this.layout.sectorSize, encodeSuperblock(sb, this.layout.sectorSize), { fua: true });
  }

  /**
   * Map bits changed durably: the changed sectors written, one flush, and only then the change
   * adopted in memory, so a failed write never leaves memory claiming what the disk may not hold.
   */
  protected async persistBits(changes: readonly (readonly [MapName, readonly number[], boolean])[]): Promise<void> {
    const staged: [Bitmap, Map<number, Uint8Array>][] = [];
    try {
      for (const [name, extents, value] of changes) {
        const map = this.bitmap(name);
        const sectors = map.staged(extents, value);
        if (sectors.size === 0) continue;
        await this.writeMapSectors(name === 'delta' ? this.layout.deltaSector : this.layout.protectedSector, sectors);
        staged.push([map, sectors]);
      }
      if (staged.length === 0) return;
      await this.syncMetadata();
    } catch (error) {
      this.noteProtectionInDoubt(changes);
      throw error;
    }
    const touched = [...new Set(changes.flatMap(([, extents]) => extents))];
    const before = touched.filter((e) => this.needsCopy(e)).length;
    for (const [map, sectors] of staged) map.apply(sectors);
    this.remaining += touched.filter((e) => this.needsCopy(e)).length - before;
  }

  /**
   * P bits whose commit failed may reach the disk all the same (a sector write cached before a
   * failed flush, made durable by the next one) while memory keeps them clear. Guards against: a
   * later restore starting with such a stale P bit on disk, which after a crash keeps the copier
   * from an extent the host never wrote in that restore, so reads return the source's old data.
   */
  private noteProtectionInDoubt(changes: readonly (readonly [MapName, readonly number[], boolean])[]): void {
    for (const [name, extents, value] of changes) if (name === 'protected' && value) for (const e of extents) this.protectedOnDisk.add(e);
  }

  /** The flush that makes map writes durable: every map change waits for it before it counts. */
  protected async syncMetadata(): Promise<void> {
    await this.devices.meta.flush();
  }

  /** Writes staged map sectors, runs of contiguous ones as one I/O. */
  protected async writeMapSectors(base: number, sectors: ReadonlyMap<number, Uint8Array>): Promise<void> {
    const size = this.layout.sectorSize;
    const order = [...sectors.keys()].sort((a, b) => a - b);
    for (let i = 0; i < order.length; ) {
      let j = i + 1;
      while (j < order.length && order[j] === order[j - 1]! + 1) j++;
      const run = new Uint8Array((j - i) * size);
      for (let k = i; k < j; k++) run.set(sectors.get(order[k]!)!, (k - i) * size);
      await this.devices.meta.write((base + order[i]!) * size, run);
      i = j;
    }
  }

  private bitmap(name: MapName): Bitmap {
    return name === 'delta' ? this.delta : this.prot;
  }

  // --- plumbing ------------------------------------------------------------------------------

  /**
   * One operation at a time, and a commit that failed is made again (with the state memory holds)
   * before anything else, so what the disk may hold and what the engine believes agree again.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      if (this.commitInDoubt) await this.commit(this.state, this.protect);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private refuseCloneDuringRestore(op: string): void {
    if (this.state === 'restoring') throw new CloneBusyError(op);
  }

  /** Whether the byte range holds the whole of extent `e` (the short last one included). */
  private covers(e: number, offset: number, length: number): boolean {
    const r = extentRange(this.geometry, e);
    return offset <= r.offset && offset + length >= r.offset + r.length;
  }

  private touched(offset: number, length: number): number[] {
    if (length === 0) return [];
    const { first, last } = extentsOf(this.geometry, offset, length);
    return Array.from({ length: last - first + 1 }, (_, i) => first + i);
  }

  /** During a restore, each run of sectors comes from the device that holds its truth. */
  private async routedRead(offset: number, length: number): Promise<Uint8Array> {
    const { source, clone } = this.devices;
    if (this.state === 'fractured' || length === 0) return source.read(offset, length);
    const out = new Uint8Array(length);
    const size = extentBytes(this.geometry);
    let at = offset;
    while (at < offset + length) {
      const fromClone = this.readsFromClone(Math.floor(at / size));
      let end = Math.min(offset + length, (Math.floor(at / size) + 1) * size);
      while (end < offset + length && this.readsFromClone(Math.floor(end / size)) === fromClone) end = Math.min(offset + length, end + size);
      out.set(await (fromClone ? clone : source).read(at, end - at), at - offset);
      at = end;
    }
    return out;
  }

  /**
   * Byte ranges covering `extents` (ascending): contiguous ones merged, then cut into I/Os of at
   * most `maxIoBytes` (whole sectors, at least one), so that no copy holds more than that in
   * memory, even one extent larger than it. A crash between the pieces of one extent only leaves
   * it to be copied again: its D bit is cleared after the whole batch is durable.
   */
  private copyChunks(extents: readonly number[]): { offset: number; length: number }[] {
    const { sectorSize } = this.geometry;
    const limit = Math.max(sectorSize, Math.floor(this.options.maxIoBytes / sectorSize) * sectorSize);
    const runs: { offset: number; length: number }[] = [];
    for (const e of [...extents].sort((a, b) => a - b)) {
      const r = extentRange(this.geometry, e);
      const last = runs[runs.length - 1];
      if (last !== undefined && last.offset + last.length === r.offset) last.length += r.length;
      else runs.push({ ...r });
    }
    return runs.flatMap(({ offset, length }) => Array.from({ length: Math.ceil(length / limit) }, (_, i) => ({ offset: offset + i * limit, length: Math.min(limit, length - i * limit) })));
  }

  private countRemaining(): number {
    if (this.state === 'fractured') return 0;
    let n = 0;
    for (const e of this.delta.setBits()) if (!this.prot.get(e)) n++;
    return n;
  }
}

/** Refuses devices that cannot hold this geometry, naming the device and the size. */
export function checkDevices(devices: RestoreDevices, geometry: Geometry, metadataBytes: number): void {
  const check = (name: string, device: BlockDevice, size: number, exact: boolean) => {
    if (device.sectorSize !== geometry.sectorSize) {
      throw new MetadataError(`${name} device has ${device.sectorSize}-byte sectors, the geometry ${geometry.sectorSize}`);
    }
    if (exact ? device.size !== size : device.size < size) {
      throw new MetadataError(`${name} device is ${device.size} bytes; the geometry needs ${exact ? '' : 'at least '}${size}`);
    }
  };
  check('source', devices.source, geometry.volumeSize, true);
  check('clone', devices.clone, geometry.volumeSize, true);
  check('metadata', devices.meta, metadataBytes, false);
}
