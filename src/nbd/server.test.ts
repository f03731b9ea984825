/**
 * The server against the project's own client and hand-made messages, over unix sockets in a
 * temporary directory: the handshake (GO, INFO, LIST, ABORT, EXPORT_NAME, unknown options), every
 * command and the errors the protocol names for bad requests, and shutting down with requests in
 * flight. An in-memory export stands in for the engine; src/nbd/serve.test.ts and
 * src/nbd/real-clients.test.ts run the whole command.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { greet, NbdClient, readOptionReply, sendOption } from './client.js';
import type { NbdExport } from './export.js';
import { NbdServer } from './server.js';
import { Command, CommandFlag, encodeInfoRequest, encodeRequest, Info, NbdError, Option, Reply, SIMPLE_REPLY_MAGIC, TransmissionFlag } from './wire.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-nbd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 64 * 1024;

/** An export in memory that records what it was asked, and can be made to fail or to wait. */
class MemoryExport implements NbdExport {
  readonly name = 'disk';
  readonly description = 'a test disk';
  readonly size = SIZE;
  readonly blockSize = 512;
  readonly bytes = new Uint8Array(SIZE);
  /** Bytes a flush has made durable. */
  readonly durable = new Uint8Array(SIZE);
  readonly log: string[] = [];
  failNext = false;
  gate: Promise<void> | undefined;

  constructor(readonly readOnly = false) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    this.log.push(`read ${offset}+${length}`);
    this.maybeFail();
    return this.bytes.slice(offset, offset + length);
  }

  async write(offset: number, data: Uint8Array, fua: boolean): Promise<void> {
    this.log.push(`write ${offset}+${data.length}${fua ? ' fua' : ''}`);
    await this.gate;
    this.maybeFail();
    this.bytes.set(data, offset);
    if (fua) this.durable.set(data, offset);
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    this.log.push(`zero ${offset}+${length}${fua ? ' fua' : ''}`);
    this.bytes.fill(0, offset, offset + length);
  }

  async flush(): Promise<void> {
    this.log.push('flush');
    this.durable.set(this.bytes);
  }

  private maybeFail(): void {
    if (!this.failNext) return;
    this.failNext = false;
    throw new Error('EIO: the disk failed');
  }
}

let sockets = 0;
const servers: NbdServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serving(exp: NbdExport = new MemoryExport(), events = {}): Promise<{ at: { socket: string }; server: NbdServer }> {
  const at = { socket: join(dir, `s${sockets++}.sock`) };
  const server = new NbdServer(exp, events);
  servers.push(server);
  expect(await server.listen(at)).toBe(`nbd+unix:///?socket=${at.socket}`);
  server.open();
  return { at, server };
}

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

