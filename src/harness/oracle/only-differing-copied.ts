/**
 * Rule 5, only differing extents are copied: during a restore the engine writes only to source
 * extents whose D bit was set at the start, or that the host wrote. Needs `inspect()` for D.
 */
import type { TraceEntry } from '../../devices/fault-layer.js';
import { extentsOf, type Geometry } from '../../engine/contract.js';
import type { Finding } from './finding.js';

export function sourceWritesWithin(geometry: Geometry, entries: readonly TraceEntry[], allowed: ReadonlySet<number>): Finding[] {
  for (const e of entries) {
    if (e.device !== 'source' || e.op !== 'write') continue;
    const { first, last } = extentsOf(geometry, e.offset, e.length);
    for (let extent = first; extent <= last; extent++) {
      if (!allowed.has(extent)) {
        return [{ rule: 'only-differing-copied', message: `the engine wrote source extent ${extent} (I/O point ${e.point}) whose D bit was clear at the start of the restore and which the host did not write`, extent }];
      }
    }
  }
  return [];
}
