/** Device profiles: checked field by field, and each option changes what a crash leaves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { bundledScenariosDir } from '../harness/package-root.js';
import { DEFAULT_PROFILE, parseDeviceProfile, PRESETS, presetProfile, tearUnits } from './device-profile.js';
import { type DeviceName, FaultLayer } from './fault-layer.js';
import { MemoryDevice } from './memory-device.js';

const SS = 512;

function layer(profile = DEFAULT_PROFILE, seed = 's') {
  const backends = { source: MemoryDevice.zeroed(16 * SS), clone: MemoryDevice.zeroed(16 * SS), meta: MemoryDevice.zeroed(16 * SS) } as Record<DeviceName, MemoryDevice>;
  return { backends, layer: new FaultLayer(backends, {}, seed, false, undefined, profile) };
}

describe('device profiles', () => {
  it('refuse a malformed profile, naming the field', () => {
    const error = (data: unknown) => {
      try {
        parseDeviceProfile(data, 'p.json');
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(error([])).toBe('p.json: a device profile must be a JSON object');
    expect(error({ atomicWriteBytes: 1000 })).toMatch(/^p\.json: atomicWriteBytes: 1000 must be a multiple of 512/);
    expect(error({ fua: 'sometimes' })).toMatch(/^p\.json: fua: "sometimes"/);
    expect(error({ inFlight: 'yes' })).toMatch(/^p\.json: inFlight: "yes"/);
    expect(error({ lostWrites: 0.01 })).toMatch(/unknown option lostWrites/);
    expect(error({ atomic: 4096 })).toMatch(/unknown option atomic/);
    expect(parseDeviceProfile({ name: 'nvme', atomicWriteBytes: 4096 }, 'p.json')).toEqual({ name: 'nvme', atomicWriteBytes: 4096, fua: 'honoured', inFlight: false });
  });

  it('presets are profiles the schema accepts, found by name', () => {
    const schema = JSON.parse(readFileSync(join(bundledScenariosDir(), 'device-profile.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
    for (const [name, preset] of Object.entries(PRESETS)) {
      expect(presetProfile(name)).toBe(preset);
      expect(Object.keys(preset).every((k) => k in schema.properties)).toBe(true);
      expect(parseDeviceProfile(preset, name)).toEqual(preset);
    }
    expect(() => presetProfile('floppy')).toThrow(/no device profile preset named floppy; the presets are volatile-cache, /);
  });

  it('a drive that ignores FUA loses an acknowledged FUA write at a power loss', async () => {
    for (const [profile, survives] of [[DEFAULT_PROFILE, true], [presetProfile('ignores-fua'), false]] as const) {
      const { layer: l, backends } = layer(profile);
      await l.devices.meta.write(0, new Uint8Array(SS).fill(5), { fua: true });
      await l.powerLoss('drop');
      expect(backends.meta.bytes[0] === 5).toBe(survives);
    }
  });

  it('a 4 KiB-atomic drive tears a write only between aligned 4 KiB units', async () => {
    expect(tearUnits(6, 4, SS, 4096)).toEqual([[0, 1], [2, 3]]);
    expect(tearUnits(0, 3, SS, SS)).toEqual([[0], [1], [2]]);
    const torn = (profile = DEFAULT_PROFILE) => {
      const split = new Set<boolean>();
      return (async () => {
        for (let i = 0; i < 24; i++) {
          const { layer: l, backends } = layer(profile, `t${i}`);
          await l.devices.source.write(0, new Uint8Array(16 * SS).fill(9));
          await l.powerLoss('torn');
          for (const unit of [0, 1]) {
            const sectors = Array.from({ length: 8 }, (_, s) => backends.source.bytes[(unit * 8 + s) * SS] === 9);
            split.add(sectors.some((x) => x) && sectors.some((x) => !x));
          }
        }
        return split.has(true);
      })();
    };
    expect(await torn()).toBe(true);
    expect(await torn(presetProfile('nvme-4k-atomic'))).toBe(false);
  });
});
