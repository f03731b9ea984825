/**
 * The reference engine's input, generated: the tuning options a vendor or a scenario passes, and
 * the devices it is opened on. Whatever the input, the engine takes exactly what
 * docs/contract.md documents and refuses the rest with an error naming what is wrong, before it
 * reads or writes a device. The expected bounds are written here from the documentation, not
 * imported from the engine, so that the engine's own table is under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Geometry } from '../src/engine/contract.js';
import { MemoryDevice } from '../src/devices/memory-device.js';
import { InputError, MetadataError } from '../src/errors.js';
import { numericSeed } from '../src/harness/explore.js';
import { RUNS, SEED } from './settings.js';

const WHOLE: Readonly<Record<string, readonly [number, number]>> = {
  copyBatch: [1, 2 ** 31 - 1],
  maxIoBytes: [512, 2 ** 30],
  queueDepth: [1, 1024],
  concurrentHost: [0, 1],
};
const SWITCHES = ['deferProtection'];

type Drawn = { readonly value: unknown; readonly valid: boolean };

/** What the error must say of a wrong option: its name and what it should have been. */
function explains(message: string, name: string): boolean {
  if (!message.includes(name)) return false;
  const bounds = WHOLE[name];
  if (bounds !== undefined) return message.includes(`options.${name}`) && message.includes(`must be a whole number from ${bounds[0]} to ${bounds[1]}`);
  if (SWITCHES.includes(name)) return message.includes(`options.${name}`) && message.includes('must be true or false');
  return /unknown options? /.test(message) && Object.keys(WHOLE).concat(SWITCHES).every((known) => message.includes(known));
}

const wholeValue = ([min, max]: readonly [number, number]): fc.Arbitrary<Drawn> =>
  fc.oneof(
    fc.integer({ min, max: Math.min(max, min + 64) }).map((value) => ({ value, valid: true })),
    fc.constantFrom(min, max).map((value) => ({ value, valid: true })),
    fc.constantFrom(min - 1, max + 1, min + 0.5, Number.NaN, Infinity, -Infinity).map((value) => ({ value, valid: false })),
    fc.constantFrom<unknown>(String(min), null, true, [min], { value: min }).map((value) => ({ value, valid: false })),
  );

const switchValue: fc.Arbitrary<Drawn> = fc.oneof(
  fc.boolean().map((value) => ({ value, valid: true })),
  fc.constantFrom<unknown>(0, 1, 'true', null, [true]).map((value) => ({ value, valid: false })),
);

/** An options record: each documented option absent or drawn, and sometimes a name nobody documents. */
const optionsArb = fc
  .record(
    {
      ...Object.fromEntries(Object.entries(WHOLE).map(([name, bounds]) => [name, wholeValue(bounds)])),
      ...Object.fromEntries(SWITCHES.map((name) => [name, switchValue])),
      copybatch: fc.constant<Drawn>({ value: 2, valid: false }),
      queue_depth: fc.constant<Drawn>({ value: 2, valid: false }),
    },
    { requiredKeys: [] },
  )
  .map((drawn) => ({
    options: Object.fromEntries(Object.entries(drawn).map(([name, d]) => [name, (d as Drawn).value])),
    wrong: Object.entries(drawn).flatMap(([name, d]) => ((d as Drawn).valid ? [] : [name])),
  }));

/**
 * The engine's module, loaded inside each test rather than imported at the top: an engine whose
 * module throws when loaded (its shipped factory is built then, options checked) then fails a
 * test here. Imported at the top, the file would fail to load, and Stryker's vitest runner counts
 * a file that never loads as no test failing (the mutant survives).
 */
const engineModule = () => import('../src/engine/reference/index.js');

const DEVICE_SETS = Math.min(RUNS, 200);
const geometry: Geometry = { volumeSize: 8192, sectorSize: 512, extentSectors: 2 };

