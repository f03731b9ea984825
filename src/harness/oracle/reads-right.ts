/**
 * Rule 2, reads are right: every host read returns what the model allows. A read also fixes, in
 * the model, which of several allowed values a sector holds after a crash. Rule 7 judges the reads
 * after a crash inside `startRestore` with the same check, under its own name.
 */
import { sectorBytes, sectorValue, type VolumeModel } from '../../../model/volume-model.js';
import type { RuleName } from '../case.js';
import { type Finding, sectorFinding } from './finding.js';

/** `what` names the read in the message: "a host read of the source". */
export function readMatchesModel(model: VolumeModel, what: string, firstSector: number, bytes: Uint8Array, sectorSize: number, rule: RuleName = 'reads-right'): Finding[] {
  for (let i = 0; i < bytes.length / sectorSize; i++) {
    const sector = firstSector + i;
    const actual = bytes.subarray(i * sectorSize, (i + 1) * sectorSize);
    if (model.holdsOnly(sector, actual)) continue;
    const value = sectorValue(actual);
    if (!model.allows(sector, value)) {
      const expected = [...model.allowed(sector)].map(sectorBytes);
      return [sectorFinding(rule, `${what} returned data the model does not allow`, sector, expected, actual)];
    }
    model.observe(sector, value);
  }
  return [];
}
