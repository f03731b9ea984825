// @ts-check
/**
 * A minimal protected-restore engine in plain JavaScript to start your own from (copy it into
 * your project); it passes `prestore exhaust --bundled --engine ./minimal-engine.mjs` and
 * `prestore explore`.
 * Obviously right over fast: one operation at a time, and every write ordering the harness checks,
 * each with the crash it guards against. Metadata: superblock slots in sectors 0 and 1, then the
 * map, one byte per extent. The contract's classes and types come from the package (in a
 * checkout of prestore itself, `npm run build` first), so editors check this file against them.
 */
import { CloneBusyError, EngineStateError, MetadataError } from 'protected-restore/contract';

/** @typedef {import('protected-restore/contract').Geometry} Geometry */
/** @typedef {import('protected-restore/contract').RestoreDevices} RestoreDevices */
/** @typedef {import('protected-restore/contract').RestoreEngine} RestoreEngine */
/** @typedef {{ generation: number, restoring: boolean, protect: boolean }} Superblock */

const MAGIC = 0x4d494e31; // "MIN1"
const D = 1; // map bit: source and clone may differ in this extent (never under-approximated)
const P = 2; // map bit: the host wrote this extent during the current restore (source is truth)
const MAP_AT = 2; // first map sector

/** @param {Geometry} g */
function layout(g) {
  const extentBytes = g.extentSectors * g.sectorSize;
  const extents = Math.ceil(g.volumeSize / extentBytes);
  return { extentBytes, extents, size: (MAP_AT + Math.ceil(extents / g.sectorSize)) * g.sectorSize };
}

/** @param {number[]} words */
const checksum = (words) => words.reduce((sum, w) => (Math.imul(sum, 31) + w) >>> 0, 7);

/** One sector: magic, generation, state, protect, the geometry, a checksum. @param {Geometry} g @param {Superblock} sb */
function encodeSuperblock(g, sb) {
  const words = [MAGIC, sb.generation, sb.restoring ? 1 : 0, sb.protect ? 1 : 0, g.volumeSize, g.sectorSize, g.extentSectors];
  const bytes = new Uint8Array(g.sectorSize);
  [...words, checksum(words)].forEach((w, i) => new DataView(bytes.buffer).setUint32(i * 4, w, true));
  return bytes;
}

/** A slot never written, or torn by a crash, decodes to undefined. @param {Uint8Array} bytes */
function decodeSuperblock(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const w = Array.from({ length: 7 }, (_, i) => view.getUint32(i * 4, true));
  if (w[0] !== MAGIC || view.getUint32(28, true) !== checksum(w) || w[2] > 1 || w[3] > 1) return undefined;
  /** @type {Superblock} */
  const sb = { generation: w[1], restoring: w[2] === 1, protect: w[3] === 1 };
  return { sb, geometry: w.slice(4).join('/') };
}

/** @implements {RestoreEngine} */
class MinimalEngine {
  /** @param {RestoreDevices} dev @param {Geometry} g @param {Superblock} sb @param {Uint8Array} map */
  constructor(dev, g, sb, map) {
    this.dev = dev;
    this.g = g;
    this.l = layout(g);
    this.sb = sb; // the newest superblock known durable
    this.map = map; // the map as last made durable (a failed mirrored write drops P here only)
    this.commitInDoubt = false; // a superblock commit failed: the disk may or may not hold it
    this.cloneDirty = false; // unprotected: mirrored host writes may sit in the clone's cache
    /** @type {Promise<unknown>} */
    this.queue = Promise.resolve(); // the tail of the one-at-a-time queue
  }

  /** Recovery, before any host I/O is served. */
  async recover() {
    if (!this.sb.restoring) return;
    const withP = this.all().filter((e) => this.map[e] & P);
    await this.persist(withP, D, true); // D |= P: completion relies on P ⊆ D to keep host writes in D
    // Unprotected: a mirrored write may have reached one device and not the other, and nothing
    // records which. Dropping P sends those extents back to the copier; D covers them until then.
    if (!this.sb.protect) await this.persist(withP, P, false);
  }

  /** @param {number} offset @param {number} length */
  readSource(offset, length) {
    return this.run(async () => {
      if (!this.sb.restoring) return this.dev.source.read(offset, length);
      const out = new Uint8Array(length);
      for (let at = offset; at < offset + length; ) {
        const e = Math.floor(at / this.l.extentBytes);
        const end = Math.min(offset + length, (e + 1) * this.l.extentBytes);
        // An extent still to copy has its truth on the clone, every other one on the source.
        out.set(await (this.needsCopy(e) ? this.dev.clone : this.dev.source).read(at, end - at), at - offset);
        at = end;
      }
      return out;
    });
  }

