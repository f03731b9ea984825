/**
 * Device profiles: how a simulated device behaves, every option in this one file.
 *
 * A profile is a JSON object (schema: scenarios/device-profile.schema.json) with these fields, each
 * optional, each defaulting to the behaviour of the fault layer without a profile. Every choice an
 * option makes is drawn from the case's seed, per I/O point, so a case replays exactly (and a crash
 * state exhaust derives from a recorded run matches the live one):
 *
 * - `name`: how reports name it.
 * - `atomicWriteBytes`: the unit a write in the cache tears at when power is lost (`torn`): 512
 *   (default) tears between any two sectors; 4096 keeps each aligned 4 KiB of a write whole, as a
 *   4 KiB-atomic NVMe drive does. A multiple of the sector size.
 * - `fua`: `"honoured"` (default) or `"ignored"`: a drive that ignores FUA caches a FUA write like
 *   any other, so only a flush makes it durable.
 * - `inFlight`: `true` completes the operations in flight in an order the device chooses
 *   (docs/fault-model.md, "Operations in flight together"); default false, issue order.
 * - `cache`: `"volatile"` (default) or `"power-loss-protected"`: a drive whose cache survives power
 *   loss (capacitors) makes every write durable when it is acknowledged; only a write still in
 *   flight at the crash may be lost or torn.
 * - `failedFlush`: `"retains"` (default: a failed flush leaves the cache for a later flush) or
 *   `"loses-data"` (the fsync-error class): a flush that fails drops the writes it covered, so a
 *   later flush reports success with them lost. The oracle is unchanged: a host flush the engine
 *   reports successful makes the host's writes durable in the model, so an engine must not report
 *   success for data a failed flush dropped. It may instead refuse: an error the engine returns
 *   after such a flush failure is accepted.
 * - `latentErrorRate`: from 0 (default) to 1: each read not served wholly from the cache fails at
 *   this rate with a medium error (sticky: the range keeps failing reads until rewritten), as a
 *   sector that went bad on the medium does, during recovery too. Judged as any injected I/O
 *   error: the engine reports it, corrupts nothing and stays resumable.
 * - `lostWriteRate`, `misdirectedWriteRate`: from 0 (default) to 1: each write is acknowledged and
 *   then, at this rate, never written (lost), or written at another sector-aligned offset of the
 *   same device (misdirected). No engine keeps every rule then: without checksums over the data it
 *   cannot tell. The harness checks "never silently wrong": the clone and the engine's own
 *   requests (rules 1 and 5) are judged as ever; a finding about a sector (or an extent holding a
 *   sector) the device damaged is excused, and the case ends there; an error the engine returns
 *   after a silent fault is a refusal, accepted; any other finding is a violation.
 *
 * The presets are real classes of device; docs/fault-model.md says which rules an engine can keep
 * on each.
 */
import { InputError, knownOptions } from '../errors.js';

export interface DeviceProfile {
  readonly name: string;
  readonly atomicWriteBytes: number;
  readonly fua: 'honoured' | 'ignored';
  readonly inFlight: boolean;
  readonly cache?: 'volatile' | 'power-loss-protected';
  readonly failedFlush?: 'retains' | 'loses-data';
  readonly latentErrorRate?: number;
  readonly lostWriteRate?: number;
  readonly misdirectedWriteRate?: number;
}

export const DEFAULT_PROFILE: DeviceProfile = { name: 'default', atomicWriteBytes: 512, fua: 'honoured', inFlight: false };

/** Named presets: each a real class of device. */
export const PRESETS: Readonly<Record<string, DeviceProfile>> = {
  /** A SATA/SAS drive with a volatile write cache, honouring flush and FUA, one request at a time. */
  'volatile-cache': { ...DEFAULT_PROFILE, name: 'volatile-cache' },
  /** An enterprise drive with power-loss protection: what it acknowledged survives a power loss. */
  plp: { ...DEFAULT_PROFILE, name: 'plp', cache: 'power-loss-protected' },
  /** An NVMe drive writing 4 KiB atomically, with a deep queue completing out of order. */
  'nvme-4k-atomic': { ...DEFAULT_PROFILE, name: 'nvme-4k-atomic', atomicWriteBytes: 4096, inFlight: true },
  /** A consumer drive (or a virtual disk with cache=unsafe) that acknowledges FUA writes from its cache. */
  'ignores-fua': { ...DEFAULT_PROFILE, name: 'ignores-fua', fua: 'ignored' },
  /** A stack that drops what a failed flush covered and reports the next flush successful (Linux writeback errors). */
  'flush-error-loses-data': { ...DEFAULT_PROFILE, name: 'flush-error-loses-data', failedFlush: 'loses-data' },
  /** An ageing disk: sectors already written go bad and fail reads. */
  'latent-errors': { ...DEFAULT_PROFILE, name: 'latent-errors', latentErrorRate: 0.02 },
  /** Firmware that acknowledges a write it never makes, or makes at the wrong sector. */
  'lost-writes': { ...DEFAULT_PROFILE, name: 'lost-writes', lostWriteRate: 0.02, misdirectedWriteRate: 0.01 },
};

const FIELDS = ['$schema', 'name', 'atomicWriteBytes', 'fua', 'inFlight', 'cache', 'failedFlush', 'latentErrorRate', 'lostWriteRate', 'misdirectedWriteRate'];
const RATES = ['latentErrorRate', 'lostWriteRate', 'misdirectedWriteRate'] as const;

/** A profile from outside (a file's JSON), checked field by field: bad input names the field. */
export function parseDeviceProfile(data: unknown, where: string): DeviceProfile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InputError(`${where}: a device profile must be a JSON object`);
  const p = data as Record<string, unknown>;
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
  const cache = p.cache ?? 'volatile';
  if (cache !== 'volatile' && cache !== 'power-loss-protected') throw new InputError(`${where}: cache: ${JSON.stringify(cache)} must be "volatile" or "power-loss-protected"`);
  const failedFlush = p.failedFlush ?? 'retains';
  if (failedFlush !== 'retains' && failedFlush !== 'loses-data') throw new InputError(`${where}: failedFlush: ${JSON.stringify(failedFlush)} must be "retains" or "loses-data"`);
  const rates: Partial<Record<(typeof RATES)[number], number>> = {};
  for (const field of RATES) {
    const rate = p[field] ?? 0;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new InputError(`${where}: ${field}: ${JSON.stringify(rate)} must be a number from 0 to 1`);
    if (rate > 0) rates[field] = rate;
  }
  // Options left at their default are left out, so a profile reads (and a replay line encodes) as it was written.
  return { name, atomicWriteBytes: unit, fua, inFlight, ...(cache === 'volatile' ? {} : { cache }), ...(failedFlush === 'retains' ? {} : { failedFlush }), ...rates };
}

/** Whether a write is on the medium once acknowledged: FUA on a drive that honours it, any write behind a protected cache. */
export function durableWhenAcknowledged(profile: DeviceProfile, fua: boolean): boolean {
  return profile.cache === 'power-loss-protected' || (fua && profile.fua === 'honoured');
}

/** Whether the profile lets a device damage data silently (lost or misdirected writes). */
export function silentlyDamages(profile: DeviceProfile): boolean {
  return (profile.lostWriteRate ?? 0) > 0 || (profile.misdirectedWriteRate ?? 0) > 0;
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
