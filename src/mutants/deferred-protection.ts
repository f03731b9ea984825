/**
 * Mutants of the reference engine's `deferProtection` mode (P bits made durable at the host's
 * flush, not before each write is acknowledged): each breaks one of its orderings. They run with
 * the option on, as `prestore serve` runs the engine; with it off, none of them changes anything.
 */
import { createReferenceEngine, ReferenceEngine } from '../engine/reference/index.js';
import type { RuleName } from '../harness/case.js';
import { LazyMetadata, type EngineClass, type Mutant } from './mutant.js';

function deferredMutant(name: string, rule: RuleName, description: string, Engine: EngineClass): Mutant {
  return { name, rule, description, factory: createReferenceEngine({ deferProtection: true }, `mutant:${name}`, Engine) };
}

export const deferredProtectionMutants: readonly Mutant[] = [
  deferredMutant(
    'deferred-p-never-durable',
    'reads-right',
    'with P deferred to the flush, the host\'s flush makes the source durable but not the pending P bits: power fails after a flushed write, P is clear on disk, and the copier copies the clone over the flushed data',
    class extends ReferenceEngine {
      protected override async persistPendingProtection(): Promise<void> {}
    },
  ),
  deferredMutant(
    'deferred-p-before-source',
    'reads-right',
    'with P deferred to the flush, the host\'s flush writes the pending P bits and flushes the metadata before it flushes the source: power fails between the two, P is durable, the copy-before-write and the host\'s data are not, and the extent keeps stale source data P hides from the copier',
    class extends ReferenceEngine {
      protected override async makeHostWritesDurable(): Promise<void> {
        await this.persistPendingProtection();
        await this.devices.source.flush();
      }
    },
  ),
  deferredMutant(
    'deferred-no-clone-under-write',
    'reads-right',
    'with P deferred to the flush, a host write to part of an extent not yet copied is written alone, without the clone\'s data around it: the extent is marked protected while the parts the write does not cover keep stale source data',
    class extends ReferenceEngine {
      protected override async writeOverClone(_partial: readonly number[], offset: number, data: Uint8Array): Promise<void> {
        await this.devices.source.write(offset, data);
      }
    },
  ),
  deferredMutant(
    'deferred-intent',
    'delta-map-sound',
    'with P deferred to the flush, the D bit of a host write to an extent the copier already copied is deferred too (written but not flushed before the data): power fails, the data survives and the bit does not, and D is clear over an extent that differs from the clone',
    class extends LazyMetadata {
      protected override async persistWriteIntent(extents: readonly number[]): Promise<void> {
        if (this.state === 'restoring') await this.lazily(() => super.persistWriteIntent(extents));
        else await super.persistWriteIntent(extents);
      }
    },
  ),
  deferredMutant(
    'deferred-completion-unflushed',
    'reads-right',
    'with P deferred to the flush, the restore completes while host writes (and the copy-before-write under them) still sit in the source\'s cache: power fails after the commit to fractured, the copy is lost, and the parts of the extent the host did not write keep stale source data that no restore will copy over',
    class extends ReferenceEngine {
      protected override async flushPendingBeforeCompletion(): Promise<void> {}
    },
  ),
];
