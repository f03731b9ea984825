/**
 * The binary framing of the stdio protocol (docs/protocol.md, *Binary framing*): sector data as
 * raw bytes, and a device I/O request as fixed fields, so that an I/O point costs neither base64 nor
 * a JSON parse on either side. An engine offers it in its handshake; the harness accepts with a
 * `framing` line, and from then on every message both ways is a frame:
 *
 *     u32 size (of what follows) | u8 type | u32 id | body (size - 5 bytes)     little-endian
 *
 * Bodies: `call` a u32 length, that many bytes of JSON `{"method", "args"}`, then a host write's
 * data; `result` the same with the JSON value, or a JSON length of 0 and the bytes read; `error`
 * the same with JSON `{"kind", "message"}`; `io` device, op, fua, a byte (0; pipelined: the
 * io-errors the engine had read in this call, mod 256), u64 offset, u32 length, then a write's
 * data; `io-result` the bytes read (none for a write or flush); `io-error` a UTF-8 message;
 * `power-loss` nothing; `io-skipped` (pipelined) nothing: a request sent before the engine read
 * an earlier request's error, not performed.
 */
import { EngineProtocolError } from '../errors.js';

export const FRAME = { call: 1, result: 2, error: 3, io: 4, ioResult: 5, ioError: 6, powerLoss: 7, ioSkipped: 8 } as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];
const NAMES: Record<number, string> = { 1: 'call', 2: 'result', 3: 'error', 4: 'io', 5: 'io-result', 6: 'io-error', 7: 'power-loss', 8: 'io-skipped' };

/** The capability an engine offers in its handshake, and the harness's line accepting it. */
export const BINARY = 'binary';
export const ACCEPT_BINARY = '{"type":"framing","framing":"binary"}\n';
/**
 * The capability by which an engine offers to pipeline its device I/O (several requests sent
 * before their answers are read), and the harness's line accepting it with the binary framing.
 */
export const PIPELINE = 'pipeline';
export const ACCEPT_BINARY_PIPELINE = '{"type":"framing","framing":"binary","pipeline":true}\n';

/** Bytes before the body: size, type, id. */
export const FRAME_HEADER = 9;
/** An `io` body's fixed fields: device, op, fua, a zero byte, offset, length. */
export const IO_FIELDS = 16;
/**
 * The largest frame: a whole-volume read of the largest metadata device (1 GiB) or volume the
 * harness simulates, with room for its fields. A size past it is no frame at all (text written to
 * standard output, a corrupt length), and is refused at once rather than waited for.
 */
export const MAX_FRAME = 2 ** 30 + 4096;

export const IO_DEVICES = ['source', 'clone', 'meta'] as const;
export const IO_OPS = ['read', 'write', 'flush'] as const;

export interface Frame {
  readonly type: number;
  readonly id: number;
  readonly body: Buffer;
}

export function typeName(type: number): string {
  return NAMES[type] ?? `unknown type ${type}`;
}

/** One frame, header and body, ready to write. */
export function frame(type: FrameType, id: number, ...parts: readonly Uint8Array[]): Buffer {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.allocUnsafe(FRAME_HEADER);
  head.writeUInt32LE(size + 5, 0);
  head.writeUInt8(type, 4);
  head.writeUInt32LE(id >>> 0, 5);
  return parts.length === 0 ? head : Buffer.concat([head, ...parts], FRAME_HEADER + size);
}

/** A JSON part of a body: its length, then its text. */
export function jsonPart(value: unknown): Buffer {
  const text = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32LE(text.length, 0);
  return Buffer.concat([len, text]);
}

/** The JSON and the bytes after it in a `call` or `result` body; `json` is undefined for a length of 0. */
export function splitBody(body: Buffer, what: string): { json: unknown; bytes: Buffer } {
  if (body.length < 4) throw new EngineProtocolError(`${what}: a body of ${body.length} bytes, too short for its JSON length`);
  const n = body.readUInt32LE(0);
  if (n > body.length - 4) throw new EngineProtocolError(`${what}: its JSON length ${n} runs past the end of its ${body.length}-byte body`);
  const bytes = body.subarray(4 + n);
  if (n === 0) return { json: undefined, bytes };
  try {
    return { json: JSON.parse(body.toString('utf8', 4, 4 + n)), bytes };
  } catch {
    throw new EngineProtocolError(`${what}: its JSON part is not JSON: ${JSON.stringify(body.toString('utf8', 4, Math.min(4 + n, 124)))}`);
  }
}

/**
 * Frames out of a byte stream that comes in chunks of any size. A frame's size is checked against
 * `MAX_FRAME` (and by `check`, which knows what may come) as soon as its header is in, so a bad
 * length ends the run at once instead of a wait for bytes that never come; a large frame is
 * gathered chunk by chunk and joined once.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(
    private readonly who: string,
    private readonly check: (type: number, size: number, head: Buffer) => void = () => undefined,
  ) {}

  /** Bytes received that make no whole frame yet. */
  get pending(): number {
    return this.length;
  }

  /** What is held of an unfinished frame, in words, for an error that ends the run. */
  unfinished(): string {
    if (this.length === 0) return '';
    const head = this.peek(Math.min(this.length, 16));
    const size = head.length >= 4 ? head.readUInt32LE(0) + 4 : undefined;
    return `; it left ${size === undefined ? 'a frame' : `a ${size}-byte frame`} unfinished after ${this.length} bytes (starting ${head.toString('hex')})`;
  }

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.length += chunk.length;
    const out: Frame[] = [];
    while (this.length >= FRAME_HEADER) {
      const head = this.peek(FRAME_HEADER + IO_FIELDS);
      const size = head.readUInt32LE(0);
      const type = head.readUInt8(4);
      if (size < 5 || size + 4 > MAX_FRAME) {
        throw new EngineProtocolError(
          `${this.who} sent a frame header claiming ${size + 4} bytes (${size < 5 ? 'less than a header' : `more than the largest frame, ${MAX_FRAME}`}), starting ${head.subarray(0, 9).toString('hex')} ${JSON.stringify(head.subarray(0, 9).toString('latin1'))}: not a frame (text on standard output?)`,
        );
      }
      if (NAMES[type] === undefined) throw new EngineProtocolError(`${this.who} sent a frame of unknown type ${type} (header ${head.subarray(0, 9).toString('hex')})`);
      this.check(type, size + 4, head);
      if (this.length < size + 4) break;
      const whole = this.take(size + 4);
      out.push({ type, id: whole.readUInt32LE(5), body: whole.subarray(FRAME_HEADER) });
    }
    return out;
  }

  /** Up to `n` bytes from the front, joining chunks only as far as needed. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n || this.chunks.length === 1) return first.subarray(0, n);
    return Buffer.concat(this.chunks, Math.min(n, this.length)).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let whole: Buffer;
    if (first.length >= n) {
      whole = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks, this.length);
      whole = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.length -= n;
    return whole;
  }
}
