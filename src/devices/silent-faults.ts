/**
 * The device faults a profile makes at a seeded rate (./device-profile.ts): which reads hit a
 * latent sector error, which writes are lost or land at the wrong offset. Each is decided from the
 * seed and the I/O point alone, never from a generator's running state, so a run resumed from a
 * recorded prefix (exhaust) meets the same faults as the run that recorded it.
 */
import type { DeviceProfile } from './device-profile.js';
import { seededRng } from './rng.js';

/** A write the device acknowledged and did not make where it was asked to: lost, or landed elsewhere. */
export interface SilentWriteFault {
  readonly lost?: true;
  /** The offset the data landed at instead (misdirected). */
  readonly landed?: number;
}

function draw(seed: string, kind: string, point: number) {
  return seededRng(`${seed}/${kind}/${point}`);
}

/** Whether the read at `point` hits a latent sector error. */
export function latentError(profile: DeviceProfile, seed: string, point: number): boolean {
  const rate = profile.latentErrorRate ?? 0;
  return rate > 0 && draw(seed, 'latent', point).next() < rate;
}

/** What the device does wrong with the write at `point`, if anything. */
export function silentWriteFault(profile: DeviceProfile, seed: string, point: number, offset: number, length: number, deviceSize: number, sectorSize: number): SilentWriteFault | undefined {
  const lost = profile.lostWriteRate ?? 0;
  const misdirected = profile.misdirectedWriteRate ?? 0;
  if (lost === 0 && misdirected === 0) return undefined;
  const rng = draw(seed, 'write', point);
  const x = rng.next();
  if (x < lost) return { lost: true };
  if (x >= lost + misdirected) return undefined;
  // Any other whole-sector place the write fits in; none (it fills the device): it is lost.
  const places = (deviceSize - length) / sectorSize;
  if (places < 1) return { lost: true };
  const k = rng.below(places);
  const at = k * sectorSize >= offset ? (k + 1) * sectorSize : k * sectorSize;
  return { landed: at };
}
