/**
 * The bytes the harness writes. Every sector it writes carries a readable label saying who wrote
 * it and for which sector (`clone#5`, `source#5`, `w7#5`: host write 7), so two writes never look
 * alike and a violation's bytes say at a glance where they came from.
 */
import type { Geometry } from '../engine/contract.js';
import { extentBytes } from '../engine/contract.js';
import type { InitialState } from './case.js';

export function labelledSector(label: string, sectorSize: number, fill: number): Uint8Array {
  const bytes = new Uint8Array(sectorSize);
  putLabelledSector(bytes, 0, label, sectorSize, fill);
  return bytes;
}

/** `labelledSector` written in place at `offset` of `bytes`: no sector allocated and copied. */
function putLabelledSector(bytes: Uint8Array, offset: number, label: string, sectorSize: number, fill: number): void {
  bytes.fill(fill & 0xff, offset, offset + sectorSize);
  for (let i = 0; i < label.length && i < sectorSize; i++) bytes[offset + i] = label.charCodeAt(i);
  if (label.length < sectorSize) bytes[offset + label.length] = 0;
}

/** The data of host write `pattern` covering `sectors` sectors from `sector`. */
export function hostWriteData(pattern: number, sector: number, sectors: number, sectorSize: number): Uint8Array {
  const data = new Uint8Array(sectors * sectorSize);
  for (let i = 0; i < sectors; i++) putLabelledSector(data, i * sectorSize, `w${pattern}#${sector + i}`, sectorSize, pattern);
  return data;
}

/** The extents that differ at the start, as a set of indices. */
export function differingExtents(initial: InitialState, extents: number): Set<number> {
  if (initial.differ === 'all') return new Set(Array.from({ length: extents }, (_, i) => i));
  if (initial.differ === 'none') return new Set();
  return new Set(initial.differ);
}

/** Source and clone images before the workload: equal but in the differing extents. */
export function initialImages(geometry: Geometry, initial: InitialState, extents: number): { source: Uint8Array; clone: Uint8Array } {
  const { volumeSize, sectorSize } = geometry;
  const clone = new Uint8Array(volumeSize);
  const source = new Uint8Array(volumeSize);
  const differ = differingExtents(initial, extents);
  const perExtent = extentBytes(geometry);
  for (let offset = 0; offset < volumeSize; offset += sectorSize) {
    const sector = offset / sectorSize;
    putLabelledSector(clone, offset, `clone#${sector}`, sectorSize, 0xc0);
    if (differ.has(Math.floor(offset / perExtent))) putLabelledSector(source, offset, `source#${sector}`, sectorSize, 0x50);
    else source.set(clone.subarray(offset, offset + sectorSize), offset);
  }
  return { source, clone };
}
