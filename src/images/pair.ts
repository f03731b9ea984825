/**
 * A pair as a metadata file describes it: the header read and checked, the two images found and
 * matched against it, and the three devices opened for the engine.
 *
 * Which checks, when:
 * - Both images: the recorded size, always. A resized image is a different volume.
 * - The clone: the recorded fingerprint, always. Nothing the image tool does writes the clone
 *   (a protected restore never does, and the tool issues no host writes for an unprotected one
 *   to mirror), so a clone whose fingerprint moved is a different image or one changed behind the
 *   tool's back, and restoring from it would copy the wrong data.
 * - The source: the fingerprint only when no restore is in progress, and then it must equal the
 *   one recorded at `init` or the clone's (what a completed restore leaves: source equal to
 *   clone). Mid-restore the copier is rewriting the source, so its fingerprint says nothing and
 *   only its size is checked. The header is never rewritten (see header.ts), which is why the
 *   post-restore fingerprint is recognised rather than recorded.
 */
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { FileDevice, localFs } from '../devices/file-device.js';
import type { EngineFactory, EngineMaps, EngineStatus, RestoreDevices } from '../engine/contract.js';
import { BufferPool, PooledReadDevice, RecyclingWriteDevice } from './buffer-pool.js';
import { EarlyWritebackDevice } from './early-writeback.js';
import { IMAGE_ENGINE_NAME, imageEngine } from './engine.js';
import { fingerprint } from './fingerprint.js';
import { decodeHeader, HEADER_SIZE, type ImageIdentity, type MetaHeader } from './header.js';
import { OffsetDevice } from './offset-device.js';
import { OverlayDevice } from './overlay-device.js';

export type ImageRole = 'source' | 'clone';

/** Reads and checks the header of metadata file `metaPath` (absolute). */
export async function readHeader(metaPath: string): Promise<MetaHeader> {
  let handle;
  try {
    handle = await open(metaPath, 'r');
  } catch (e) {
    throw new InputError(`metadata file ${metaPath}: ${reason(e)}`);
  }
  try {
    const bytes = new Uint8Array(HEADER_SIZE);
    const { bytesRead } = await handle.read(bytes, 0, HEADER_SIZE, 0);
    const header = decodeHeader(bytes.subarray(0, bytesRead), metaPath);
    const fileSize = Number((await handle.stat()).size);
    if (header.engine !== IMAGE_ENGINE_NAME) throw new InputError(`${metaPath}: made for engine "${header.engine}"; this prestore restores images with the "${IMAGE_ENGINE_NAME}" engine`);
    const expected = imageEngine(header.geometry).metadataSize(header.geometry);
    if (header.metaSize !== expected) throw new InputError(`${metaPath}: its metadata region is ${header.metaSize} bytes, the engine needs ${expected} for this geometry (made by another version?)`);
    if (fileSize < header.metaOffset + header.metaSize) {
      throw new InputError(`${metaPath}: truncated (${fileSize} bytes; the header says ${header.metaOffset + header.metaSize})`);
    }
    return header;
  } finally {
    await handle.close();
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'does not exist';
  if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.message ?? String(e);
}

/** The size of the regular file at `path`, or an InputError naming `what`. */
export async function imageSize(path: string, what: string): Promise<number> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw new InputError(`${what} ${path}: ${reason(e)}`);
  }
  if (!s.isFile()) throw new InputError(`${what} ${path}: not a regular file (image files only)`);
  return s.size;
}

/** Sizes of both images, and the clone's fingerprint (see the top of this file). */
export async function checkImages(header: MetaHeader, metaPath: string): Promise<void> {
  for (const role of ['source', 'clone'] as const) {
    const id = header[role];
    const size = await imageSize(id.path, `${role} image`);
    if (size !== id.size) {
      throw new InputError(`${role} image ${id.path} is ${size} bytes, but ${metaPath} was made for ${id.size} bytes: it was resized, or is a different image`);
    }
  }
  const now = await fingerprint(header.clone.path, header.clone.size);
  if (now !== header.clone.fingerprint) throw new InputError(mismatch('clone', header.clone, now, metaPath));
}

/**
 * The source's fingerprint when no restore is in progress: the one recorded at init, or the
 * clone's (a completed restore). Anything else means the source changed behind the tool's back,
 * where the delta map cannot have seen it.
 */
export async function checkIdleSource(header: MetaHeader, metaPath: string): Promise<'as-init' | 'restored'> {
  const now = await fingerprint(header.source.path, header.source.size);
  if (now === header.source.fingerprint) return 'as-init';
  if (now === header.clone.fingerprint) return 'restored';
  throw new InputError(
    `${mismatch('source', header.source, now, metaPath)}; the delta map may not cover that change. ` +
      `If the change is wanted, make a fresh metadata file: prestore init --compare --force`,
  );
}

function mismatch(role: ImageRole, id: ImageIdentity, now: string, metaPath: string): string {
  return (
    `${role} image ${id.path} does not match the image ${metaPath} was made for ` +
    `(fingerprint ${id.fingerprint.slice(0, 12)}… recorded, ${now.slice(0, 12)}… now): it is a different image, or it was changed since prestore init`
  );
}

export interface OpenedDevices {
  readonly devices: RestoreDevices;
  close(): Promise<void>;
}

/**
 * The engine's three devices. The clone is always opened read-only: no correct engine writes it
 * when the tool issues no host writes, and this way the OS refuses if one tries. `readOnly`
 * (status, pre-checks) also puts the source and metadata under overlays, so recovery's writes
 * stay in memory. Otherwise the copy buffers are reused (buffer-pool.ts) and the source starts
 * its writeback early (early-writeback.ts).
 */
export async function openDevices(header: MetaHeader, metaPath: string, { readOnly }: { readOnly: boolean }): Promise<OpenedDevices> {
  const { sectorSize } = header.geometry;
  const files: FileDevice[] = [];
  try {
    const src = await FileDevice.open(localFs, header.source.path, sectorSize, { readOnly });
    files.push(src);
    const cln = await FileDevice.open(localFs, header.clone.path, sectorSize, { readOnly: true });
    files.push(cln);
    const metaFile = await FileDevice.open(localFs, metaPath, sectorSize, { readOnly });
    files.push(metaFile);
    const region = new OffsetDevice(metaFile, header.metaOffset, header.metaSize, `${metaPath} (engine region)`);
    const pool = new BufferPool();
    const devices: RestoreDevices = readOnly
      ? { source: new OverlayDevice(src), clone: cln, meta: new OverlayDevice(region) }
      : { source: new RecyclingWriteDevice(new EarlyWritebackDevice(src), pool), clone: new PooledReadDevice(cln, pool), meta: region };
    return {
      devices,
      close: async () => {
        await Promise.all(files.map((f) => f.close()));
      },
    };
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot open the pair of ${metaPath}: ${reason(e)}`);
  }
}

export interface PairView {
  readonly status: EngineStatus;
  readonly maps?: EngineMaps;
}

/** What the engine would find on opening the pair, without changing a byte of it. */
export async function probe(header: MetaHeader, metaPath: string, engine: EngineFactory, withMaps: boolean): Promise<PairView> {
  const opened = await openDevices(header, metaPath, { readOnly: true });
  try {
    const e = await engine.open(opened.devices, header.geometry);
    const status = await e.status();
    const maps = withMaps && e.inspect !== undefined ? await e.inspect() : undefined;
    await e.dispose?.();
    return maps === undefined ? { status } : { status, maps };
  } finally {
    await opened.close();
  }
}
