/**
 * Device profiles: how a simulated device behaves, every option in this one file.
 *
 * A profile is a JSON object (schema: scenarios/device-profile.schema.json) with these fields, each
 * optional, each defaulting to the behaviour of the fault layer without a profile:
 *
 * - `name`: how reports name it.
 * - `atomicWriteBytes`: the unit a write in the cache tears at when power is lost (`torn`): 512
 *   (default) tears between any two sectors; 4096 keeps each aligned 4 KiB of a write whole, as a
 *   4 KiB-atomic NVMe drive does. A multiple of the sector size.
 * - `fua`: `"honoured"` (default) or `"ignored"`: a drive that ignores FUA caches a FUA write like
 *   any other, so only a flush makes it durable.
 * - `inFlight`: `true` completes the operations in flight in an order the device chooses
 *   (docs/fault-model.md, "Operations in flight together"); default false, issue order.
 *
 * The presets are real classes of device; docs/fault-model.md says which rules an engine can keep
 * on each. Not simulated yet (issue #18): a power-loss-protected cache, a flush that fails and later reports success with data
 * lost, latent sector errors on durable data, lost and misdirected writes. A profile naming them is
 * refused, never silently run without them.
 */
import { InputError, knownOptions } from '../errors.js';

export interface DeviceProfile {
  readonly name: string;
  readonly atomicWriteBytes: number;
  readonly fua: 'honoured' | 'ignored';
  readonly inFlight: boolean;
}

export const DEFAULT_PROFILE: DeviceProfile = { name: 'default', atomicWriteBytes: 512, fua: 'honoured', inFlight: false };

/** Named presets: each a real class of device. */
export const PRESETS: Readonly<Record<string, DeviceProfile>> = {
  /** A SATA/SAS drive with a volatile write cache, honouring flush and FUA, one request at a time. */
  'volatile-cache': { ...DEFAULT_PROFILE, name: 'volatile-cache' },
  /** An NVMe drive writing 4 KiB atomically, with a deep queue completing out of order. */
  'nvme-4k-atomic': { ...DEFAULT_PROFILE, name: 'nvme-4k-atomic', atomicWriteBytes: 4096, inFlight: true },
  /** A consumer drive (or a virtual disk with cache=unsafe) that acknowledges FUA writes from its cache. */
  'ignores-fua': { ...DEFAULT_PROFILE, name: 'ignores-fua', fua: 'ignored' },
};

const FIELDS = ['$schema', 'name', 'atomicWriteBytes', 'fua', 'inFlight'];
const NOT_SIMULATED = ['flushMayLie', 'latentErrors', 'lostWrites', 'misdirectedWrites'];

/** A profile from outside (a file's JSON), checked field by field: bad input names the field. */
export function parseDeviceProfile(data: unknown, where: string): DeviceProfile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InputError(`${where}: a device profile must be a JSON object`);
  const p = data as Record<string, unknown>;
  for (const field of NOT_SIMULATED) {
    if (field in p) throw new InputError(`${where}: ${field}: not simulated yet; remove it (docs/fault-model.md lists what a profile can say)`);
  }
  knownOptions(where, p, FIELDS);
  const name = p.name ?? 'custom';
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) throw new InputError(`${where}: name: ${JSON.stringify(name)} must be lower-case letters, digits and dashes`);
  const unit = p.atomicWriteBytes ?? DEFAULT_PROFILE.atomicWriteBytes;
  if (typeof unit !== 'number' || !Number.isSafeInteger(unit) || unit < 512 || unit > 1 << 20 || unit % 512 !== 0) {
    throw new InputError(`${where}: atomicWriteBytes: ${JSON.stringify(unit)} must be a multiple of 512 from 512 to 1048576`);
  }
  const fua = p.fua ?? DEFAULT_PROFILE.fua;
  if (fua !== 'honoured' && fua !== 'ignored') throw new InputError(`${where}: fua: ${JSON.stringify(fua)} must be "honoured" or "ignored"`);
  const inFlight = p.inFlight ?? DEFAULT_PROFILE.inFlight;
  if (typeof inFlight !== 'boolean') throw new InputError(`${where}: inFlight: ${JSON.stringify(inFlight)} must be true or false`);
  return { name, atomicWriteBytes: unit, fua, inFlight };
}

/** A preset by name, or why not (naming the presets there are). */
export function presetProfile(name: string): DeviceProfile {
  const preset = PRESETS[name];
  if (preset === undefined) throw new InputError(`no device profile preset named ${name}; the presets are ${Object.keys(PRESETS).join(', ')}`);
  return preset;
}

/** A preset's name or a profile's JSON, as a scenario file's field holds it; `where` names the field. */
export function profileByNameOrValue(value: unknown, where: string): DeviceProfile {
  if (typeof value !== 'string') return parseDeviceProfile(value, where);
  try {
    return presetProfile(value);
  } catch (e) {
    throw new InputError(`${where}: ${(e as Error).message}`);
  }
}

/**
 * The sectors of a write of `sectors` sectors that tear together: groups of whole atomic units,
 * aligned on the device (`firstSector` is where the write starts).
 */
export function tearUnits(firstSector: number, sectors: number, sectorSize: number, atomicWriteBytes: number): number[][] {
  const perUnit = Math.max(1, atomicWriteBytes / sectorSize);
  const units: number[][] = [];
  for (let s = 0; s < sectors; s++) {
    const unit = Math.floor((firstSector + s) / perUnit);
    const last = units[units.length - 1];
    if (last !== undefined && Math.floor((firstSector + last[0]!) / perUnit) === unit) last.push(s);
    else units.push([s]);
  }
  return units;
}