  /** @param {number} offset @param {Uint8Array} data */
  writeSource(offset, data) {
    return this.run(async () => {
      const touched = this.extents(offset, data.length);
      if (!this.sb.restoring) {
        // D durable before the data. Guards against: a crash keeping the data and losing the bit,
        // so that a clear D claims source = clone and the next restore skips the extent.
        await this.persist(touched, D, true);
        return this.dev.source.write(offset, data);
      }
      const fresh = touched.filter((e) => !(this.map[e] & P));
      // Copy-before-write, durable before P. Guards against: P kept and the copy lost, leaving the
      // parts of the extent the write does not cover with stale source data no one copies over.
      await this.copy(fresh.filter((e) => this.needsCopy(e)));
      // D and P (one byte: P ⊆ D) durable before the data. Guards against: the host flushes its
      // write, power fails with P only cached, and the copier overwrites the data with the clone's.
      await this.persist(fresh, D | P, true);
      if (this.sb.protect) return this.dev.source.write(offset, data); // the clone is never written
      this.cloneDirty = true;
      try {
        await this.dev.clone.write(offset, data);
        await this.dev.source.write(offset, data);
      } catch (error) {
        // The pair may differ under P, where the copier never looks: back to the copier (memory
        // only: recovery drops P on disk, startRestore rewrites the whole map). D stays set.
        for (const e of touched) this.map[e] &= ~P;
        throw error;
      }
    });
  }

  flushSource() {
    return this.run(async () => {
      // Unprotected: flushed means durable on both devices. Guards against: recovery re-copying
      // an extent from a clone that lost the write, which would take back flushed data.
      if (this.sb.restoring && !this.sb.protect) await this.flushMirror();
      await this.dev.source.flush();
    });
  }

  /** @param {number} offset @param {number} length */
  readClone(offset, length) { return this.cloneOp('readClone', () => this.dev.clone.read(offset, length)); }

  /** @param {number} offset @param {Uint8Array} data */
  writeClone(offset, data) {
    return this.cloneOp('writeClone', async () => {
      await this.persist(this.extents(offset, data.length), D, true); // D first, as in writeSource
      await this.dev.clone.write(offset, data);
    });
  }

  flushClone() { return this.cloneOp('flushClone', () => this.dev.clone.flush()); }

  /** @param {{ readonly protect: boolean }} options */
  startRestore({ protect }) {
    return this.run(async () => {
      if (this.sb.restoring) throw new EngineStateError('startRestore: a restore is already in progress');
      // 1. Guards against: cached clone writes lost after the start, changing the image being
      //    restored (and preserved) under the restore.
      await this.dev.clone.flush();
      // 2. Every map sector rewritten with P clear. Guards against: a stale P from an earlier
      //    restore making the copier skip an extent the host never wrote in this one.
      await this.persist(this.all(), P, false, true);
      // 3. The one FUA write from fractured to restoring: a crash before it leaves the old source,
      //    after it the restore, never a mix; durable on return, so never rolled back.
      await this.commit(true, protect);
    });
  }

  step() {
    return this.run(async () => {
      if (!this.sb.restoring) return { remaining: 0, done: true };
      const next = this.all().find((e) => this.needsCopy(e));
      if (next !== undefined) {
        await this.copy([next]);
        await this.persist([next], D, false); // only once the copy is durable; a crash before re-copies
      }
      const remaining = this.remaining();
      if (remaining > 0) return { remaining, done: false };
      if (!this.sb.protect) {
        // Mirrored writes durable on both devices, then D cleared (they are equal), then the
        // commit. A crash before the commit resumes the restore, which redoes these steps.
        await this.flushMirror();
        await this.dev.source.flush();
        await this.persist(this.all(), D, false);
      }
      // Protected: P ⊆ D already marks every extent the host changed, so the commit is all.
      await this.commit(false, this.sb.protect);
      return { remaining: 0, done: true };
    });
  }

  status() {
    const restoring = () => /** @type {const} */ ({ state: 'restoring', protect: this.sb.protect, extentsRemaining: this.remaining() });
    return this.run(async () => (this.sb.restoring ? restoring() : /** @type {const} */ ({ state: 'fractured' })));
  }

  inspect() {
    return this.run(async () => ({
      delta: this.all().map((e) => (this.map[e] & D) !== 0),
      protected: this.all().map((e) => this.sb.restoring && (this.map[e] & P) !== 0), // stale P means nothing
    }));
  }

