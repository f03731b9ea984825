/**
 * A device profile chosen for a run reaches every crash state: the ones exhaust derives from its
 * recorded run as well as the ones it runs live, and the replay line carries it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILE, presetProfile } from '../devices/device-profile.js';
import { type CachedWrite, type DeviceName, enumerateCrashStates, FaultLayer } from '../devices/fault-layer.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { seededRng } from '../devices/rng.js';
import type { EngineFactory, RestoreEngine } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import type { Case } from './case.js';
import { deviceExcuse } from './checker/device-excuse.js';
import { Stop } from './checker/checker.js';
import { runCase } from './run-case.js';
import { exhaust } from './exhaust.js';
import { decodeCase } from './replay-line.js';
import { bundledScenariosDir, loadScenario, parseScenario } from './scenario-file.js';

const SS = 512;

describe('device profiles in exhaust', () => {
  it('a drive that ignores FUA: derived crash states find what live runs find, and lines carry the profile', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'protected-restore.json'), 'protected-restore');
    const profile = presetProfile('ignores-fua');
    const plain = await exhaust(referenceEngine, scenario, { seed: 'p', crashShrinkAttempts: 0 });
    const resumed = await exhaust(referenceEngine, scenario, { seed: 'p', profile, crashShrinkAttempts: 0 });
    const rerun = await exhaust(referenceEngine, scenario, { seed: 'p', profile, crashShrinkAttempts: 0, rerunPrefix: true });
    expect(plain.violations).toHaveLength(0);
    // The reference engine's superblock commit rests on FUA alone: a drive that drops it loses the start.
    expect(resumed.violationsByRule['atomic-start']).toBeGreaterThan(0);
    expect(JSON.stringify(resumed)).toBe(JSON.stringify(rerun));
    for (const v of resumed.violations) expect(decodeCase(v.replay.split(' ').pop()!).case.profile).toEqual(profile);
  });

  it('a 4 KiB-atomic drive: exhaust enumerates its crash states in whole units', () => {
    const write: CachedWrite = { device: 'source', point: 3, offset: 0, data: new Uint8Array(16 * SS), fua: false, inFlight: false };
    const sectors = enumerateCrashStates([write], 'torn', SS, seededRng('e'));
    const units = enumerateCrashStates([write], 'torn', SS, seededRng('e'), undefined, 4096);
    expect(sectors).toMatchObject({ exhaustive: false, possible: 2 ** 16 });
    expect(units).toMatchObject({ exhaustive: true, possible: 4 });
    expect(units.choices.map((c) => c.survivors.flatMap((s) => s.sectors ?? []).length).sort((a, b) => a - b)).toEqual([0, 8, 8, 16]);
  });

  it('a scenario names its profile by preset or inline, and a bad one by its field', () => {
    const text = (deviceProfile: unknown) =>
      JSON.stringify({ name: 's', description: 'd', geometry: { volumeSize: 4096, extentSectors: 2 }, initial: { differ: 'all' }, workload: [{ op: 'step' }], deviceProfile });
    expect(parseScenario(text('ignores-fua'), 's.json').profile).toBe(presetProfile('ignores-fua'));
    expect(parseScenario(text({ atomicWriteBytes: 4096 }), 's.json').profile).toMatchObject({ name: 'custom', atomicWriteBytes: 4096 });
    expect(() => parseScenario(text('floppy'), 's.json')).toThrow(/^s\.json: deviceProfile: no device profile preset named floppy/);
    expect(() => parseScenario(text({ fua: 'never' }), 's.json')).toThrow(/^s\.json: deviceProfile: fua: "never"/);
    expect(() => parseScenario(text(7), 's.json')).toThrow(/deviceProfile/);
  });
});

/** A host write, two flushes (the first fails), a power loss dropping the cache, and a read. */
const flushFails: Case = {
  geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [0], delta: 'exact' },
  workload: [
    { op: 'write', volume: 'source', sector: 0, sectors: 1, pattern: 7 },
    { op: 'flush', volume: 'source' },
    { op: 'flush', volume: 'source' },
    { op: 'powerLoss', mode: 'drop' },
    { op: 'read', volume: 'source', sector: 0, sectors: 1 },
  ],
  crashes: [],
  // I/O point 4 is the first source flush (the open reads 0..2, the write is 3).
  eio: [{ point: 4, sticky: false }],
};

/** The reference engine, but a failed source flush makes every later one fail too: it refuses. */
const refusing: EngineFactory = {
  name: 'refusing',
  metadataSize: (g) => referenceEngine.metadataSize(g),
  format: (d, g, delta) => referenceEngine.format(d, g, delta),
  async open(devices, geometry) {
    const engine = await referenceEngine.open(devices, geometry);
    let failed = false;
    return new Proxy(engine, {
      get(target, key) {
        if (key === 'flushSource') {
          return async () => {
            if (failed) throw new Error('an earlier source flush failed: what it covered may be lost');
            try {
              await target.flushSource();
            } catch (e) {
              failed = true;
              throw e;
            }
          };
        }
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as RestoreEngine;
  },
};

describe('the oracle on devices that fail silently', () => {
  it('a flush that drops data: reporting the next flush successful is caught; refusing is accepted, and only there', async () => {
    const on = (profile: string) => ({ ...flushFails, profile: presetProfile(profile) });
    const rules = async (engine: EngineFactory, c: Case) => (await runCase(engine, c, { seed: 'f' })).violations.map((v) => v.rule);
    expect(await rules(referenceEngine, on('volatile-cache'))).toEqual([]);
    expect(await rules(referenceEngine, on('flush-error-loses-data'))).toEqual(['reads-right']);
    expect(await rules(refusing, on('flush-error-loses-data'))).toEqual([]);
    // On a device whose failed flush loses nothing, the same refusal is an engine failing for nothing.
    expect(await rules(refusing, on('volatile-cache'))).toEqual(['reads-right']);
  });

  it('a finding on a sector a lost write damaged is excused; elsewhere, or on a clean device, it is not', async () => {
    const c: Case = { ...flushFails, eio: [], profile: { ...DEFAULT_PROFILE, name: 'all-lost', lostWriteRate: 1 } };
    const run = await runCase(referenceEngine, c, { seed: 'l', transcript: true });
    expect(run.violations).toEqual([]);
    expect(run.transcript.filter((l) => l.startsWith('EXCUSED'))).toEqual([expect.stringMatching(/sector 0 .*the device damaged it \(source write lost at I\/O point 3\)/)]);

    const backends = { source: MemoryDevice.zeroed(8 * 512), clone: MemoryDevice.zeroed(8 * 512), meta: MemoryDevice.zeroed(8 * 512) } as Record<DeviceName, MemoryDevice>;
    const layer = new FaultLayer(backends, {}, 's', false, undefined, c.profile);
    const stop = (sector: number) => new Stop({ rule: 'reads-right', message: 'wrong', sector });
    expect(deviceExcuse(stop(0), layer, c.geometry)).toBeUndefined();
    await layer.devices.source.write(0, new Uint8Array(512));
    expect(deviceExcuse(stop(0), layer, c.geometry)).toMatch(/excused/);
    expect(deviceExcuse(stop(5), layer, c.geometry)).toBeUndefined();
    expect(deviceExcuse(new Stop({ rule: 'clone-preserved', message: 'written', sector: 0 }), layer, c.geometry)).toBeUndefined();
    expect(deviceExcuse(new Stop({ rule: 'progress', message: 'open failed' }, true), layer, c.geometry)).toMatch(/refused/);
  });
});