describe('the handshake', () => {
  it('NBD_OPT_GO enters transmission with the export\'s size, flags and block sizes', async () => {
    const { at } = await serving();
    const client = await NbdClient.connect(at);
    expect(client.size).toBe(SIZE);
    const F = TransmissionFlag;
    expect(client.flags).toBe(F.HAS_FLAGS | F.SEND_FLUSH | F.SEND_FUA | F.CAN_MULTI_CONN | F.SEND_TRIM | F.SEND_WRITE_ZEROES);
    expect(client.blockSize).toEqual({ minimum: 512, preferred: 4096, maximum: 32 << 20 });
    await client.disconnect();
  });

  it('a read-only export says so and answers writes with EPERM, writing nothing', async () => {
    const exp = new MemoryExport(true);
    const { at } = await serving(exp);
    const client = await NbdClient.connect(at, 'disk');
    expect(client.flags & TransmissionFlag.READ_ONLY).toBe(TransmissionFlag.READ_ONLY);
    expect(client.flags & TransmissionFlag.SEND_TRIM).toBe(0);
    await expect(client.write(0, pattern(512, 1))).rejects.toMatchObject({ errno: NbdError.EPERM });
    await expect(client.raw(Command.WRITE_ZEROES, 0, 0, 512)).rejects.toMatchObject({ errno: NbdError.EPERM });
    expect(exp.log.filter((l) => !l.startsWith('read'))).toEqual([]);
    await client.disconnect();
  });

  it('answers LIST, INFO (name, description) and unknown options, then GO', async () => {
    const { at } = await serving();
    const { connection } = await greet(at);
    await sendOption(connection, Option.LIST);
    const listed = await readOptionReply(connection);
    expect(listed.type).toBe(Reply.SERVER);
    expect(listed.data.subarray(4).toString()).toBe('disk');
    expect((await readOptionReply(connection)).type).toBe(Reply.ACK);

    await sendOption(connection, Option.LIST, Buffer.from('x'));
    expect((await readOptionReply(connection)).type).toBe(Reply.ERR_INVALID);

    for (const option of [Option.STRUCTURED_REPLY, Option.STARTTLS, 9999]) {
      await sendOption(connection, option);
      expect(await readOptionReply(connection)).toMatchObject({ option, type: Reply.ERR_UNSUP });
    }

    await sendOption(connection, Option.INFO, encodeInfoRequest('disk', [Info.NAME, Info.DESCRIPTION]));
    const infos: string[] = [];
    for (let r = await readOptionReply(connection); r.type !== Reply.ACK; r = await readOptionReply(connection)) {
      expect(r.type).toBe(Reply.INFO);
      const type = r.data.readUInt16BE(0);
      infos.push(type === Info.EXPORT ? `export ${r.data.readBigUInt64BE(2)}` : type === Info.BLOCK_SIZE ? 'block size' : `${type} ${r.data.subarray(2).toString()}`);
    }
    expect(infos.sort()).toEqual([`${Info.NAME} disk`, `${Info.DESCRIPTION} a test disk`, 'block size', `export ${SIZE}`].sort());

    await sendOption(connection, Option.GO, encodeInfoRequest('no-such-export', []));
    expect((await readOptionReply(connection)).type).toBe(Reply.ERR_UNKNOWN);
    await sendOption(connection, Option.GO, Buffer.from([0, 0, 0, 9, 1]));
    expect((await readOptionReply(connection)).type).toBe(Reply.ERR_INVALID);
    // Still haggling after all that: GO on the default export works.
    await sendOption(connection, Option.GO, encodeInfoRequest('', []));
    let r = await readOptionReply(connection);
    while (r.type === Reply.INFO) r = await readOptionReply(connection);
    expect(r.type).toBe(Reply.ACK);
    connection.abort();
  });

  it('ABORT is acknowledged and the connection closed', async () => {
    const events: string[] = [];
    const { at } = await serving(new MemoryExport(), { onDisconnect: (_: number, how: string) => events.push(how) });
    const { connection } = await greet(at);
    await sendOption(connection, Option.ABORT);
    expect((await readOptionReply(connection)).type).toBe(Reply.ACK);
    await connection.closed;
    await waitFor(() => events.length === 1);
    expect(events).toEqual(['left during the handshake']);
  });

  it('EXPORT_NAME, the old way in: size and flags, padded unless NO_ZEROES was agreed', async () => {
    const { at } = await serving();
    const { connection } = await greet(at);
    await sendOption(connection, Option.EXPORT_NAME, Buffer.from('disk'));
    // greet() agreed NO_ZEROES, so exactly 10 bytes: size and flags, then a request works.
    const answer = await connection.read(10);
    expect(Number(answer.readBigUInt64BE(0))).toBe(SIZE);
    await connection.write(encodeRequest({ flags: 0, type: Command.READ, cookie: new Uint8Array(8).fill(7), offset: 0, length: 512 }));
    const reply = await connection.read(16 + 512);
    expect(reply.readUInt32BE(0)).toBe(SIMPLE_REPLY_MAGIC);
    expect(reply.readUInt32BE(4)).toBe(0);
    connection.abort();
  });

  it('ends the session on an unknown export name, unknown client flags or a missing magic', async () => {
    const events: string[] = [];
    const { at } = await serving(new MemoryExport(), { onDisconnect: (_: number, how: string) => events.push(how) });
    const a = await greet(at);
    await sendOption(a.connection, Option.EXPORT_NAME, Buffer.from('nope'));
    await a.connection.closed;

    const b = await greet(at);
    await b.connection.write(Buffer.from('not an option at all'));
    await b.connection.closed;
    await waitFor(() => events.length === 2);
    expect(events.sort()).toEqual(['refused: an option without the IHAVEOPT magic', 'refused: no export named "nope"']);
  });
});

