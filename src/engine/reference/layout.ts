/**
 * The metadata device, sector by sector:
 *
 *   sector 0, 1    superblock slots; a commit writes generation g to slot g % 2
 *   D sectors      the clone delta map, one bit per extent, each sector checksummed (bitmap.ts)
 *   P sectors      the protected restore map, the same way
 *
 * Why two slots: a commit overwrites the slot that does NOT hold the current superblock, so a
 * crash during the commit leaves the previous superblock whole in the other slot. The sector is
 * the atomic unit of the disk, so the slot being written ends up entirely old or entirely new; the
 * checksum still guards against anything else (a sector from another tool, bit rot): the highest
 * generation with a valid checksum wins.
 */
import type { Geometry } from '../contract.js';
import { MetadataError } from '../contract.js';
import { Bitmap } from './bitmap.js';
import { crc32 } from './crc32.js';

export const MAGIC = 'PRSTORE1';
/** 2: map sectors carry a checksum (version 1 had bare bits, which bitmap.ts now refuses). */
export const VERSION = 2;
export const SLOTS = 2;

export type EngineState = 'fractured' | 'restoring';

export interface Superblock {
  readonly state: EngineState;
  readonly protect: boolean;
  readonly generation: number;
  readonly geometry: Geometry;
}

/** Where each structure lives on the metadata device, in sectors. */
export interface Layout {
  readonly sectorSize: number;
  readonly extents: number;
  readonly mapSectors: number;
  readonly deltaSector: number;
  readonly protectedSector: number;
  readonly totalSectors: number;
}

export function layoutOf(geometry: Geometry, extents: number): Layout {
  const mapSectors = Bitmap.sectors(extents, geometry.sectorSize);
  return { sectorSize: geometry.sectorSize, extents, mapSectors, deltaSector: SLOTS, protectedSector: SLOTS + mapSectors, totalSectors: SLOTS + 2 * mapSectors };
}

const CHECKSUMMED = 44;

export function encodeSuperblock(sb: Superblock, sectorSize: number): Uint8Array {
  const bytes = new Uint8Array(sectorSize);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, sb.geometry.sectorSize, true);
  view.setBigUint64(16, BigInt(sb.geometry.volumeSize), true);
  view.setUint32(24, sb.geometry.extentSectors, true);
  view.setUint8(28, sb.state === 'restoring' ? 1 : 0);
  view.setUint8(29, sb.protect ? 1 : 0);
  view.setBigUint64(32, BigInt(sb.generation), true);
  view.setUint32(CHECKSUMMED, crc32(bytes.subarray(0, CHECKSUMMED)), true);
  return bytes;
}

/** The superblock in one slot, or why that slot cannot be trusted. */
export function decodeSuperblock(bytes: Uint8Array): Superblock | string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.every((b) => b === 0)) return 'empty';
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return 'bad magic';
  if (view.getUint32(CHECKSUMMED, true) !== crc32(bytes.subarray(0, CHECKSUMMED))) return 'bad checksum';
  const version = view.getUint32(8, true);
  if (version !== VERSION) return `unsupported version ${version}`;
  const state = view.getUint8(28);
  if (state > 1) return `unknown state ${state}`;
  return {
    state: state === 1 ? 'restoring' : 'fractured',
    protect: view.getUint8(29) === 1,
    generation: Number(view.getBigUint64(32, true)),
    geometry: { sectorSize: view.getUint32(12, true), volumeSize: Number(view.getBigUint64(16, true)), extentSectors: view.getUint32(24, true) },
  };
}

/** The newest trustworthy superblock of the two slots; refuses if neither is, naming why. */
export function newestSuperblock(slots: readonly Uint8Array[]): Superblock {
  const decoded = slots.map(decodeSuperblock);
  const valid = decoded.filter((s): s is Superblock => typeof s !== 'string');
  if (valid.length === 0) {
    throw new MetadataError(`no valid superblock on the metadata device: ${decoded.map((why, i) => `slot ${i}: ${String(why)}`).join('; ')}`);
  }
  return valid.reduce((a, b) => (b.generation > a.generation ? b : a));
}

/** Refuses metadata written for another geometry than the devices have. */
export function checkSameGeometry(recorded: Geometry, actual: Geometry): void {
  for (const field of ['sectorSize', 'volumeSize', 'extentSectors'] as const) {
    if (recorded[field] !== actual[field]) {
      throw new MetadataError(`metadata was written for geometry.${field} ${recorded[field]}, but the devices have ${actual[field]}`);
    }
  }
}
