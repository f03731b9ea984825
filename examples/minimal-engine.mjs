/**
 * A minimal protected-restore engine, in plain JavaScript, to start your own from: it passes
 * `prestore exhaust scenarios/` and `prestore explore`. Obviously right over fast: one map byte
 * per extent (bit 0 = D, bit 1 = P), two superblock slots, and every ordering the harness checks.
 *
 *   npx prestore exhaust scenarios/ --engine ./examples/minimal-engine.mjs
 *
 * The types come from the package (`npm run build` first): your editor checks this file against
 * the engine contract, src/engine/contract.ts.
 */
import { CloneBusyError, EngineStateError, MetadataError } from '../dist/src/engine/contract.js';

/** @typedef {import('../dist/src/engine/contract.js').Geometry} Geometry */
/** @typedef {import('../dist/src/engine/contract.js').RestoreDevices} RestoreDevices */

const MAGIC = 0x4d494e31; // "MIN1"
const D = 1;
const P = 2;

/** @param {Geometry} g */
function layout(g) {
  const extentBytes = g.extentSectors * g.sectorSize;
  const extents = Math.ceil(g.volumeSize / extentBytes);
  const mapSectors = Math.ceil(extents / g.sectorSize);
  return { extentBytes, extents, mapAt: 2 * g.sectorSize, size: (2 + mapSectors) * g.sectorSize };
}

/** Superblock: magic, generation, state (0 fractured, 1 restoring), protect, geometry, checksum. */
function superblock(g, generation, state, protect) {
  const words = [MAGIC, generation, state, protect ? 1 : 0, g.volumeSize, g.sectorSize, g.extentSectors];
  const bytes = new Uint8Array(g.sectorSize);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setUint32(i * 4, w, true));
  view.setUint32(28, words.reduce((a, w) => (Math.imul(a, 31) + w) >>> 0, 7), true);
  return bytes;
}

function readSuperblock(g, bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words = Array.from({ length: 7 }, (_, i) => view.getUint32(i * 4, true));
  if (words[0] !== MAGIC || view.getUint32(28, true) !== words.reduce((a, w) => (Math.imul(a, 31) + w) >>> 0, 7)) return undefined;
  if (words[4] !== g.volumeSize || words[5] !== g.sectorSize || words[6] !== g.extentSectors) throw new MetadataError('metadata was written for another geometry');
  return { generation: words[1], state: words[2], protect: words[3] === 1 };
}

class MinimalEngine {
  /** @param {RestoreDevices} dev @param {Geometry} g */
  constructor(dev, g) {
    Object.assign(this, { dev, g, l: layout(g), inDoubt: false, cloneDirty: false });
  }

  async recover() {
    const slots = await this.dev.meta.read(0, 2 * this.g.sectorSize);
    const found = [0, 1].map((i) => readSuperblock(this.g, slots.subarray(i * this.g.sectorSize, (i + 1) * this.g.sectorSize))).filter(Boolean);
    if (found.length === 0) throw new MetadataError('no valid superblock in either slot');
    Object.assign(this, found.reduce((a, b) => (b.generation > a.generation ? b : a)));
    this.map = await this.dev.meta.read(this.l.mapAt, this.l.size - this.l.mapAt);
    if (this.state === 1) {
      const protectedExtents = this.all().filter((e) => this.map[e] & P);
      await this.persist(protectedExtents, D, true); // a crash between D and P left P without D
      if (!this.protect) await this.persist(protectedExtents, P, false); // mirrors may differ: re-copy
    }
  }

  all() {
    return Array.from({ length: this.l.extents }, (_, e) => e);
  }

  extents(offset, length) {
    const first = Math.floor(offset / this.l.extentBytes);
    return Array.from({ length: Math.floor((offset + length - 1) / this.l.extentBytes) - first + 1 }, (_, i) => first + i);
  }

  needsCopy(e) {
    return (this.map[e] & (D | P)) === D;
  }

  /** Map bytes written and flushed, and only then changed in memory. */
  async persist(extents, bit, value) {
    const next = this.map.slice();
    for (const e of extents) next[e] = value ? next[e] | bit : next[e] & ~bit;
    const size = this.g.sectorSize;
    let written = false;
    for (let s = 0; s * size < next.length; s++) {
      const sector = next.subarray(s * size, (s + 1) * size);
      if (sector.some((b, i) => b !== this.map[s * size + i])) {
        await this.dev.meta.write(this.l.mapAt + s * size, sector);
        written = true;
      }
    }
    if (!written) return;
    await this.dev.meta.flush();
    this.map = next;
  }

  /** Generation g+1 into the other slot, FUA: a torn commit leaves generation g whole. */
  async commit(state, protect) {
    this.inDoubt = true;
    const generation = this.generation + 1;
    await this.dev.meta.write((generation % 2) * this.g.sectorSize, superblock(this.g, generation, state, protect), { fua: true });
    Object.assign(this, { generation, state, protect, inDoubt: false });
  }

