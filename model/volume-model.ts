/**
 * The oracle's model of one volume as a host sees it (docs/oracle.md): per sector, the values a
 * read may return, the values guaranteed durable, and the values written since the last flush.
 * It knows nothing of maps, extents or device I/O: it says only what a host may observe.
 *
 * A sector's value is its bytes, as a string (one char per byte), so sets compare by content.
 */
export type SectorValue = string;

export function sectorValue(bytes: Uint8Array): SectorValue {
  // Latin-1 maps each byte to the char of the same code: the string built natively, flat, in one
  // step (a string grown char by char is a rope that every set lookup must first flatten).
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

export function sectorBytes(value: SectorValue): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'latin1'));
}

/**
 * Per sector. Its sets are never changed in place, only replaced: so a copy, a crash with nothing
 * written since the flush, or another volume's content may share them instead of copying.
 */
interface SectorState {
  /** What a read may return now: one value, unless a crash or a failed write left a choice. */
  readable: ReadonlySet<SectorValue>;
  /** What a crash now may leave. The same set object as `readable` while nothing was written since. */
  durable: ReadonlySet<SectorValue>;
  /** Values written since the last flush: a crash may leave any of them. */
  sinceFlush: SectorValue[];
}

/** The bytes of a one-value set's value, for `holdsOnly`. */
const onlyValueBytes = new WeakMap<ReadonlySet<SectorValue>, Uint8Array>();

export class VolumeModel {
  private sectors: SectorState[];

  constructor(initial: readonly SectorValue[]) {
    this.sectors = initial.map((v) => {
      const known = new Set([v]);
      return { readable: known, durable: known, sinceFlush: [] };
    });
  }

  get length(): number {
    return this.sectors.length;
  }

  /** An acknowledged host write: later reads must see it; durable only after a flush. */
  write(sector: number, value: SectorValue): void {
    const s = this.sectors[sector]!;
    s.readable = new Set([value]);
    s.sinceFlush.push(value);
  }

  /** A write that failed or was interrupted: the sector may hold the old or the new value. */
  uncertainWrite(sector: number, value: SectorValue): void {
    const s = this.sectors[sector]!;
    s.readable = new Set([...s.readable, value]);
    s.sinceFlush.push(value);
  }

  /** A completed flush: whatever a read may return is now what a crash leaves. */
  flush(): void {
    for (const s of this.sectors) {
      s.durable = s.readable;
      if (s.sinceFlush.length > 0) s.sinceFlush = [];
    }
  }

  /** Power loss: each sector may hold its durable value or any value written since. */
  crash(): void {
    for (const s of this.sectors) {
      if (s.sinceFlush.length === 0) {
        s.readable = s.durable;
        continue;
      }
      const survivors = new Set([...s.durable, ...s.sinceFlush]);
      s.readable = survivors;
      s.durable = survivors;
      s.sinceFlush = [];
    }
  }

  /** Whether a read may return `value` at `sector`. */
  allows(sector: number, value: SectorValue): boolean {
    return this.sectors[sector]!.readable.has(value);
  }

  /**
   * Whether `bytes` are the one value a read may return at `sector`: then the read is allowed and
   * fixes nothing. A check's fast path over a whole image: no string is built, and a sector's
   * value is turned into bytes once per set (sets are never changed, and copies share them).
   */
  holdsOnly(sector: number, bytes: Uint8Array): boolean {
    const readable = this.sectors[sector]!.readable;
    if (readable.size !== 1) return false;
    let only = onlyValueBytes.get(readable);
    if (only === undefined) {
      only = sectorBytes(readable.values().next().value!);
      onlyValueBytes.set(readable, only);
    }
    return Buffer.compare(only, bytes) === 0;
  }

  /** The values a read may return at `sector`. */
  allowed(sector: number): ReadonlySet<SectorValue> {
    return this.sectors[sector]!.readable;
  }

  /** The first read after a crash fixes which value the sector holds; the model adopts it. */
  observe(sector: number, value: SectorValue): void {
    const s = this.sectors[sector]!;
    // A read may return only an allowed value: with one allowed, the value is fixed already.
    if (s.readable.size === 1 && s.readable.has(value)) return;
    const fixed = new Set([value]);
    if (s.durable === s.readable) s.durable = fixed;
    s.readable = fixed;
  }

  /**
   * This volume takes another's content, durably (`startRestore` returned): every sector now reads
   * as the other's does, and that content survives any crash.
   */
  assignFrom(other: VolumeModel): void {
    this.sectors = other.sectors.map((s) => ({ readable: s.readable, durable: s.readable, sinceFlush: [] }));
  }

  /**
   * An independent copy of this model, for branches the harness cannot decide yet (a crash inside
   * startRestore) and for the checker's saved states. (Not to be confused with the clone volume.)
   */
  copy(): VolumeModel {
    const copy = new VolumeModel([]);
    copy.sectors = this.sectors.map((s) => ({ readable: s.readable, durable: s.durable, sinceFlush: s.sinceFlush.length === 0 ? [] : [...s.sinceFlush] }));
    return copy;
  }
}
