/**
 * The source volume of a restore engine as an NBD export: reads and writes are the engine's host
 * I/O (so reads of extents not yet copied come from the clone, and writes are protected by P),
 * FLUSH is the engine's source flush, and FUA is a write followed by that flush.
 */
import type { Geometry, RestoreEngine } from '../engine/contract.js';
import type { NbdExport } from './export.js';
import type { HostActivity } from './host-activity.js';

/** The largest single write of zeroes: WRITE_ZEROES may name gigabytes but carries no data. */
const ZERO_CHUNK = 1 << 20;

export interface EngineExportOptions {
  readonly name: string;
  readonly description: string;
  readonly readOnly: boolean;
  readonly activity: HostActivity;
}

export class EngineExport implements NbdExport {
  readonly name: string;
  readonly description: string;
  readonly size: number;
  readonly blockSize: number;
  /** Read-only while an unprotected restore runs; cleared once it completes (see serve-pair.ts). */
  readOnly: boolean;
  private readonly activity: HostActivity;
  private zeroes: Uint8Array | undefined;

  constructor(
    private readonly engine: RestoreEngine,
    geometry: Geometry,
    options: EngineExportOptions,
  ) {
    this.name = options.name;
    this.description = options.description;
    this.readOnly = options.readOnly;
    this.activity = options.activity;
    this.size = geometry.volumeSize;
    this.blockSize = geometry.sectorSize;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    this.activity.counts.reads++;
    this.activity.counts.bytesRead += length;
    return this.activity.track(() => this.engine.readSource(offset, length));
  }

  write(offset: number, data: Uint8Array, fua: boolean): Promise<void> {
    this.activity.counts.writes++;
    this.activity.counts.bytesWritten += data.length;
    return this.activity.track(async () => {
      await this.engine.writeSource(offset, data);
      if (fua) await this.engine.flushSource();
    });
  }

  writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    this.activity.counts.writes++;
    this.activity.counts.bytesWritten += length;
    this.zeroes ??= new Uint8Array(ZERO_CHUNK);
    const zeroes = this.zeroes;
    return this.activity.track(async () => {
      for (let at = offset; at < offset + length; at += ZERO_CHUNK) {
        await this.engine.writeSource(at, zeroes.subarray(0, Math.min(ZERO_CHUNK, offset + length - at)));
      }
      if (fua) await this.engine.flushSource();
    });
  }

  flush(): Promise<void> {
    this.activity.counts.flushes++;
    return this.activity.track(() => this.engine.flushSource());
  }
}
