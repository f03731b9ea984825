/**
 * The reference engine as an `EngineFactory`: sizing, formatting a fractured pair, and opening
 * (recovery). `createReferenceEngine` takes the tuning options, checked when it is called; the
 * mutant engines pass their own subclass of `ReferenceEngine`.
 */
import { InputError } from '../../errors.js';
import { checkGeometry, type EngineFactory, extentCount, type Geometry, type InitialDelta, type RestoreDevices } from '../contract.js';
import { Bitmap } from './bitmap.js';
import { checkDevices, ReferenceEngine, referenceOptions, type ReferenceOptions } from './engine.js';
import { encodeSuperblock, layoutOf } from './layout.js';

export { ReferenceEngine, type ReferenceOptions } from './engine.js';

type EngineClass = new (...args: ConstructorParameters<typeof ReferenceEngine>) => ReferenceEngine;

function layoutFor(geometry: Geometry) {
  checkGeometry(geometry);
  return layoutOf(geometry, extentCount(geometry));
}

export function createReferenceEngine(options: ReferenceOptions = {}, name = 'reference', Engine: EngineClass = ReferenceEngine): EngineFactory {
  const checked = referenceOptions(options, 'createReferenceEngine');
  if (typeof name !== 'string' || name.trim() === '') throw new InputError(`createReferenceEngine: name ${JSON.stringify(name)} must be a non-empty string`);
  if (typeof Engine !== 'function' || !(Engine === ReferenceEngine || Engine.prototype instanceof ReferenceEngine)) {
    throw new InputError('createReferenceEngine: Engine must be ReferenceEngine or a subclass of it');
  }
  const metadataSize = (geometry: Geometry) => layoutFor(geometry).totalSectors * geometry.sectorSize;
  return {
    name,
    metadataSize,
    async format(devices: RestoreDevices, geometry: Geometry, delta: InitialDelta): Promise<void> {
      const layout = layoutFor(geometry);
      checkDevices(devices, geometry, metadataSize(geometry));
      const d = new Bitmap('delta', layout.extents, layout.sectorSize);
      const set = delta === 'all' ? Array.from({ length: layout.extents }, (_, e) => e) : delta === 'none' ? [] : delta.flatMap((bit, e) => (bit ? [e] : []));
      const size = layout.sectorSize;
      const image = new Uint8Array(layout.totalSectors * size);
      d.apply(d.staged(set, true));
      image.set(d.encode(), layout.deltaSector * size);
      // P is empty, but its sectors too must carry valid checksums: zeros never pass.
      image.set(new Bitmap('protected', layout.extents, layout.sectorSize).encode(), layout.protectedSector * size);
      // Generation 1 in slot 1; slot 0 stays empty until the first commit writes generation 2.
      image.set(encodeSuperblock({ state: 'fractured', protect: true, generation: 1, geometry }, size), size);
      await devices.meta.write(0, image);
      await devices.meta.flush();
    },
    async open(devices: RestoreDevices, geometry: Geometry) {
      const layout = layoutFor(geometry);
      checkDevices(devices, geometry, metadataSize(geometry));
      const engine = new Engine(devices, geometry, layout, checked);
      await engine.recover();
      return engine;
    },
    // A case's options (checked here, so errors name engineOptions) take precedence over the factory's own.
    withOptions(options: ReferenceOptions): EngineFactory {
      referenceOptions(options, 'engineOptions');
      return createReferenceEngine({ ...checked, ...options }, name, Engine);
    },
  };
}

export const referenceEngine: EngineFactory = createReferenceEngine();
