/**
 * `init`: the metadata file of a fractured pair. Everything is checked and computed (sizes,
 * fingerprints, the delta map) before a byte is written; the file is then built under a temporary
 * name beside the target and renamed into place, so a crash leaves the old file or the new one.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError, UsageError } from '../errors.js';
import { FileDevice, localFs } from '../devices/file-device.js';
import type { Geometry, InitialDelta } from '../engine/contract.js';
import { compareImages } from './compare.js';
import { imageEngine } from './engine.js';
import { fingerprint } from './fingerprint.js';
import { encodeHeader, HEADER_SIZE, type MetaHeader } from './header.js';
import { acquirePairLock } from './lock.js';
import { OffsetDevice } from './offset-device.js';
import { ioError } from './io-error.js';
import { imageSize, pairImages, probe, readHeader } from './pair.js';

export const DEFAULT_SECTOR_SIZE = 512;
export const DEFAULT_EXTENT_BYTES = 64 << 10;

export interface InitOptions {
  /** Absolute paths. */
  readonly source: string;
  readonly clone: string;
  readonly meta: string;
  readonly extentBytes: number;
  readonly delta: 'compare' | 'all';
  readonly force: boolean;
  readonly lockDir: string;
  readonly notice: (message: string) => void;
  /** Bytes compared so far, for `--compare` on large images. */
  readonly onCompare?: (done: number, total: number) => void;
}

export interface InitResult {
  readonly header: MetaHeader;
  readonly extents: number;
  readonly differing: number;
}

export async function initPair(options: InitOptions): Promise<InitResult> {
  const { source, clone, meta, extentBytes } = options;
  const sectorSize = DEFAULT_SECTOR_SIZE;
  if (extentBytes % sectorSize !== 0) throw new UsageError(`--extent ${extentBytes}: must be a multiple of the sector size (${sectorSize} bytes)`);
  if (extentBytes / sectorSize > 0xffffffff) throw new UsageError(`--extent ${extentBytes}: too large`);
  const geometry = await checkPair(source, clone, meta, sectorSize, extentBytes);
  // The images locked, not the metadata file: a restore of this pair through another metadata
  // file must not run while this one reads (and fingerprints) the images.
  const lock = await acquirePairLock(options.lockDir, pairImages({ source: { path: source }, clone: { path: clone } }), options.notice);
  try {
    await checkReplace(meta, options.force);
    const [sourceFp, cloneFp] = await Promise.all([fingerprint(source, geometry.volumeSize), fingerprint(clone, geometry.volumeSize)]);
    let delta: InitialDelta = 'all';
    let differing: number;
    const extents = Math.ceil(geometry.volumeSize / extentBytes);
    if (options.delta === 'compare') {
      const { delta: map } = await compareImages(source, clone, geometry, (done) => options.onCompare?.(done, geometry.volumeSize));
      delta = map;
      differing = map.filter(Boolean).length;
    } else {
      differing = extents;
    }
    const engine = imageEngine(geometry);
    const header: MetaHeader = {
      engine: engine.name,
      geometry,
      metaOffset: HEADER_SIZE,
      metaSize: engine.metadataSize(geometry),
      source: { path: source, size: geometry.volumeSize, fingerprint: sourceFp },
      clone: { path: clone, size: geometry.volumeSize, fingerprint: cloneFp },
    };
    const headerBytes = encodeHeader(header);
    await writeMetaFile(meta, header, headerBytes, delta);
    return { header, extents, differing };
  } finally {
    await lock.release();
  }
}

/** Both images exist, are distinct regular files of one size, a whole number of sectors. */
async function checkPair(source: string, clone: string, meta: string, sectorSize: number, extentBytes: number): Promise<Geometry> {
  const [sourceSize, cloneSize] = [await imageSize(source, 'source image'), await imageSize(clone, 'clone image')];
  if (sourceSize !== cloneSize) throw new InputError(`source image ${source} is ${sourceSize} bytes and clone image ${clone} is ${cloneSize}: a pair must be the same size`);
  if (sourceSize === 0 || sourceSize % sectorSize !== 0) throw new InputError(`the images are ${sourceSize} bytes: must be a positive multiple of the sector size ${sectorSize}`);
  const [s, c] = await Promise.all([stat(source), stat(clone)]);
  if (s.dev === c.dev && s.ino === c.ino) throw new InputError(`--source and --clone are the same file (${source})`);
  const m = await stat(meta).catch(() => undefined);
  if (m !== undefined && ((m.dev === s.dev && m.ino === s.ino) || (m.dev === c.dev && m.ino === c.ino))) {
    throw new InputError(`--meta ${meta} is one of the images`);
  }
  if (m?.isDirectory()) throw new InputError(`--meta ${meta}: is a directory`);
  // Replaced only if it is a regular file: a FIFO, a device or a socket is not ours to replace.
  if (m !== undefined && !m.isFile()) throw new InputError(`--meta ${meta}: exists and is not a regular file; prestore only ever replaces a metadata file`);
  const dir = await stat(dirname(meta)).catch(() => undefined);
  if (dir === undefined || !dir.isDirectory()) throw new InputError(`--meta ${meta}: the directory ${dirname(meta)} does not exist`);
  return { volumeSize: sourceSize, sectorSize, extentSectors: extentBytes / sectorSize };
}

/**
 * An existing metadata file is replaced only with --force, and never mid-restore: that file is
 * the only record of which extents are still to copy. (A restore running now holds the images'
 * lock, which `initPair` has taken, so it cannot be running.)
 */
async function checkReplace(meta: string, force: boolean): Promise<void> {
  const exists = await stat(meta).then(
    () => true,
    () => false,
  );
  if (!exists) return;
  if (!force) throw new InputError(`--meta ${meta} already exists; pass --force to replace it`);
  let restoring = false;
  try {
    const header = await readHeader(meta);
    restoring = (await probe(header, meta, imageEngine(header.geometry), false)).status.state === 'restoring';
  } catch {
    // Not a metadata file we can read, or its images are gone: nothing in it can be resumed.
  }
  if (restoring) {
    throw new InputError(
      `${meta} records a restore in progress; replacing it would leave the source half restored with no record of what is left. Finish it first: prestore resume --meta ${meta}`,
    );
  }
}

async function writeMetaFile(meta: string, header: MetaHeader, headerBytes: Uint8Array, delta: InitialDelta): Promise<void> {
  const temp = join(dirname(meta), `.${basename(meta)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const { geometry } = header;
  const engine = imageEngine(geometry);
  const files: FileDevice[] = [];
  try {
    const file = await FileDevice.create(localFs, temp, header.metaOffset + header.metaSize, geometry.sectorSize);
    files.push(file);
    await file.write(0, headerBytes);
    // The images are opened read-only: formatting describes them and must not change them.
    const source = await FileDevice.open(localFs, header.source.path, geometry.sectorSize, { readOnly: true });
    files.push(source);
    const clone = await FileDevice.open(localFs, header.clone.path, geometry.sectorSize, { readOnly: true });
    files.push(clone);
    await engine.format({ source, clone, meta: new OffsetDevice(file, header.metaOffset, header.metaSize, `${meta} (engine region)`) }, geometry, delta);
    await file.flush();
    await Promise.all(files.splice(0).map((f) => f.close()));
    await rename(temp, meta);
    await syncDir(dirname(meta));
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    await unlink(temp).catch(() => undefined);
    throw ioError(e, `cannot write ${meta}`);
  }
}

/** The rename itself durable: without it a crash could bring back the old directory entry. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
