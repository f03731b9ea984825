/**
 * What the oracle forgives when the device itself misbehaved silently (./../../devices/device-profile.ts):
 * no engine keeps every rule on a device that loses or misdirects writes, or forgets what a failed
 * flush covered. The check becomes "never silently wrong":
 *
 * - an error the engine returns after such a fault is a refusal, and accepted;
 * - a finding about a sector the device damaged (a lost write's, or a misdirected write's own
 *   range and where it landed), or about an extent holding one, is the device's doing;
 * - rules 1 (clone preserved) and 5 (only differing extents copied) judge what the engine asked
 *   for, which no device fault changes: never excused; nor is anything else.
 *
 * Without a silent fault in the case nothing is excused, so a default device's verdicts are unchanged.
 */
import type { FaultLayer, SilentFault } from '../../devices/fault-layer.js';
import type { Geometry } from '../../engine/contract.js';
import type { Stop } from './checker.js';

/** Why the device, not the engine, answers for `stop`; undefined when the engine does. */
export function deviceExcuse(stop: Stop, layer: FaultLayer, geometry: Geometry): string | undefined {
  const faults = layer.silentFaults;
  if (faults.length === 0) return undefined;
  if (stop.engineError) return `the engine refused (${stop.finding.message}) after ${described(faults)}: accepted on this device`;
  const { rule, sector, extent } = stop.finding;
  if (rule === 'clone-preserved' || rule === 'only-differing-copied') return undefined;
  const sectors = sector !== undefined ? [sector] : extent !== undefined ? Array.from({ length: geometry.extentSectors }, (_, i) => extent * geometry.extentSectors + i) : [];
  const culprit = faults.find((f) => f.device !== 'meta' && sectors.some((s) => f.damaged.some((d) => d.offset <= s * geometry.sectorSize && s * geometry.sectorSize < d.offset + d.length)));
  return culprit === undefined ? undefined : `${stop.finding.message}: the device damaged it (${described([culprit])}): excused on this device`;
}

function described(faults: readonly SilentFault[]): string {
  return faults.map((f) => `${f.device} ${f.kind === 'flush-lost' ? 'flush failed and dropped its writes' : `write ${f.kind}`} at I/O point ${f.point}`).join(', ');
}
