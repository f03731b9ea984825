/**
 * Mutants of the copier's batching and of maps that span several sectors: bugs that only show
 * with engine options other than the defaults (a batch of several extents) or with a volume of
 * more extents than one map sector holds. The bundled scenarios batched-copier.json and
 * multi-sector-map.json set the options and the geometry that expose them.
 */
import { ReferenceEngine } from '../engine/reference/index.js';
import { mutant, type Mutant } from './mutant.js';

export const batchedCopierMutants: readonly Mutant[] = [
  mutant(
    'batch-cleared-early',
    'reads-right',
    'the copier clears the D bits of a whole batch once all but its last extent are copied and flushed, and copies the last one after: a crash in between keeps the clear bit and loses that copy, and the extent reads stale source data for good',
    class extends ReferenceEngine {
      protected override async copyExtents(extents: readonly number[]): Promise<void> {
        if (extents.length < 2) return super.copyExtents(extents);
        const last = extents[extents.length - 1]!;
        await super.copyExtents(extents.slice(0, -1));
        await this.makeCopiesDurable();
        await this.clearCopied(extents);
        await super.copyExtents([last]);
      }
    },
  ),
  mutant(
    'map-run-one-short',
    'reads-right',
    'a run of contiguous map sectors is written one sector short (the run\'s length counted from its second sector): a change that spans two map sectors reaches the disk only in the first, so after a crash a P bit beyond the sector boundary is lost and the copier overwrites the host\'s flushed write',
    class extends ReferenceEngine {
      protected override async writeMapSectors(base: number, sectors: ReadonlyMap<number, Uint8Array>): Promise<void> {
        // The last sector of every run of two or more is left out.
        await super.writeMapSectors(base, new Map([...sectors].filter(([index]) => !sectors.has(index - 1) || sectors.has(index + 1))));
      }
    },
  ),
];
