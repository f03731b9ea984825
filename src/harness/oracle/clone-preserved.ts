/**
 * Rule 1, clone preserved: during a protected restore no write reaches the clone device, and its
 * content at the end equals its content at `startRestore`, byte for byte, through any crashes.
 */
import type { TraceEntry } from '../../devices/fault-layer.js';
import { type Finding, firstDifferingSector, sectorFinding } from './finding.js';

export function cloneWrites(entries: readonly TraceEntry[]): Finding[] {
  const write = entries.find((e) => e.device === 'clone' && e.op === 'write');
  if (write === undefined) return [];
  return [{ rule: 'clone-preserved', message: `the engine wrote the clone during a protected restore (I/O point ${write.point}, ${write.length} bytes at offset ${write.offset})` }];
}

export function cloneUnchanged(atStart: Uint8Array, now: Uint8Array, sectorSize: number, when: string): Finding[] {
  const sector = firstDifferingSector(atStart, now, sectorSize);
  if (sector < 0) return [];
  const at = (image: Uint8Array) => image.subarray(sector * sectorSize, (sector + 1) * sectorSize);
  return [sectorFinding('clone-preserved', `the clone changed ${when}`, sector, [at(atStart)], at(now))];
}
