/** The profile options a device simulates at a seeded rate, or always: each changes what the engine meets. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, type DeviceProfile, parseDeviceProfile, presetProfile } from './device-profile.js';
import { type DeviceName, EioError, FaultLayer, formatTraceEntry } from './fault-layer.js';
import { MemoryDevice } from './memory-device.js';

const SS = 512;

function layer(profile: DeviceProfile, eio: { point: number; sticky: boolean }[] = [], seed = 's') {
  const backends = { source: MemoryDevice.zeroed(16 * SS), clone: MemoryDevice.zeroed(16 * SS), meta: MemoryDevice.zeroed(16 * SS) } as Record<DeviceName, MemoryDevice>;
  return { backends, layer: new FaultLayer(backends, { eio }, seed, false, undefined, profile) };
}
const sector = (fill: number) => new Uint8Array(SS).fill(fill);

describe('simulated device faults', () => {
  it('a power-loss-protected cache keeps every acknowledged write', async () => {
    for (const [profile, survives] of [[DEFAULT_PROFILE, false], [presetProfile('plp'), true]] as const) {
      const { layer: l, backends } = layer(profile);
      await l.devices.source.write(0, sector(4));
      await l.powerLoss('drop');
      expect(backends.source.bytes[0] === 4, profile.name).toBe(survives);
    }
  });

  it('a flush that fails can drop what it covered, and the next one reports success without it', async () => {
    for (const [profile, survives] of [[DEFAULT_PROFILE, true], [presetProfile('flush-error-loses-data'), false]] as const) {
      const { layer: l, backends } = layer(profile, [{ point: 1, sticky: false }]);
      await l.devices.source.write(0, sector(4));
      await expect(l.devices.source.flush()).rejects.toBeInstanceOf(EioError);
      await l.devices.source.flush();
      await l.powerLoss('drop');
      expect(backends.source.bytes[0] === 4, profile.name).toBe(survives);
      expect(l.silentFaults.map((f) => f.kind)).toEqual(survives ? [] : ['flush-lost']);
    }
  });

  it('latent errors fail reads that reach the medium, stay until rewritten, and stop once disarmed', async () => {
    const { layer: l } = layer({ ...DEFAULT_PROFILE, latentErrorRate: 1 });
    await l.devices.meta.write(0, sector(1));
    expect((await l.devices.meta.read(0, SS))[0]).toBe(1);
    await expect(l.devices.meta.read(SS, SS)).rejects.toMatchObject({ sticky: true });
    l.disarm();
    expect((await l.devices.meta.read(SS, SS))[0]).toBe(0);
    const plain = layer(DEFAULT_PROFILE).layer;
    expect((await plain.devices.meta.read(SS, SS))[0]).toBe(0);
  });

  it('a lost write is acknowledged and never made; a misdirected one lands elsewhere; both are traced and kept', async () => {
    const lost = layer({ ...DEFAULT_PROFILE, lostWriteRate: 1 });
    await lost.layer.devices.source.write(SS, sector(6));
    expect((await lost.layer.devices.source.read(SS, SS))[0]).toBe(0);
    expect(formatTraceEntry(lost.layer.trace[0]!)).toMatch(/ LOST$/);
    expect(lost.layer.silentFaults).toEqual([{ point: 0, device: 'source', kind: 'lost', damaged: [{ offset: SS, length: SS }] }]);

    const misdirected = layer({ ...DEFAULT_PROFILE, misdirectedWriteRate: 1 });
    await misdirected.layer.devices.source.write(SS, sector(6));
    await misdirected.layer.devices.source.flush();
    const landed = misdirected.layer.trace[0]!.landed!;
    expect(landed).not.toBe(SS);
    expect(misdirected.backends.source.bytes[landed]).toBe(6);
    expect(misdirected.backends.source.bytes[SS]).toBe(0);
    expect(formatTraceEntry(misdirected.layer.trace[0]!)).toMatch(new RegExp(` MISDIRECTED to ${landed}$`));
  });

  it('the faults are drawn per I/O point from the seed: the same seed, the same faults', async () => {
    const faults = async (seed: string) => {
      const { layer: l } = layer({ ...DEFAULT_PROFILE, lostWriteRate: 0.5 }, [], seed);
      for (let i = 0; i < 16; i++) await l.devices.source.write(i * SS, sector(i + 1));
      return l.silentFaults.map((f) => f.point);
    };
    expect(await faults('a')).toEqual(await faults('a'));
    expect(await faults('a')).not.toEqual(await faults('b'));
  });

  it('a profile names a bad option by its field', () => {
    expect(() => parseDeviceProfile({ cache: 'battery' }, 'p')).toThrow(/^p: cache: "battery"/);
    expect(() => parseDeviceProfile({ failedFlush: 'lies' }, 'p')).toThrow(/^p: failedFlush: "lies"/);
    expect(() => parseDeviceProfile({ lostWriteRate: 2 }, 'p')).toThrow(/^p: lostWriteRate: 2 must be a number from 0 to 1/);
    expect(() => parseDeviceProfile({ latentErrorRate: '1%' }, 'p')).toThrow(/^p: latentErrorRate: "1%"/);
  });
});