  /** A failed commit may or may not be on disk: make it again before anything else. */
  async settle() {
    if (this.inDoubt) await this.commit(this.state, this.protect);
  }

  async copy(extents) {
    for (const e of extents) {
      const offset = e * this.l.extentBytes;
      const length = Math.min(this.l.extentBytes, this.g.volumeSize - offset);
      await this.dev.source.write(offset, await this.dev.clone.read(offset, length));
    }
    // Copies durable before any map says they are there (the clone first: mirrors may be cached).
    if (this.cloneDirty) await this.flushMirror();
    await this.dev.source.flush();
  }

  async flushMirror() {
    await this.dev.clone.flush();
    this.cloneDirty = false;
  }

  async readSource(offset, length) {
    await this.settle();
    if (this.state === 0) return this.dev.source.read(offset, length);
    const out = new Uint8Array(length);
    for (let at = offset; at < offset + length; ) {
      const end = Math.min(offset + length, (Math.floor(at / this.l.extentBytes) + 1) * this.l.extentBytes);
      const device = this.needsCopy(Math.floor(at / this.l.extentBytes)) ? this.dev.clone : this.dev.source;
      out.set(await device.read(at, end - at), at - offset);
      at = end;
    }
    return out;
  }

  async writeSource(offset, data) {
    await this.settle();
    const extents = this.extents(offset, data.length);
    if (this.state === 0) {
      await this.persist(extents, D, true); // D durable before the data: a clear bit never hides a change
      return this.dev.source.write(offset, data);
    }
    const fresh = extents.filter((e) => !(this.map[e] & P));
    if (fresh.length > 0) {
      await this.copy(fresh.filter((e) => this.needsCopy(e))); // copy-before-write, durable before P
      await this.persist(fresh, D, true); // D before P: P ⊆ D
      await this.persist(fresh, P, true); // P durable before the data the copier must not overwrite
    }
    if (this.protect) return this.dev.source.write(offset, data);
    try {
      this.cloneDirty = true;
      await this.dev.clone.write(offset, data);
      await this.dev.source.write(offset, data);
    } catch (e) {
      for (const x of extents) this.map[x] &= ~P; // the pair may differ: back to the copier
      throw e;
    }
  }

  async flushSource() {
    await this.settle();
    if (this.state === 1 && !this.protect) await this.flushMirror();
    await this.dev.source.flush();
  }

  async cloneOp(name, op) {
    await this.settle();
    if (this.state === 1) throw new CloneBusyError(name);
    return op();
  }

  readClone(offset, length) {
    return this.cloneOp('readClone', () => this.dev.clone.read(offset, length));
  }

  writeClone(offset, data) {
    return this.cloneOp('writeClone', async () => {
      await this.persist(this.extents(offset, data.length), D, true);
      await this.dev.clone.write(offset, data);
    });
  }

  flushClone() {
    return this.cloneOp('flushClone', () => this.dev.clone.flush());
  }

  async startRestore({ protect }) {
    await this.settle();
    if (this.state === 1) throw new EngineStateError('startRestore: a restore is already in progress');
    await this.dev.clone.flush(); // the image to restore must not change after the start
    await this.persist(this.all(), P, false); // a stale P would skip extents
    await this.commit(1, protect);
  }

  async step() {
    await this.settle();
    if (this.state === 0) return { remaining: 0, done: true };
    const next = this.all().find((e) => this.needsCopy(e));
    if (next !== undefined) {
      await this.copy([next]);
      await this.persist([next], D, false); // cleared only once the copy is durable
    }
    const remaining = this.all().filter((e) => this.needsCopy(e)).length;
    if (remaining > 0) return { remaining, done: false };
    if (!this.protect) {
      await this.flushMirror();
      await this.dev.source.flush();
      await this.persist(this.all(), D, false); // equal now, and durably so
    }
    await this.commit(0, this.protect);
    return { remaining: 0, done: true };
  }

  async status() {
    await this.settle();
    if (this.state === 0) return { state: 'fractured' };
    return { state: 'restoring', protect: this.protect, extentsRemaining: this.all().filter((e) => this.needsCopy(e)).length };
  }

  async inspect() {
    return { delta: this.all().map((e) => (this.map[e] & D) !== 0), protected: this.all().map((e) => this.state === 1 && (this.map[e] & P) !== 0) };
  }
}

/** @type {import('../dist/src/engine/contract.js').EngineFactory} */
export default {
  name: 'minimal',
  metadataSize: (g) => layout(g).size,
  async format(dev, g, delta) {
    const l = layout(g);
    const image = new Uint8Array(l.size);
    for (let e = 0; e < l.extents; e++) if (delta === 'all' || (Array.isArray(delta) && delta[e])) image[l.mapAt + e] = D;
    image.set(superblock(g, 1, 0, true), g.sectorSize);
    await dev.meta.write(0, image);
    await dev.meta.flush();
  },
  async open(dev, g) {
    const engine = new MinimalEngine(dev, g);
    await engine.recover();
    return engine;
  },
};
