/**
 * The image tool's own header: the first 4096 bytes of a metadata file, before the engine's
 * region. It records what the engine's metadata does not: which two image files the maps
 * describe (path, size, fingerprint), and where the engine's region lies.
 *
 *   0   8  magic "PRIMAGE1"
 *   8   4  version (u32 LE)
 *   12  4  length of the JSON body in bytes (u32 LE)
 *   16  32 sha256 of bytes 0..16 and the JSON body
 *   48  .. the JSON body (UTF-8), then zeros to 4096
 *
 * Written once, by `init`, never updated: a rewrite could tear across sectors in a crash and
 * lose the record of a pair mid-restore, and nothing in it changes during a restore.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import type { Geometry } from '../engine/contract.js';

export const HEADER_SIZE = 4096;
const MAGIC = 'PRIMAGE1';
const VERSION = 1;
const BODY_AT = 48;

export interface ImageIdentity {
  /** Absolute path, as given to `init`. */
  readonly path: string;
  readonly size: number;
  /** See fingerprint.ts; hex. */
  readonly fingerprint: string;
}

export interface MetaHeader {
  /** The engine that formatted the region (its factory's name). */
  readonly engine: string;
  readonly geometry: Geometry;
  /** The engine's region: bytes [metaOffset, metaOffset + metaSize) of the file. */
  readonly metaOffset: number;
  readonly metaSize: number;
  readonly source: ImageIdentity;
  readonly clone: ImageIdentity;
  /**
   * The source was served to hosts by `prestore serve`. Their writes went through the engine, so
   * the delta map covers them, but the source's fingerprint no longer says whether anything else
   * changed it: from then on it is not compared (`prestore verify` still compares every byte).
   */
  readonly sourceServed?: boolean;
}

function digest(prefix: Uint8Array, body: Uint8Array): Uint8Array {
  return createHash('sha256').update(prefix).update(body).digest();
}

export function encodeHeader(header: MetaHeader): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(header));
  if (BODY_AT + body.length > HEADER_SIZE) {
    throw new InputError(`the image paths are too long to record (${body.length} bytes of header; at most ${HEADER_SIZE - BODY_AT})`);
  }
  const bytes = new Uint8Array(HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, body.length, true);
  bytes.set(digest(bytes.subarray(0, 16), body), 16);
  bytes.set(body, BODY_AT);
  return bytes;
}

/** The header of metadata file `file`, or an InputError saying why it is not one. */
export function decodeHeader(bytes: Uint8Array, file: string): MetaHeader {
  const fail = (why: string): never => {
    throw new InputError(`${file}: ${why}`);
  };
  if (bytes.length < HEADER_SIZE) fail(`not a prestore metadata file (${bytes.length} bytes, shorter than its ${HEADER_SIZE}-byte header)`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) fail('not a prestore metadata file (no PRIMAGE1 magic at its start)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) fail(`metadata header version ${version} is not supported (this prestore reads version ${VERSION})`);
  const length = view.getUint32(12, true);
  if (BODY_AT + length > HEADER_SIZE) fail('metadata header is damaged (its length field is out of range)');
  const body = bytes.subarray(BODY_AT, BODY_AT + length);
  if (Buffer.compare(digest(bytes.subarray(0, 16), body), bytes.subarray(16, BODY_AT)) !== 0) fail('metadata header is damaged (checksum mismatch)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return fail('metadata header is damaged (its body is not JSON)');
  }
  const problem = headerProblem(parsed);
  if (problem !== undefined) fail(`metadata header is damaged (${problem})`);
  return parsed as MetaHeader;
}

/** What is missing or mistyped in a decoded body, if anything; the checksum makes this rare. */
function headerProblem(h: unknown): string | undefined {
  const isInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const o = h as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return 'body is not an object';
  if (typeof o.engine !== 'string') return 'engine';
  const g = o.geometry as Record<string, unknown> | undefined;
  if (typeof g !== 'object' || g === null || !isInt(g.volumeSize) || !isInt(g.sectorSize) || !isInt(g.extentSectors)) return 'geometry';
  if (!isInt(o.metaOffset) || !isInt(o.metaSize)) return 'metadata region';
  if (o.sourceServed !== undefined && typeof o.sourceServed !== 'boolean') return 'sourceServed';
  for (const name of ['source', 'clone'] as const) {
    const i = o[name] as Record<string, unknown> | undefined;
    if (typeof i !== 'object' || i === null || typeof i.path !== 'string' || !isInt(i.size) || typeof i.fingerprint !== 'string') return name;
  }
  return undefined;
}
