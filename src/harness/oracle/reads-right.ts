/**
 * Rule 2, reads are right: every host read returns what the model allows. A read also fixes, in
 * the model, which of several allowed values a sector holds after a crash. Rule 7 judges the reads
 * after a crash inside `startRestore` with the same check, under its own name.
 *
 * A read issued alongside writes (a workload's `alongside` operations) may see, in each sector,
 * what the model allows before them or what any one of those writes puts there: nothing orders
 * them. A value from such a write fixes nothing in the model (the write's own outcome does).
 */
import { sectorBytes, type SectorValue, sectorValue, type VolumeModel } from '../../../model/volume-model.js';
import type { RuleName } from '../case.js';
import { type Finding, sectorFinding } from './finding.js';

/** The values writes issued alongside a read may put in a sector (none: undefined). */
export type AlongsideValues = (sector: number) => ReadonlySet<SectorValue> | undefined;

/** `what` names the read in the message: "a host read of the source". */
export function readMatchesModel(model: VolumeModel, what: string, firstSector: number, bytes: Uint8Array, sectorSize: number, rule: RuleName = 'reads-right', alongside?: AlongsideValues): Finding[] {
  for (let i = 0; i < bytes.length / sectorSize; i++) {
    const sector = firstSector + i;
    const actual = bytes.subarray(i * sectorSize, (i + 1) * sectorSize);
    if (model.holdsOnly(sector, actual)) continue;
    const value = sectorValue(actual);
    if (model.allows(sector, value)) {
      model.observe(sector, value);
      continue;
    }
    const concurrent = alongside?.(sector);
    if (concurrent?.has(value)) continue;
    const expected = [...model.allowed(sector), ...(concurrent ?? [])].map(sectorBytes);
    return [sectorFinding(rule, `${what} returned data the model does not allow`, sector, expected, actual)];
  }
  return [];
}
