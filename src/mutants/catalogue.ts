/**
 * Mutant engines: the reference engine with one realistic bug each, the kind a vendor could ship.
 * Each is one small subclass that breaks one write ordering or one routing decision, documented
 * with the bug and the rule expected to catch it. `prestore mutants` runs the harness against every
 * one; a rule that no mutant trips has not proved it can fail.
 */
import { MetadataError, extentBytes } from '../engine/contract.js';
import { ReferenceEngine } from '../engine/reference/index.js';
import { decodeSuperblock, encodeSuperblock, type Superblock } from '../engine/reference/layout.js';
import { ioErrorMutants } from './io-errors.js';
import { deferredProtectionMutants } from './deferred-protection.js';
import { batchedCopierMutants } from './batched-copier.js';
import { LazyMetadata, mutant, type Mutant } from './mutant.js';
import { reorderingMutants } from './reordering.js';
import { hostAlongsideCopyMutants } from './host-alongside-copy.js';

export type { Mutant } from './mutant.js';

export const mutants: readonly Mutant[] = [
  mutant(
    'clone-write',
    'clone-preserved',
    'a protected restore mirrors host writes to the clone, as the unprotected one does',
    class extends ReferenceEngine {
      protected override mirrorsHostWrites(): boolean {
        return true;
      }
    },
  ),
  mutant(
    'clear-before-durable',
    'reads-right',
    'the copier clears an extent\'s D bit without flushing the copied data first: a crash keeps the clear bit and loses the copy',
    class extends ReferenceEngine {
      protected override async makeCopiesDurable(): Promise<void> {}
    },
  ),
  mutant(
    'protect-after-data',
    'delta-map-sound',
    'the P bit is written but not flushed before the host write is acknowledged, so it reaches the disk after the data it protects; the host flushes the source, power fails, and P (with the D bit set beside it) is lost: the copier overwrites the host\'s data, and at completion D misses the extent',
    class extends LazyMetadata {
      protected override async persistProtection(extents: readonly number[]): Promise<void> {
        await this.lazily(() => super.persistProtection(extents));
      }
    },
  ),
  mutant(
    'protect-before-copy',
    'reads-right',
    'the P bit is made durable before the copy-before-write is: a crash keeps P and loses the copy, and the rest of the extent keeps stale source data for good',
    class extends ReferenceEngine {
      protected override async protectForHostWrite(extents: readonly number[]): Promise<void> {
        const uncopied = extents.filter((e) => this.needsCopy(e));
        await this.persistProtection(extents);
        await this.copyExtents(uncopied);
      }
    },
  ),
  mutant(
    'ack-before-intent',
    'delta-map-sound',
    'a fractured host write is acknowledged (and its data issued) before its D bit is durable: a crash keeps the data and loses the bit',
    class extends LazyMetadata {
      protected override async persistWriteIntent(extents: readonly number[]): Promise<void> {
        await this.lazily(() => super.persistWriteIntent(extents));
      }
    },
  ),
  mutant(
    'reads-from-source',
    'reads-right',
    'reads of extents not yet copied are served from the source instead of the clone: the restore is not instant',
    class extends ReferenceEngine {
      protected override readsFromClone(): boolean {
        return false;
      }
    },
  ),
  mutant(
    'no-copy-before-write',
    'reads-right',
    'a partial host write to an extent not yet copied marks it protected without copying it first: the parts the write does not cover keep stale source data',
    class extends ReferenceEngine {
      protected override async copyBeforeWrite(): Promise<void> {}
    },
  ),
  mutant(
    'protect-before-overwrite',
    'reads-right',
    'a host write covering a whole extent not yet copied skips the copy, as it may, but makes P durable before its own data: a crash keeps P and loses the write, and the extent keeps stale source data that no copy will ever replace',
    class extends ReferenceEngine {
      protected override async overwriteUncopied(extents: readonly number[], offset: number, data: Uint8Array): Promise<void> {
        await this.persistProtection(extents);
        await this.devices.source.write(offset, data);
      }
    },
  ),
  mutant(
    'resume-ignores-p',
    'reads-right',
    'recovery does not load the protected restore map: after a crash, reads of extents the host wrote during the restore go to the clone, and the copier overwrites the host\'s data',
    class extends ReferenceEngine {
      protected override async readProtectedMap(): Promise<Uint8Array> {
        return new Uint8Array(this.layout.mapSectors * this.layout.sectorSize);
      }
    },
  ),
  mutant(
    'single-slot-superblock',
    'progress',
    'the superblock is one two-sector record rewritten in place: a torn write leaves it half old, half new, and the metadata cannot be opened',
    class extends ReferenceEngine {
      protected override async writeSuperblock(sb: Superblock): Promise<void> {
        const size = this.layout.sectorSize;
        const record = new Uint8Array(2 * size);
        record.set(encodeSuperblock(sb, size), 0);
        record.set(encodeSuperblock(sb, size), size);
        await this.devices.meta.write(0, record, { fua: true });
      }

      protected override async readNewestSuperblock(): Promise<Superblock> {
        const size = this.layout.sectorSize;
        const bytes = await this.devices.meta.read(0, 2 * size);
        const [head, tail] = [decodeSuperblock(bytes.subarray(0, size)), decodeSuperblock(bytes.subarray(size))];
        // Freshly formatted metadata has generation 1 in sector 1 only.
        if (head === 'empty' && typeof tail !== 'string') return tail;
        if (typeof head === 'string' || typeof tail === 'string' || head.generation !== tail.generation) {
          throw new MetadataError('superblock record is torn: its two sectors disagree');
        }
        return head;
      }
    },
  ),
  mutant(
    'completion-forgets-p',
    'delta-map-sound',
    'host-written extents get a P bit but no D bit, so when the restore completes they are not in D, though the source now differs from the clone there',
    class extends ReferenceEngine {
      protected override async persistProtection(extents: readonly number[]): Promise<void> {
        await this.persistBits([['protected', extents, true]]);
      }
    },
  ),
  mutant(
    'short-extent-off-by-one',
    'reads-right',
    'the copier counts whole extents only (volume size divided by extent size, rounded down), so a short last extent is never copied, though its D bit is cleared and its reads then come from the stale source',
    class extends ReferenceEngine {
      protected override async copyExtents(extents: readonly number[]): Promise<void> {
        const whole = Math.floor(this.geometry.volumeSize / extentBytes(this.geometry));
        await super.copyExtents(extents.filter((e) => e < whole));
      }
    },
  ),
  mutant(
    'unprotected-no-mirror',
    'restore-ends-right',
    'an unprotected restore does not mirror host writes to the clone, and still clears D at completion',
    class extends ReferenceEngine {
      protected override mirrorsHostWrites(): boolean {
        return false;
      }
    },
  ),
  mutant(
    'copies-clean-extents',
    'only-differing-copied',
    'the first copy pass copies every extent the host has not written, ignoring D: equal extents are rewritten for nothing',
    class extends ReferenceEngine {
      private swept = false;

      protected override async copyExtents(extents: readonly number[]): Promise<void> {
        const all = Array.from({ length: this.layout.extents }, (_, e) => e).filter((e) => !this.prot.get(e));
        await super.copyExtents(this.swept ? extents : all);
        this.swept = true;
      }
    },
  ),
  mutant(
    'start-without-clone-flush',
    'restore-ends-right',
    'startRestore commits without flushing the clone first: host writes to the clone still in its cache are lost by a crash after the start, and the image the host reads changes under it',
    class extends ReferenceEngine {
      protected override async makeCloneDurableBeforeStart(): Promise<void> {}
    },
  ),
  mutant(
    'stale-p-at-start',
    'delta-map-sound',
    'startRestore does not clear P left by the previous restore: the next restore skips those extents as if the host had written them',
    class extends ReferenceEngine {
      protected override async clearStaleProtection(): Promise<void> {}
    },
  ),
  mutant(
    'eager-start',
    'atomic-start',
    'startRestore copies the first differing extent before it commits the restore, for a head start: a crash before the commit leaves the old pair with one extent already restored, a mix of both outcomes',
    class extends ReferenceEngine {
      protected override async commitStart(protect: boolean): Promise<void> {
        const first = this.delta.setBits().next();
        if (first.done !== true) {
          await this.copyExtents([first.value]);
          await this.makeCopiesDurable();
        }
        await super.commitStart(protect);
      }
    },
  ),
  mutant(
    'start-not-durable',
    'reads-right',
    'the superblock commit is written without FUA or a flush, so startRestore returns before the restore is durable and a crash rolls it back',
    class extends ReferenceEngine {
      protected override async writeSuperblock(sb: Superblock): Promise<void> {
        await this.devices.meta.write((sb.generation % 2) * this.layout.sectorSize, encodeSuperblock(sb, this.layout.sectorSize));
      }
    },
  ),
  ...reorderingMutants,
  ...ioErrorMutants,
  ...deferredProtectionMutants,
  ...hostAlongsideCopyMutants,
  ...batchedCopierMutants,
];
