/**
 * One persistent map (D or P) in memory: one bit per extent, laid out exactly as its sectors on the
 * metadata device, so persisting a change writes the sectors that hold the changed bits and nothing
 * else: the cost of a map commit does not grow with the volume.
 */
export class Bitmap {
  readonly bytes: Uint8Array;

  constructor(
    readonly extents: number,
    readonly sectorSize: number,
    bytes?: Uint8Array,
  ) {
    this.bytes = new Uint8Array(Bitmap.sectors(extents, sectorSize) * sectorSize);
    if (bytes !== undefined) this.bytes.set(bytes.subarray(0, this.bytes.length));
  }

  /** Sectors a map of `extents` bits occupies. */
  static sectors(extents: number, sectorSize: number): number {
    return Math.max(1, Math.ceil(extents / (8 * sectorSize)));
  }

  get(extent: number): boolean {
    return (this.bytes[extent >> 3]! & (1 << (extent & 7))) !== 0;
  }

  /**
   * The sectors that setting `extents` to `value` would change, as their new contents, by sector
   * index; the map itself is untouched until `apply`, so it never claims what is not yet durable.
   */
  staged(extents: Iterable<number>, value: boolean): Map<number, Uint8Array> {
    const sectors = new Map<number, Uint8Array>();
    for (const e of extents) {
      if (this.get(e) === value) continue;
      const index = Math.floor((e >> 3) / this.sectorSize);
      let image = sectors.get(index);
      if (image === undefined) {
        image = this.bytes.slice(index * this.sectorSize, (index + 1) * this.sectorSize);
        sectors.set(index, image);
      }
      image[(e >> 3) % this.sectorSize]! ^= 1 << (e & 7);
    }
    return sectors;
  }

  /** The sectors holding `extents`, as memory has them: for rewriting what the disk may hold otherwise. */
  current(extents: Iterable<number>): Map<number, Uint8Array> {
    const sectors = new Map<number, Uint8Array>();
    for (const e of extents) {
      const index = Math.floor((e >> 3) / this.sectorSize);
      if (!sectors.has(index)) sectors.set(index, this.bytes.slice(index * this.sectorSize, (index + 1) * this.sectorSize));
    }
    return sectors;
  }

  /** Adopts staged sector contents. */
  apply(sectors: ReadonlyMap<number, Uint8Array>): void {
    for (const [index, image] of sectors) this.bytes.set(image, index * this.sectorSize);
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
}
