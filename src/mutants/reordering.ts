/**
 * Mutants only a device that completes operations out of issue order catches (`inFlight`,
 * docs/fault-model.md). Each issues I/O that must be ordered alongside the I/O it must follow,
 * trusting issue order: on a device that completes in issue order every run is right, so the
 * in-order harness passes them; on a real one (NVMe, io_uring, a RAID controller) the later
 * operation can complete first. The bundled scenario `in-flight` crashes them under every
 * completion order and catches both (src/mutants/reordering.test.ts shows both halves).
 */
import type { MapName } from '../engine/reference/bitmap.js';
import { ReferenceEngine } from '../engine/reference/index.js';
import { mutant, type Mutant } from './mutant.js';

type MapChange = readonly [MapName, readonly number[], boolean];

/** The reference engine with one more way to change the maps: every I/O of the change issued at once. */
class ReorderingEngine extends ReferenceEngine {
  /** The map sectors of `changes` written and the metadata flushed, issued together; `adopt` takes the change into memory. */
  protected issueMapChange(changes: readonly MapChange[]): { durable: Promise<unknown>; adopt: () => void } {
    const size = this.layout.sectorSize;
    const ios: Promise<unknown>[] = [];
    const staged: [ReferenceEngine['delta'], Map<number, Uint8Array>][] = [];
    for (const [name, extents, value] of changes) {
      const map = name === 'delta' ? this.delta : this.prot;
      const sectors = map.staged(extents, value);
      const base = name === 'delta' ? this.layout.deltaSector : this.layout.protectedSector;
      for (const [s, bytes] of sectors) ios.push(this.devices.meta.write((base + s) * size, bytes));
      if (sectors.size > 0) staged.push([map, sectors]);
    }
    // The flush goes out with the writes, not after they completed: a flush covers only the
    // writes the device had acknowledged when it arrived, which may be none of these.
    if (ios.length > 0) ios.push(this.devices.meta.flush());
    const durable = Promise.all(ios);
    durable.catch(() => undefined);
    const adopt = () => {
      const touched = [...new Set(changes.flatMap(([, extents]) => extents))];
      const before = touched.filter((e) => this.needsCopy(e)).length;
      for (const [map, sectors] of staged) map.apply(sectors);
      this.remaining += touched.filter((e) => this.needsCopy(e)).length - before;
    };
    return { durable, adopt };
  }
}

export const reorderingMutants: readonly Mutant[] = [
  mutant(
    'flush-with-writes',
    'delta-map-sound',
    'map updates issue their sector writes and the metadata flush together and wait for all of them, trusting the device to complete them in issue order: a flush covers only the writes acknowledged before it was issued, so the bits can be in the cache when the engine acts on them (P missing under a flushed host write, D missing under a fractured one)',
    class extends ReorderingEngine {
      protected override async persistBits(changes: readonly MapChange[]): Promise<void> {
        const { durable, adopt } = this.issueMapChange(changes);
        await durable;
        adopt();
      }
    },
  ),
  mutant(
    'ack-before-protect',
    'reads-right',
    'a host write during the restore issues its P update (map writes and flush) and then its data without waiting for the P update to complete, and is acknowledged when the data completes: if the data completes first, the host flushes it and a crash loses P, so the copier overwrites the host\'s data with the clone\'s',
    class extends ReorderingEngine {
      protected override async persistProtection(extents: readonly number[]): Promise<void> {
        const { adopt } = this.issueMapChange([
          ['delta', extents, true],
          ['protected', extents, true],
        ]);
        adopt();
      }
    },
  ),
];
