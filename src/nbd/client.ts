/**
 * A small NBD client, the project's own: fixed newstyle with NBD_OPT_GO, simple replies, one
 * request in flight at a time. For the unit tests and the bench, which must run where no real
 * client is installed; the real clients (qemu-io, qemu-img, nbdcopy, nbdinfo) are the judges of
 * the server in src/nbd/real-clients.test.ts.
 */
import { connect } from 'node:net';
import { Connection } from './connection.js';
import type { ListenAt } from './server.js';
import {
  ClientFlag,
  Command,
  CommandFlag,
  encodeInfoRequest,
  encodeOption,
  encodeRequest,
  HandshakeFlag,
  IHAVEOPT,
  Info,
  NBD_MAGIC,
  OPTION_REPLY_MAGIC,
  Option,
  Reply,
  SIMPLE_REPLY_MAGIC,
} from './wire.js';

export class NbdClientError extends Error {
  constructor(
    message: string,
    /** The NBD error value of a failed request; 0 for anything else. */
    readonly errno = 0,
  ) {
    super(message);
    this.name = 'NbdClientError';
  }
}

export interface OptionReply {
  readonly option: number;
  readonly type: number;
  readonly data: Buffer;
}

/** A connected socket past the greeting, before any option: for tests that haggle by hand. */
export async function greet(at: ListenAt): Promise<{ connection: Connection; handshakeFlags: number }> {
  const socket = 'socket' in at ? connect(at.socket) : connect(at.port, at.host);
  await new Promise<void>((done, fail) => {
    socket.once('connect', () => done());
    socket.once('error', fail);
  });
  socket.setNoDelay(true);
  const connection = new Connection(socket);
  const hello = await connection.read(18);
  if (hello.readBigUInt64BE(0) !== NBD_MAGIC || hello.readBigUInt64BE(8) !== IHAVEOPT) throw new NbdClientError('not an NBD newstyle server');
  const handshakeFlags = hello.readUInt16BE(16);
  if ((handshakeFlags & HandshakeFlag.FIXED_NEWSTYLE) === 0) throw new NbdClientError('the server does not speak fixed newstyle');
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(ClientFlag.FIXED_NEWSTYLE | (handshakeFlags & HandshakeFlag.NO_ZEROES ? ClientFlag.NO_ZEROES : 0));
  await connection.write(flags);
  return { connection, handshakeFlags };
}

export async function sendOption(connection: Connection, option: number, data?: Uint8Array): Promise<void> {
  await connection.write(encodeOption(option, data));
}

export async function readOptionReply(connection: Connection): Promise<OptionReply> {
  const head = await connection.read(20);
  if (head.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new NbdClientError('an option reply without its magic');
  return { option: head.readUInt32BE(8), type: head.readUInt32BE(12), data: await connection.read(head.readUInt32BE(16)) };
}

export class NbdClient {
  private queue: Promise<unknown> = Promise.resolve();
  private nextCookie = 1n;

  private constructor(
    private readonly connection: Connection,
    readonly size: number,
    readonly flags: number,
    readonly blockSize: { readonly minimum: number; readonly preferred: number; readonly maximum: number } | undefined,
  ) {}

  /** Connects and enters transmission with NBD_OPT_GO on export `name` (the default: ''). */
  static async connect(at: ListenAt, name = ''): Promise<NbdClient> {
    const { connection } = await greet(at);
    await sendOption(connection, Option.GO, encodeInfoRequest(name, [Info.BLOCK_SIZE]));
    let size: number | undefined;
    let flags = 0;
    let blockSize: NbdClient['blockSize'];
    for (;;) {
      const r = await readOptionReply(connection);
      if (r.type === Reply.INFO && r.data.readUInt16BE(0) === Info.EXPORT) {
        size = Number(r.data.readBigUInt64BE(2));
        flags = r.data.readUInt16BE(10);
      } else if (r.type === Reply.INFO && r.data.readUInt16BE(0) === Info.BLOCK_SIZE) {
        blockSize = { minimum: r.data.readUInt32BE(2), preferred: r.data.readUInt32BE(6), maximum: r.data.readUInt32BE(10) };
      } else if (r.type === Reply.ACK) {
        break;
      } else if (r.type >= 2 ** 31) {
        connection.abort();
        throw new NbdClientError(`NBD_OPT_GO refused (reply type 0x${r.type.toString(16)}): ${r.data.toString('utf8')}`);
      }
    }
    if (size === undefined) throw new NbdClientError('NBD_OPT_GO succeeded without NBD_INFO_EXPORT');
    return new NbdClient(connection, size, flags, blockSize);
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.request(Command.READ, 0, offset, length, undefined, length);
  }

  async write(offset: number, data: Uint8Array, { fua = false } = {}): Promise<void> {
    await this.request(Command.WRITE, fua ? CommandFlag.FUA : 0, offset, data.length, data, 0);
  }

  async writeZeroes(offset: number, length: number, { fua = false } = {}): Promise<void> {
    await this.request(Command.WRITE_ZEROES, fua ? CommandFlag.FUA : 0, offset, length, undefined, 0);
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.request(Command.TRIM, 0, offset, length, undefined, 0);
  }

  async flush(): Promise<void> {
    await this.request(Command.FLUSH, 0, 0, 0, undefined, 0);
  }

  /** A raw request, for tests of how the server answers bad ones. */
  async raw(type: number, flags: number, offset: number, length: number, data?: Uint8Array): Promise<void> {
    await this.request(type, flags, offset, length, data, 0);
  }

  /** NBD_CMD_DISC, then waits for the server to close the connection. */
  async disconnect(): Promise<void> {
    await this.queue;
    await this.connection.write(encodeRequest({ flags: 0, type: Command.DISC, cookie: new Uint8Array(8), offset: 0, length: 0 }));
    await this.connection.closed;
  }

  /** Closes without NBD_CMD_DISC, as a killed client would. */
  abort(): void {
    this.connection.abort();
  }

  private request(type: number, flags: number, offset: number, length: number, data: Uint8Array | undefined, replyBytes: number): Promise<Uint8Array> {
    const run = this.queue.then(async () => {
      const cookie = new Uint8Array(8);
      new DataView(cookie.buffer).setBigUint64(0, this.nextCookie++);
      const header = encodeRequest({ flags, type, cookie, offset, length });
      await (data === undefined ? this.connection.write(header) : this.connection.write(header, data));
      const reply = await this.connection.read(16);
      if (reply.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new NbdClientError('a reply without the simple reply magic');
      if (Buffer.compare(reply.subarray(8, 16), cookie) !== 0) throw new NbdClientError('a reply to another request');
      const errno = reply.readUInt32BE(4);
      if (errno !== 0) throw new NbdClientError(`request type ${type} at ${offset}+${length} failed with NBD error ${errno}`, errno);
      return replyBytes === 0 ? new Uint8Array(0) : new Uint8Array(await this.connection.read(replyBytes));
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}
