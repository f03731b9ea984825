/** The devices of a case before its workload: initial images and freshly formatted metadata. */
import { MemoryDevice } from '../../devices/memory-device.js';
import { type EngineFactory, extentCount, type InitialDelta } from '../../engine/contract.js';
import type { Case } from '../case.js';
import { differingExtents, initialImages } from '../sector-data.js';

export async function formattedDevices(factory: EngineFactory, c: Case): Promise<Record<'source' | 'clone' | 'meta', MemoryDevice>> {
  const { geometry } = c;
  const extents = extentCount(geometry);
  const { source, clone } = initialImages(geometry, c.initial, extents);
  const metaSize = Math.ceil(factory.metadataSize(geometry) / geometry.sectorSize) * geometry.sectorSize;
  const devices = {
    source: new MemoryDevice(source, geometry.sectorSize, 'source'),
    clone: new MemoryDevice(clone, geometry.sectorSize, 'clone'),
    meta: MemoryDevice.zeroed(metaSize, geometry.sectorSize, 'meta'),
  };
  const differ = differingExtents(c.initial, extents);
  const delta: InitialDelta = c.initial.delta === 'all' || c.initial.differ === 'all' ? 'all' : differ.size === 0 ? 'none' : Array.from({ length: extents }, (_, i) => differ.has(i));
  // Formatting is set-up, not the system under test: it runs on the bare devices.
  await factory.format(devices, geometry, delta);
  return devices;
}

/**
 * The devices of a crash state resumed from a recorded run: blank, of the recorded devices' sizes.
 * The crash state's images are written onto them where the crash is entered, before any I/O, so
 * the initial images and the format that `formattedDevices` makes would be work thrown away.
 */
export function blankDevices(c: Case, durable: Readonly<Record<'source' | 'clone' | 'meta', Uint8Array>>): Record<'source' | 'clone' | 'meta', MemoryDevice> {
  const { sectorSize } = c.geometry;
  return {
    source: MemoryDevice.zeroed(durable.source.length, sectorSize, 'source'),
    clone: MemoryDevice.zeroed(durable.clone.length, sectorSize, 'clone'),
    meta: MemoryDevice.zeroed(durable.meta.length, sectorSize, 'meta'),
  };
}