describe('transmission', () => {
  it('reads back what it wrote; FUA, FLUSH, TRIM and WRITE_ZEROES reach the export as they should', async () => {
    const exp = new MemoryExport();
    const { at } = await serving(exp);
    const client = await NbdClient.connect(at);
    const data = pattern(4096, 3);
    await client.write(8192, data);
    expect(exp.durable.subarray(8192, 8192 + 4096)).toEqual(new Uint8Array(4096));
    await client.flush();
    expect(exp.durable.subarray(8192, 8192 + 4096)).toEqual(data);
    await client.write(0, pattern(512, 9), { fua: true });
    expect(exp.durable.subarray(0, 512)).toEqual(pattern(512, 9));
    expect(await client.read(8192, 4096)).toEqual(data);
    await client.writeZeroes(8192, 1024);
    expect(await client.read(8192, 1024)).toEqual(new Uint8Array(1024));
    await client.trim(0, 4096);
    expect(exp.log).toEqual(['write 8192+4096', 'flush', 'write 0+512 fua', 'read 8192+4096', 'zero 8192+1024', 'read 8192+1024']);
    await client.disconnect();
  });

  it('refuses bad requests with the error the protocol names, and none reaches the export', async () => {
    const exp = new MemoryExport();
    const { at } = await serving(exp);
    const client = await NbdClient.connect(at);
    const cases: [string, () => Promise<unknown>, number][] = [
      ['an unaligned read', () => client.read(100, 512), NbdError.EINVAL],
      ['a read of a partial block', () => client.read(0, 100), NbdError.EINVAL],
      ['a read past the end', () => client.read(SIZE - 512, 1024), NbdError.EINVAL],
      ['a write past the end', () => client.write(SIZE, pattern(512, 1)), NbdError.ENOSPC],
      ['an unaligned write', () => client.write(1, pattern(512, 1)), NbdError.EINVAL],
      ['write zeroes past the end', () => client.writeZeroes(SIZE - 512, 1024), NbdError.ENOSPC],
      ['a trim past the end', () => client.trim(SIZE, 512), NbdError.EINVAL],
      ['an unknown command', () => client.raw(99, 0, 0, 0), NbdError.EINVAL],
      ['BLOCK_STATUS, never negotiated', () => client.raw(Command.BLOCK_STATUS, 0, 0, 512), NbdError.EINVAL],
      ['a flag the command does not take', () => client.raw(Command.READ, CommandFlag.NO_HOLE, 0, 512), NbdError.EINVAL],
    ];
    for (const [what, request, errno] of cases) {
      await expect(request(), what).rejects.toMatchObject({ errno });
    }
    expect(exp.log).toEqual([]);
    // The session survived every one of them.
    expect(await client.read(0, 512)).toEqual(new Uint8Array(512));
    await client.disconnect();
  });

  it('answers EIO when the export fails, and goes on', async () => {
    const exp = new MemoryExport();
    const errors: string[] = [];
    const { at } = await serving(exp, { onError: (_: number, what: string) => errors.push(what) });
    const client = await NbdClient.connect(at);
    exp.failNext = true;
    await expect(client.write(0, pattern(512, 1))).rejects.toMatchObject({ errno: NbdError.EIO });
    exp.failNext = true;
    await expect(client.read(0, 512)).rejects.toMatchObject({ errno: NbdError.EIO });
    expect(errors).toEqual(['write', 'read']);
    await client.write(0, pattern(512, 2));
    expect(await client.read(0, 512)).toEqual(pattern(512, 2));
    await client.disconnect();
  });

  it('drops a client that sends a request without the magic', async () => {
    const events: string[] = [];
    const { at } = await serving(new MemoryExport(), { onDisconnect: (_: number, how: string) => events.push(how) });
    const client = await NbdClient.connect(at);
    await client.read(0, 512);
    const { connection } = await greet(at);
    await sendOption(connection, Option.GO, encodeInfoRequest('', []));
    for (let r = await readOptionReply(connection); r.type !== Reply.ACK; r = await readOptionReply(connection));
    await connection.write(Buffer.alloc(28, 0x55));
    await connection.closed;
    await waitFor(() => events.length === 1);
    expect(events).toEqual(['refused: a request without the request magic']);
    await client.disconnect();
  });
});

describe('opening', () => {
  it('holds clients that connect between listen() and open() before the handshake, then serves them', async () => {
    const exp = new MemoryExport();
    const server = new NbdServer(exp);
    servers.push(server);
    const at = { socket: join(dir, `s${sockets++}.sock`) };
    await server.listen(at);
    let connected = false;
    const early = NbdClient.connect(at).then((c) => {
      connected = true;
      return c;
    });
    await new Promise((done) => setTimeout(done, 50));
    expect(connected).toBe(false);
    expect(server.connections).toBe(1);
    server.open();
    const client = await early;
    expect(await client.read(0, 512)).toEqual(new Uint8Array(512));
    await client.disconnect();
  });
});

describe('shutting down', () => {
  it('finishes the request in hand, closes idle connections, and accepts no more', async () => {
    const exp = new MemoryExport();
    let release!: () => void;
    exp.gate = new Promise((done) => (release = done));
    const { at, server } = await serving(exp);
    const busy = await NbdClient.connect(at);
    const idle = await NbdClient.connect(at);
    const write = busy.write(0, pattern(512, 5));
    await waitFor(() => exp.log.length === 1);
    const closing = server.close();
    await idle.read(0, 512).then(
      () => expect.fail('an idle connection is closed at once'),
      (e: unknown) => expect(String(e)).toMatch(/closed/),
    );
    release();
    await write;
    await closing;
    expect(exp.bytes.subarray(0, 512)).toEqual(pattern(512, 5));
    await expect(NbdClient.connect(at)).rejects.toThrow();
    expect(server.connections).toBe(0);
  });

  it('replaces a stale unix socket, and refuses a live one or a file that is not a socket', async () => {
    // A socket file nobody listens on, as a SIGKILLed server leaves behind (a clean close removes it).
    const stale = join(dir, 'stale.sock');
    const killed = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(killed.signal).toBe('SIGKILL');
    expect(lstatSync(stale).isSocket()).toBe(true);
    const at = { socket: stale };
    const server = new NbdServer(new MemoryExport());
    servers.push(server);
    await server.listen(at);
    server.open();
    const client = await NbdClient.connect(at);
    await client.disconnect();
    await expect(new NbdServer(new MemoryExport()).listen(at)).rejects.toThrow(/another server is listening on it/);
    writeFileSync(join(dir, 'plain'), 'x');
    await expect(new NbdServer(new MemoryExport()).listen({ socket: join(dir, 'plain') })).rejects.toThrow(/exists and is not a socket/);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((done) => setTimeout(done, 5));
  expect(condition()).toBe(true);
}
