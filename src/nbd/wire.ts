/**
 * The NBD protocol's numbers and message layouts (fixed newstyle handshake, simple replies), as
 * the protocol document (NetworkBlockDevice/nbd, doc/proto.md) defines them. Everything on the
 * wire is big-endian. Shared by the server and by the project's own small client.
 */

/** "NBDMAGIC": the first eight bytes a server sends. */
export const NBD_MAGIC = 0x4e42444d41474943n;
/** "IHAVEOPT": after NBDMAGIC from the server, and before every option from the client. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Before every option reply. */
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;

export const HandshakeFlag = { FIXED_NEWSTYLE: 1, NO_ZEROES: 2 } as const;
export const ClientFlag = { FIXED_NEWSTYLE: 1, NO_ZEROES: 2 } as const;

export const Option = { EXPORT_NAME: 1, ABORT: 2, LIST: 3, STARTTLS: 5, INFO: 6, GO: 7, STRUCTURED_REPLY: 8 } as const;

const ERR = 2 ** 31;
export const Reply = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  ERR_UNSUP: ERR + 1,
  ERR_POLICY: ERR + 2,
  ERR_INVALID: ERR + 3,
  ERR_UNKNOWN: ERR + 6,
  ERR_SHUTDOWN: ERR + 7,
  ERR_TOO_BIG: ERR + 9,
} as const;

export const Info = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

export const TransmissionFlag = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  CAN_MULTI_CONN: 1 << 8,
} as const;

export const Command = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;
export const CommandFlag = { FUA: 1 << 0, NO_HOLE: 1 << 1 } as const;

/** The error values a reply may carry (errno numbers, as the protocol fixes them). */
export const NbdError = { EPERM: 1, EIO: 5, EINVAL: 22, ENOSPC: 28, ENOTSUP: 95, ESHUTDOWN: 108 } as const;

/** Bytes in a request header: magic, flags, type, cookie, offset, length. */
export const REQUEST_BYTES = 28;
/** Bytes in a simple reply header: magic, error, cookie. */
export const SIMPLE_REPLY_BYTES = 16;
/** Bytes of zeroes after an NBD_OPT_EXPORT_NAME answer, unless the client asked for none. */
export const EXPORT_NAME_PADDING = 124;

export interface Request {
  readonly flags: number;
  readonly type: number;
  /** Opaque to the server: echoed in the reply. */
  readonly cookie: Uint8Array;
  /** A JavaScript number; `decodeRequest` also gives the exact one, which the range checks use. */
  readonly offset: number;
  readonly length: number;
}

export function encodeRequest(r: Request): Buffer {
  const b = Buffer.alloc(REQUEST_BYTES);
  b.writeUInt32BE(REQUEST_MAGIC, 0);
  b.writeUInt16BE(r.flags, 4);
  b.writeUInt16BE(r.type, 6);
  b.set(r.cookie, 8);
  b.writeBigUInt64BE(BigInt(r.offset), 16);
  b.writeUInt32BE(r.length, 24);
  return b;
}

/**
 * The request in `b` (REQUEST_BYTES long), or undefined when its magic is wrong. An offset past
 * 2^53 is clamped in `offset` (it is past any export's end, and `offsetBig` says so exactly).
 */
export function decodeRequest(b: Buffer): (Request & { readonly offsetBig: bigint }) | undefined {
  if (b.readUInt32BE(0) !== REQUEST_MAGIC) return undefined;
  const offsetBig = b.readBigUInt64BE(16);
  return {
    flags: b.readUInt16BE(4),
    type: b.readUInt16BE(6),
    cookie: Uint8Array.prototype.slice.call(b, 8, 16),
    offset: offsetBig > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(offsetBig),
    offsetBig,
    length: b.readUInt32BE(24),
  };
}

export function encodeSimpleReply(error: number, cookie: Uint8Array): Buffer {
  const b = Buffer.alloc(SIMPLE_REPLY_BYTES);
  b.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  b.writeUInt32BE(error, 4);
  b.set(cookie, 8);
  return b;
}

export function encodeOption(option: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(16 + data.length);
  b.writeBigUInt64BE(IHAVEOPT, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(data.length, 12);
  b.set(data, 16);
  return b;
}

export function encodeOptionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(20 + data.length);
  b.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  b.writeUInt32BE(option, 8);
  b.writeUInt32BE(type, 12);
  b.writeUInt32BE(data.length, 16);
  b.set(data, 20);
  return b;
}

/** The data of NBD_OPT_INFO and NBD_OPT_GO: an export name and the information requested. */
export function encodeInfoRequest(name: string, infos: readonly number[]): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + n.length + 2 + 2 * infos.length);
  b.writeUInt32BE(n.length, 0);
  b.set(n, 4);
  b.writeUInt16BE(infos.length, 4 + n.length);
  infos.forEach((info, i) => b.writeUInt16BE(info, 6 + n.length + 2 * i));
  return b;
}

/** The data of NBD_OPT_INFO or NBD_OPT_GO, or undefined when its lengths do not add up. */
export function decodeInfoRequest(data: Buffer): { name: string; infos: number[] } | undefined {
  if (data.length < 6) return undefined;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return undefined;
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count) return undefined;
  const infos = Array.from({ length: count }, (_, i) => data.readUInt16BE(6 + nameLength + 2 * i));
  return { name: data.subarray(4, 4 + nameLength).toString('utf8'), infos };
}

export function infoExport(size: number, flags: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(Info.EXPORT, 0);
  b.writeBigUInt64BE(BigInt(size), 2);
  b.writeUInt16BE(flags, 10);
  return b;
}

export function infoBlockSize(minimum: number, preferred: number, maximum: number): Buffer {
  const b = Buffer.alloc(14);
  b.writeUInt16BE(Info.BLOCK_SIZE, 0);
  b.writeUInt32BE(minimum, 2);
  b.writeUInt32BE(preferred, 6);
  b.writeUInt32BE(maximum, 10);
  return b;
}

/** NBD_INFO_NAME or NBD_INFO_DESCRIPTION: a type and a string. */
export function infoText(type: number, text: string): Buffer {
  const t = Buffer.from(text, 'utf8');
  const b = Buffer.alloc(2 + t.length);
  b.writeUInt16BE(type, 0);
  b.set(t, 2);
  return b;
}

/** The data of an NBD_REP_SERVER reply (one export of a list). */
export function serverEntry(name: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const b = Buffer.alloc(4 + n.length);
  b.writeUInt32BE(n.length, 0);
  b.set(n, 4);
  return b;
}
