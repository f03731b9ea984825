/**
 * Rule 4, the delta map stays sound: D may over-approximate, never under-approximate. White box:
 * every extent where source and clone differ has its D bit set. Black box: a second restore with
 * no host writes makes source and clone equal everywhere (checked with `pairEqual`).
 */
import { extentCount, extentRange, type Geometry } from '../../engine/contract.js';
import { type Finding, firstDifferingSector } from './finding.js';

export function deltaCoversDifferences(geometry: Geometry, source: Uint8Array, clone: Uint8Array, delta: readonly boolean[], when: string): Finding[] {
  for (let extent = 0; extent < extentCount(geometry); extent++) {
    if (delta[extent]) continue;
    const { offset, length } = extentRange(geometry, extent);
    const sector = firstDifferingSector(source.subarray(offset, offset + length), clone.subarray(offset, offset + length), geometry.sectorSize);
    if (sector >= 0) {
      return [{ rule: 'delta-map-sound', message: `extent ${extent} differs between source and clone (sector ${offset / geometry.sectorSize + sector}) but its D bit is clear ${when}`, extent, sector: offset / geometry.sectorSize + sector }];
    }
  }
  return [];
}