  /**
   * One operation at a time, so a copy and a host write never interleave; a failed commit is made
   * again first (the state memory holds), so disk and memory agree. @template T @param {() => Promise<T>} fn @returns {Promise<T>}
   */
  run(fn) {
    const result = this.queue.then(async () => {
      if (this.commitInDoubt) await this.commit(this.sb.restoring, this.sb.protect);
      return fn();
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** @template T @param {string} op @param {() => Promise<T>} fn */
  cloneOp(op, fn) {
    return this.run(async () => {
      if (this.sb.restoring) throw new CloneBusyError(op);
      return fn();
    });
  }

  /**
   * Generation g+1 into slot (g+1) % 2 with FUA: durable when acknowledged, and a torn or lost
   * write leaves generation g whole in the other slot. @param {boolean} restoring @param {boolean} protect
   */
  async commit(restoring, protect) {
    const sb = { generation: this.sb.generation + 1, restoring, protect };
    this.commitInDoubt = true;
    await this.dev.meta.write((sb.generation % 2) * this.g.sectorSize, encodeSuperblock(this.g, sb), { fua: true });
    this.sb = sb;
    this.commitInDoubt = false;
  }

  /**
   * Map bits set or cleared durably: changed sectors (with `all`, every one) written, one flush, and
   * only then adopted in memory, so memory never claims what the disk may not hold.
   * @param {number[]} extents @param {number} bits @param {boolean} on @param {boolean} [all]
   */
  async persist(extents, bits, on, all = false) {
    const next = this.map.slice();
    for (const e of extents) next[e] = on ? next[e] | bits : next[e] & ~bits;
    const size = this.g.sectorSize;
    let wrote = false;
    for (let at = 0; at < next.length; at += size) {
      if (!all && next.subarray(at, at + size).every((b, i) => b === this.map[at + i])) continue;
      await this.dev.meta.write(MAP_AT * size + at, next.slice(at, at + size));
      wrote = true;
    }
    if (wrote) await this.dev.meta.flush();
    this.map = next;
  }

  /**
   * Clone extents onto the source, durable on return. Guards against: a crash keeping a map change
   * (D clear, or P set) and losing the cached copy: stale data the map calls restored. @param {number[]} extents
   */
  async copy(extents) {
    if (extents.length === 0) return;
    for (const e of extents) {
      const offset = e * this.l.extentBytes;
      const length = Math.min(this.l.extentBytes, this.g.volumeSize - offset);
      await this.dev.source.write(offset, await this.dev.clone.read(offset, length));
    }
    // Unprotected, the copies came from the clone's cache, which may hold mirrored host writes:
    // they are only as durable as the clone, so it is flushed first.
    if (this.cloneDirty) await this.flushMirror();
    await this.dev.source.flush();
  }

  async flushMirror() {
    await this.dev.clone.flush();
    this.cloneDirty = false;
  }

  /** What the copier still has to do: D set, P clear. @param {number} e */
  needsCopy(e) { return (this.map[e] & (D | P)) === D; }
  remaining() { return this.all().filter((e) => this.needsCopy(e)).length; }
  all() { return Array.from({ length: this.l.extents }, (_, e) => e); }

  /** @param {number} offset @param {number} length */
  extents(offset, length) {
    if (length <= 0) return [];
    const first = Math.floor(offset / this.l.extentBytes);
    return Array.from({ length: Math.floor((offset + length - 1) / this.l.extentBytes) - first + 1 }, (_, i) => first + i);
  }
}

/** @type {import('protected-restore/contract').EngineFactory} */
const minimalEngine = {
  name: 'minimal',
  metadataSize: (g) => layout(g).size,
  async format(dev, g, delta) {
    const l = layout(g);
    const image = new Uint8Array(l.size);
    for (let e = 0; e < l.extents; e++) if (delta === 'all' || (delta !== 'none' && delta[e])) image[MAP_AT * g.sectorSize + e] = D;
    // Generation 1 in slot 1; slot 0 stays invalid until the first commit writes generation 2.
    image.set(encodeSuperblock(g, { generation: 1, restoring: false, protect: true }), g.sectorSize);
    await dev.meta.write(0, image);
    await dev.meta.flush();
  },
  /** Opening is recovery; the metadata is read and checked before anything is written. */
  async open(dev, g) {
    const l = layout(g);
    if (dev.meta.size < l.size) throw new MetadataError(`metadata device is ${dev.meta.size} bytes; the geometry needs ${l.size}`);
    const slots = await dev.meta.read(0, 2 * g.sectorSize);
    const valid = [0, 1].map((i) => decodeSuperblock(slots.subarray(i * g.sectorSize, (i + 1) * g.sectorSize))).filter((s) => s !== undefined);
    if (valid.length === 0) throw new MetadataError('no valid superblock in either slot');
    const newest = valid.reduce((a, b) => (b.sb.generation > a.sb.generation ? b : a));
    const geometry = `${g.volumeSize}/${g.sectorSize}/${g.extentSectors}`;
    if (newest.geometry !== geometry) throw new MetadataError(`metadata is for volume/sector/extent ${newest.geometry}, not ${geometry}`);
    const engine = new MinimalEngine(dev, g, newest.sb, await dev.meta.read(MAP_AT * g.sectorSize, l.size - MAP_AT * g.sectorSize));
    await engine.recover();
    return engine;
  },
};

export default minimalEngine;
