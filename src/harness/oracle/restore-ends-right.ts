/**
 * Rule 3, the restore ends right: once the copier reports no work left and the source is flushed,
 * every source sector holds what the model allows: the clone's data, or the host's where it wrote
 * during the restore. Unprotected, source and clone are equal everywhere.
 */
import { sectorBytes, sectorValue, type VolumeModel } from '../../../model/volume-model.js';
import { type Finding, firstDifferingSector, sectorFinding } from './finding.js';

export function sourceMatchesModel(model: VolumeModel, source: Uint8Array, sectorSize: number): Finding[] {
  for (let sector = 0; sector < model.length; sector++) {
    const actual = source.subarray(sector * sectorSize, (sector + 1) * sectorSize);
    if (!model.holdsOnly(sector, actual) && !model.allows(sector, sectorValue(actual))) {
      const expected = [...model.allowed(sector)].map(sectorBytes);
      return [sectorFinding('restore-ends-right', 'after the restore completed and the source was flushed', sector, expected, actual)];
    }
  }
  return [];
}

export function pairEqual(source: Uint8Array, clone: Uint8Array, sectorSize: number, rule: Finding['rule'], when: string): Finding[] {
  const sector = firstDifferingSector(source, clone, sectorSize);
  if (sector < 0) return [];
  const at = (image: Uint8Array) => image.subarray(sector * sectorSize, (sector + 1) * sectorSize);
  return [sectorFinding(rule, `source and clone differ ${when}`, sector, [at(clone)], at(source))];
}
