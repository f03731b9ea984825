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
import { constants, type Stats } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError, MetadataError } from '../errors.js';
import { FileDevice, localFs } from '../devices/file-device.js';
import type { BlockDevice } from '../devices/block-device.js';
import type { EngineFactory, EngineMaps, EngineStatus, RestoreDevices, RestoreEngine } from '../engine/contract.js';
import { BufferPool, PooledReadDevice, RecyclingWriteDevice } from './buffer-pool.js';
import { EarlyWritebackDevice } from './early-writeback.js';
import { IMAGE_ENGINE_NAME, imageEngine } from './engine.js';
import { fingerprint } from './fingerprint.js';
import type { LockedImage } from './lock.js';
import { NamedDevice } from './named-device.js';
import { decodeHeader, encodeHeader, HEADER_SIZE, type ImageIdentity, type MetaHeader } from './header.js';
import { OffsetDevice } from './offset-device.js';
import { OverlayDevice } from './overlay-device.js';

export type ImageRole = 'source' | 'clone';

/** Reads and checks the header of metadata file `metaPath` (absolute). */
export async function readHeader(metaPath: string): Promise<MetaHeader> {
  await regularFile(metaPath, 'metadata file');
  let handle;
  try {
    // Non-blocking, and checked again once open: should a FIFO take the file's place after the
    // check above, the open returns at once instead of waiting for a writer, and is refused.
    handle = await open(metaPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`metadata file ${metaPath}: ${reason(e)}`);
  }
  try {
    if (!(await handle.stat()).isFile()) throw new InputError(`metadata file ${metaPath}: ${KIND_HINT}`);
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
  if (err.code === 'EROFS') return 'on a read-only file system';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.message ?? String(e);
}

const KIND_HINT = 'not a regular file (prestore reads image and metadata files only)';

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'is a directory';
  if (s.isFIFO()) return 'is a FIFO (named pipe)';
  if (s.isSocket()) return 'is a socket';
  if (s.isCharacterDevice()) return 'is a character device';
  if (s.isBlockDevice()) return 'is a block device';
  return 'is not a regular file';
}

/**
 * The kind of `path` checked before anything opens it: only a regular file will do. A FIFO would
 * block the first read forever, and a directory would fail only at that read.
 */
export async function regularFile(path: string, what: string): Promise<Stats> {
  let s;
  try {
    s = await stat(path);
  } catch (e) {
    throw new InputError(`${what} ${path}: ${reason(e)}`);
  }
  if (!s.isFile()) throw new InputError(`${what} ${path}: ${kindOf(s)}; ${KIND_HINT}`);
  return s;
}

/** The size of the regular file at `path`, or an InputError naming `what`. */
export async function imageSize(path: string, what: string): Promise<number> {
  return (await regularFile(path, what)).size;
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
 * where the delta map cannot have seen it. A source served to hosts (`sourceServed`) changes
 * through the engine by design, so its fingerprint proves nothing and is not compared.
 */
export async function checkIdleSource(header: MetaHeader, metaPath: string): Promise<'as-init' | 'restored' | 'served'> {
  if (header.sourceServed === true) return 'served';
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

/** The images a pair's lock covers (lock.ts). */
export function pairImages(pair: { readonly source: { readonly path: string }; readonly clone: { readonly path: string } }): LockedImage[] {
  return [
    { role: 'source image', path: pair.source.path },
    { role: 'clone image', path: pair.clone.path },
  ];
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
  const openFile = async (what: string, path: string, fileReadOnly: boolean, why: string) => {
    try {
      const file = await FileDevice.open(localFs, path, sectorSize, { readOnly: fileReadOnly });
      files.push(file);
      return file;
    } catch (e) {
      throw new InputError(`${what} ${path} cannot be opened for ${fileReadOnly ? 'reading' : `writing (${why})`}: ${reason(e)}`);
    }
  };
  try {
    const src = await openFile('source image', header.source.path, readOnly, 'a restore writes the clone\'s content onto it');
    const cln = await openFile('clone image', header.clone.path, true, '');
    const metaFile = await openFile('metadata file', metaPath, readOnly, 'a restore records its progress there');
    // Named next to the file, so a failure's offset is the file's own.
    const named = (what: string, path: string, device: BlockDevice) => new NamedDevice(device, what, path);
    const source = named('source image', header.source.path, src);
    const region = new OffsetDevice(named('metadata file', metaPath, metaFile), header.metaOffset, header.metaSize, `${metaPath} (engine region)`);
    const pool = new BufferPool();
    const devices: RestoreDevices = readOnly
      ? { source: new OverlayDevice(source), clone: named('clone image', header.clone.path, cln), meta: new OverlayDevice(region) }
      : {
          source: new RecyclingWriteDevice(new EarlyWritebackDevice(source), pool),
          // The pool reads into its own buffers through the file itself; the name goes outside.
          clone: named('clone image', header.clone.path, new PooledReadDevice(cln, pool)),
          meta: region,
        };
    return {
      devices,
      close: async () => {
        await Promise.all(files.map((f) => f.close()));
      },
    };
  } catch (e) {
    await Promise.all(files.map((f) => f.close()));
    if (e instanceof InputError) throw e;
    // A header whose engine region does not fit the file (the checksum is no seal against a
    // header written by hand): bad input, not a bug.
    throw new InputError(`cannot open the pair of ${metaPath}: ${reason(e)}`);
  }
}

/**
 * Opens (= recovers) the engine on the pair's devices. Metadata the engine refuses (a damaged
 * superblock, a map sector that fails its checksum) is reported with the file it lives in.
 */
export async function openEngine(engine: EngineFactory, devices: RestoreDevices, header: MetaHeader, metaPath: string): Promise<RestoreEngine> {
  try {
    return await engine.open(devices, header.geometry);
  } catch (e) {
    if (!(e instanceof MetadataError)) throw e;
    throw new MetadataError(`${metaPath}: ${e.message} (the metadata device is this file from byte ${header.metaOffset} on)`);
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
    const e = await openEngine(engine, opened.devices, header, metaPath);
    const status = await e.status();
    const maps = withMaps && e.inspect !== undefined ? await e.inspect() : undefined;
    await e.dispose?.();
    return maps === undefined ? { status } : { status, maps };
  } finally {
    await opened.close();
  }
}

/**
 * Records in the metadata file that its source is served to hosts, before any host may write it:
 * the whole file is written anew beside itself, synced and renamed into place, so a crash leaves
 * the old file or the new one, never a torn header. The caller holds the pair's lock.
 */
export async function markSourceServed(header: MetaHeader, metaPath: string): Promise<MetaHeader> {
  if (header.sourceServed === true) return header;
  const marked: MetaHeader = { ...header, sourceServed: true };
  const temp = `${metaPath}.serving-${process.pid}`;
  try {
    const from = await open(metaPath, 'r');
    const to = await open(temp, 'wx');
    try {
      const size = (await from.stat()).size;
      const chunk = new Uint8Array(1 << 20);
      for (let at = 0; at < size; ) {
        const { bytesRead } = await from.read(chunk, 0, Math.min(chunk.length, size - at), at);
        if (bytesRead === 0) break;
        await to.write(chunk, 0, bytesRead, at);
        at += bytesRead;
      }
      await to.write(encodeHeader(marked), 0, HEADER_SIZE, 0);
      await to.sync();
    } finally {
      await from.close();
      await to.close();
    }
    await rename(temp, metaPath);
    const dir = await open(dirname(metaPath), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw new InputError(`metadata file ${metaPath}: cannot record that its source is served: ${reason(e)}`);
  }
  return marked;
}
