/**
 * One persistent map (D or P): one bit per extent in memory, and on the metadata device a run of
 * sectors, each holding `sectorSize - 4` bytes of bits and then a CRC-32 of the map's tag, the
 * sector's index and those bits.
 *
 * Why a checksum in every sector: the sector is the disk's atomic unit, so the checksum and the
 * bits it covers are always written together and a crash leaves both old or both new, never a
 * sector that fails its check. A sector that does fail was changed outside the engine (a stray
 * write, bit rot, a tool that zeroed it), and a map bit that silently flips is the worst failure
 * of all: a clear D bit is a promise that the extent is equal, so the restore would skip it and
 * report success. The tag and index are inside the checksum so a sector written to the wrong
 * place, or D's sector copied over P's, fails too; an all-zero sector never passes.
 *
 * Persisting a change writes the sectors that hold the changed bits and nothing else: the cost of
 * a map commit does not grow with the volume.
 */
import { MetadataError } from '../contract.js';
import { crc32 } from './crc32.js';

export type MapName = 'delta' | 'protected';

/** Bytes at the end of each map sector that hold its checksum. */
export const MAP_CHECKSUM_BYTES = 4;

const TAG: Readonly<Record<MapName, number>> = { delta: 0x44 /* D */, protected: 0x50 /* P */ };
const LABEL: Readonly<Record<MapName, string>> = { delta: 'clone delta map (D)', protected: 'protected restore map (P)' };

export class Bitmap {
  /** The bits, contiguous: sector i holds bytes [i * bitBytes, (i + 1) * bitBytes). */
  readonly bytes: Uint8Array;
  /** Bytes of bits per sector. */
  private readonly bitBytes: number;

  constructor(
    readonly map: MapName,
    readonly extents: number,
    readonly sectorSize: number,
    bits?: Uint8Array,
  ) {
    this.bitBytes = sectorSize - MAP_CHECKSUM_BYTES;
    this.bytes = new Uint8Array(Bitmap.sectors(extents, sectorSize) * this.bitBytes);
    if (bits !== undefined) this.bytes.set(bits.subarray(0, this.bytes.length));
  }

  /** Sectors a map of `extents` bits occupies. */
  static sectors(extents: number, sectorSize: number): number {
    return Math.max(1, Math.ceil(extents / (8 * (sectorSize - MAP_CHECKSUM_BYTES))));
  }

  /**
   * The map as the device holds it in `disk` (its sectors, read from `firstSector` on), every
   * sector's checksum verified first. A sector that fails is refused, naming the map and where,
   * and nothing of the map is trusted.
   */
  static decode(map: MapName, extents: number, sectorSize: number, disk: Uint8Array, firstSector: number): Bitmap {
    const bitmap = new Bitmap(map, extents, sectorSize);
    const sectors = Bitmap.sectors(extents, sectorSize);
    for (let i = 0; i < sectors; i++) {
      const sector = disk.subarray(i * sectorSize, (i + 1) * sectorSize);
      const stored = new DataView(sector.buffer, sector.byteOffset, sectorSize).getUint32(bitmap.bitBytes, true);
      if (stored !== bitmap.checksum(i, sector)) {
        const at = (firstSector + i) * sectorSize;
        throw new MetadataError(
          `${LABEL[map]}: sector ${i} of ${sectors} (bytes ${at}-${at + sectorSize - 1} of the metadata device) fails its checksum: ` +
            'it was changed outside the engine (a stray write, a damaged disk), so no bit of this map can be trusted and nothing is restored from it',
        );
      }
      bitmap.bytes.set(sector.subarray(0, bitmap.bitBytes), i * bitmap.bitBytes);
    }
    return bitmap;
  }

  get(extent: number): boolean {
    return (this.bytes[extent >> 3]! & (1 << (extent & 7))) !== 0;
  }

  /**
   * The sectors that setting `extents` to `value` would change, as their new on-disk contents
   * (checksum included), by sector index; the map itself is untouched until `apply`, so it never
   * claims what is not yet durable.
   */
  staged(extents: Iterable<number>, value: boolean): Map<number, Uint8Array> {
    const sectors = new Map<number, Uint8Array>();
    for (const e of extents) {
      if (this.get(e) === value) continue;
      const index = this.sectorOf(e);
      let image = sectors.get(index);
      if (image === undefined) {
        image = this.sectorImage(index);
        sectors.set(index, image);
      }
      image[(e >> 3) % this.bitBytes]! ^= 1 << (e & 7);
    }
    for (const [index, image] of sectors) this.seal(index, image);
    return sectors;
  }

  /** The sectors holding `extents`, as memory has them: for rewriting what the disk may hold otherwise. */
  current(extents: Iterable<number>): Map<number, Uint8Array> {
    const sectors = new Map<number, Uint8Array>();
    for (const e of extents) {
      const index = this.sectorOf(e);
      if (!sectors.has(index)) sectors.set(index, this.seal(index, this.sectorImage(index)));
    }
    return sectors;
  }

  /** Every sector of the map in its on-disk form: what formatting writes. */
  encode(): Uint8Array {
    const sectors = Bitmap.sectors(this.extents, this.sectorSize);
    const disk = new Uint8Array(sectors * this.sectorSize);
    for (let i = 0; i < sectors; i++) disk.set(this.seal(i, this.sectorImage(i)), i * this.sectorSize);
    return disk;
  }

  /** Adopts staged sector contents. */
  apply(sectors: ReadonlyMap<number, Uint8Array>): void {
    for (const [index, image] of sectors) this.bytes.set(image.subarray(0, this.bitBytes), index * this.bitBytes);
  }

  /** Set bits, lowest first. */
  *setBits(): Generator<number> {
    for (let i = 0; i < this.bytes.length; i++) {
      const byte = this.bytes[i]!;
      if (byte === 0) continue;
      for (let b = 0; b < 8; b++) if (byte & (1 << b) && i * 8 + b < this.extents) yield i * 8 + b;
    }
  }

  toArray(): boolean[] {
    return Array.from({ length: this.extents }, (_, e) => this.get(e));
  }

  private sectorOf(extent: number): number {
    return Math.floor((extent >> 3) / this.bitBytes);
  }

  /** Sector `index` with memory's bits and no checksum yet. */
  private sectorImage(index: number): Uint8Array {
    const image = new Uint8Array(this.sectorSize);
    image.set(this.bytes.subarray(index * this.bitBytes, (index + 1) * this.bitBytes));
    return image;
  }

  private seal(index: number, image: Uint8Array): Uint8Array {
    new DataView(image.buffer, image.byteOffset, this.sectorSize).setUint32(this.bitBytes, this.checksum(index, image), true);
    return image;
  }

  private checksum(index: number, sector: Uint8Array): number {
    const identity = new Uint8Array(5);
    identity[0] = TAG[this.map];
    new DataView(identity.buffer).setUint32(1, index, true);
    return crc32(sector.subarray(0, this.bitBytes), crc32(identity));
  }
}
