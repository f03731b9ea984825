/**
 * Mutants that only an I/O error reveals: with crashes alone they behave as the reference engine
 * does, since a crash throws away the memory they get wrong. `prestore exhaust --eio` catches
 * them: an error at one exact I/O point, then more work on the same extent.
 */
import type { MapName } from '../engine/reference/bitmap.js';
import { ReferenceEngine } from '../engine/reference/index.js';
import { mutant, type Mutant } from './mutant.js';

export const ioErrorMutants: readonly Mutant[] = [
  mutant(
    'bit-before-write',
    'delta-map-sound',
    'a map bit is set in memory before the metadata write that persists it has succeeded: when that write fails, memory holds a bit the disk does not, and the next host write to the extent skips persisting it. While fractured, the host flushes, power fails, and D misses an extent that differs; during a restore the same happens to P, and the copier overwrites the flushed data',
    class extends ReferenceEngine {
      protected override async persistBits(changes: readonly (readonly [MapName, readonly number[], boolean])[]): Promise<void> {
        const size = this.layout.sectorSize;
        const staged = changes.map(([name, extents, value]) => {
          const map = name === 'delta' ? this.delta : this.prot;
          return { map, base: name === 'delta' ? this.layout.deltaSector : this.layout.protectedSector, sectors: map.staged(extents, value) };
        });
        const touched = [...new Set(changes.flatMap(([, extents]) => extents))];
        const before = touched.filter((e) => this.needsCopy(e)).length;
        // The bug: memory adopts the change first, "the write will go through".
        for (const { map, sectors } of staged) map.apply(sectors);
        this.remaining += touched.filter((e) => this.needsCopy(e)).length - before;
        for (const { base, sectors } of staged) for (const [index, bytes] of sectors) await this.devices.meta.write((base + index) * size, bytes);
        if (staged.some(({ sectors }) => sectors.size > 0)) await this.syncMetadata();
      }
    },
  ),
];