describe('the reference engine, on generated input', () => {
  it(`takes exactly the documented options and names a wrong one (${RUNS} records)`, async () => {
    const { createReferenceEngine } = await engineModule();
    fc.assert(
      fc.property(optionsArb, ({ options, wrong }) => {
        for (const make of [() => createReferenceEngine(options), () => createReferenceEngine().withOptions!(options as Record<string, number>)]) {
          if (wrong.length === 0) {
            expect(make().name).toBe('reference');
            continue;
          }
          let error: unknown;
          try {
            make();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(InputError);
          expect(wrong.some((name) => explains((error as Error).message, name)), `${(error as Error).message} explains none of ${wrong.join(', ')}`).toBe(true);
        }
      }),
      { seed: numericSeed(SEED), numRuns: RUNS },
    );
  });

  it('takes each documented option alone at its bounds (or undefined), and refuses it alone out of them, naming it and the value', async () => {
    const { createReferenceEngine } = await engineModule();
    const refuses = (options: Record<string, unknown>, says: string) => {
      expect(() => createReferenceEngine(options), JSON.stringify(options)).toThrow(new InputError(`createReferenceEngine: ${says}`));
      expect(() => createReferenceEngine().withOptions!(options as Record<string, number>), JSON.stringify(options)).toThrow(new InputError(`engineOptions: ${says}`));
    };
    for (const [name, [min, max]] of Object.entries(WHOLE)) {
      for (const value of [min, max, undefined]) expect(createReferenceEngine({ [name]: value }).withOptions!({ [name]: value as number }).name).toBe('reference');
      for (const value of [min - 1, max + 1, min + 0.5, Number.NaN, String(min), null, true]) {
        refuses({ [name]: value }, `options.${name}: ${typeof value === 'string' ? JSON.stringify(value) : String(value)} must be a whole number from ${min} to ${max}`);
      }
    }
    for (const name of SWITCHES) {
      for (const value of [true, false, undefined]) expect(createReferenceEngine({ [name]: value }).name).toBe('reference');
      for (const value of [0, 1, 'true', null, [true]]) refuses({ [name]: value }, `options.${name}: ${JSON.stringify(value)} must be true or false`);
    }
  });

  it('refuses options that are not a record', async () => {
    const { createReferenceEngine } = await engineModule();
    for (const [options, kind] of [[null, 'null'], [3, 'number'], ['copyBatch=2', 'string'], [true, 'boolean']] as const) {
      const said = `options must be an object, not ${kind}`;
      expect(() => createReferenceEngine(options as never), String(options)).toThrow(new InputError(`createReferenceEngine: ${said}`));
      expect(() => createReferenceEngine().withOptions!(options as never), String(options)).toThrow(new InputError(`engineOptions: ${said}`));
    }
  });

  it(`opens exactly the devices that fit the geometry and names the one that does not (${DEVICE_SETS} device sets)`, async () => {
    const { createReferenceEngine } = await engineModule();
    const factory = createReferenceEngine();
    const metaBytes = factory.metadataSize(geometry);
    const deviceArb = (size: number) =>
      fc.oneof(
        { weight: 3, arbitrary: fc.constant({ size, sectorSize: 512 }) },
        fc.constantFrom(size - 512, size + 512).map((s) => ({ size: s, sectorSize: 512 })),
        fc.constant({ size, sectorSize: 1024 }),
      );
    await fc.assert(
      fc.asyncProperty(deviceArb(geometry.volumeSize), deviceArb(geometry.volumeSize), deviceArb(metaBytes), async (source, clone, meta) => {
        // The volumes must be the geometry's size exactly; the metadata device may be larger than
        // the engine needs (a partition rounded up).
        const fits = (d: { size: number; sectorSize: number }, size: number, exact: boolean) => d.sectorSize === 512 && (exact ? d.size === size : d.size >= size);
        const devices = {
          source: MemoryDevice.zeroed(source.size, source.sectorSize, 'source'),
          clone: MemoryDevice.zeroed(clone.size, clone.sectorSize, 'clone'),
          meta: MemoryDevice.zeroed(meta.size, meta.sectorSize, 'meta'),
        };
        const before = devices.meta.bytes.slice();
        const misfits = [fits(source, geometry.volumeSize, true) ? [] : ['source'], fits(clone, geometry.volumeSize, true) ? [] : ['clone'], fits(meta, metaBytes, false) ? [] : ['metadata']].flat();
        let error: unknown;
        try {
          await factory.format(devices, geometry, 'all');
          const engine = await factory.open(devices, geometry);
          expect((await engine.status()).state).toBe('fractured');
        } catch (e) {
          error = e;
        }
        if (misfits.length === 0) {
          expect(error).toBeUndefined();
          return;
        }
        expect(error).toBeInstanceOf(MetadataError);
        // The message names the device and says what the geometry needs of it: its sector size, or
        // its size (exactly, for a volume; at least, for the metadata device).
        const drawn = { source: [source, geometry.volumeSize, true], clone: [clone, geometry.volumeSize, true], metadata: [meta, metaBytes, false] } as const;
        const says = misfits.map((name) => {
          const [d, size, exact] = drawn[name as keyof typeof drawn];
          return d.sectorSize !== 512
            ? `${name} device has ${d.sectorSize}-byte sectors, the geometry 512`
            : `${name} device is ${d.size} bytes; the geometry needs ${exact ? '' : 'at least '}${size}`;
        });
        expect(says, (error as Error).message).toContain((error as Error).message);
        // Refused before anything was written: the metadata device is as it was.
        expect(devices.meta.bytes).toEqual(before);
      }),
      { seed: numericSeed(SEED), numRuns: DEVICE_SETS },
    );
  });
});
