import type { RuleName } from './rules.js';

/** What a rule found, before the checker adds the trace and the replay line. */
export interface Finding {
  readonly rule: RuleName;
  readonly message: string;
  readonly sector?: number;
  readonly extent?: number;
  readonly expected?: string;
  readonly actual?: string;
}

/** The first sector where two images of one volume differ, or -1. */
export function firstDifferingSector(a: Uint8Array, b: Uint8Array, sectorSize: number): number {
  // Equal images are the rule: one native comparison settles them, the loop finds where they part.
  if (a.length === b.length && Buffer.compare(a, b) === 0) return -1;
  for (let offset = 0; offset < a.length; offset += sectorSize) {
    for (let i = offset; i < offset + sectorSize; i++) if (a[i] !== b[i]) return offset / sectorSize;
  }
  return -1;
}

/** A finding about one sector whose bytes are not the ones expected. */
export function sectorFinding(rule: RuleName, message: string, sector: number, expected: readonly Uint8Array[], actual: Uint8Array): Finding {
  return {
    rule,
    message: `${message}: sector ${sector} holds ${describeBytes(actual)}, expected ${expected.map(describeBytes).join(' or ')}`,
    sector,
    expected: expected.map(describeBytes).join('|'),
    actual: describeBytes(actual),
  };
}

/** Bytes for a report: the label when the sector carries one, else short hex. */
export function describeBytes(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  const label = end > 0 ? String.fromCharCode(...bytes.subarray(0, end)) : '';
  if (/^[\w#]+$/.test(label)) return label;
  return shortHex(bytes);
}

export function shortHex(bytes: Uint8Array, max = 12): string {
  const hex = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join('');
  return bytes.length > max ? `${hex}…` : hex;
}
