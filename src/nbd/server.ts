/**
 * An NBD server with one export, on a unix socket or a TCP port. Each connection is a handshake
 * then a transmission phase; any number may be open at once (they share the export, which is
 * why CAN_MULTI_CONN is advertised: a flush on one covers the writes of all).
 *
 * Shutting down stops accepting connections, lets every connection finish the request in hand,
 * and then closes it; a connection that is between requests is closed at once.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { Connection, ConnectionClosedError } from './connection.js';
import type { NbdExport } from './export.js';
import { handshake } from './handshake.js';
import { transmission } from './transmission.js';
import { TransmissionFlag } from './wire.js';

export type ListenAt = { readonly socket: string } | { readonly port: number; readonly host: string };

export interface ServerEvents {
  readonly onConnect?: (id: number) => void;
  /** `how`: what ended it (a disconnect, the peer closing, a shutdown, a protocol violation). */
  readonly onDisconnect?: (id: number, how: string) => void;
  /** An export operation failed and the client was answered NBD_EIO. */
  readonly onError?: (id: number, what: string, error: unknown) => void;
}

export function transmissionFlags(exp: NbdExport): number {
  const F = TransmissionFlag;
  const flags = F.HAS_FLAGS | F.SEND_FLUSH | F.SEND_FUA | F.CAN_MULTI_CONN;
  return exp.readOnly ? flags | F.READ_ONLY : flags | F.SEND_TRIM | F.SEND_WRITE_ZEROES;
}

export class NbdServer {
  private readonly server: Server;
  private readonly sessions = new Map<number, { connection: Connection; done: Promise<void> }>();
  private nextId = 1;
  private stopping = false;
  private opened!: () => void;
  /** Connections made before `open()` wait here, before the handshake. */
  private readonly gate = new Promise<void>((done) => (this.opened = done));

  constructor(
    private readonly exp: NbdExport,
    private readonly events: ServerEvents = {},
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  get connections(): number {
    return this.sessions.size;
  }

  /**
   * Takes the address; resolves to where, as a client would name it. Clients may connect from
   * now on but are served only once `open()` is called, so a caller can make the export ready
   * (start a restore, say) knowing the address is its, and no client sees the export before.
   */
  async listen(at: ListenAt): Promise<string> {
    if ('socket' in at) await clearStaleSocket(at.socket);
    await new Promise<void>((done, fail) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const where = 'socket' in at ? at.socket : `${at.host}:${at.port}`;
        fail(new InputError(`cannot listen on ${where}: ${e.code === 'EADDRINUSE' ? 'in use by another program' : e.code === 'EACCES' ? 'permission denied' : e.message}`));
      };
      this.server.once('error', onError);
      const ready = () => {
        this.server.off('error', onError);
        done();
      };
      if ('socket' in at) this.server.listen(at.socket, ready);
      else this.server.listen(at.port, at.host, ready);
    });
    if ('socket' in at) return `nbd+unix:///?socket=${at.socket}`;
    const address = this.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : at.port;
    return `nbd://${at.host.includes(':') ? `[${at.host}]` : at.host}:${port}`;
  }

  /** Serves the clients that connected since `listen()`, and those to come. */
  open(): void {
    this.opened();
  }

  /** Stops accepting, lets each connection finish the request in hand, and waits for all to close. */
  async close(): Promise<void> {
    this.stopping = true;
    this.opened();
    const closed = new Promise<void>((done) => this.server.close(() => done()));
    for (const { connection } of this.sessions.values()) if (connection.waitingForPeer) connection.abort();
    await Promise.all([...this.sessions.values()].map((s) => s.done));
    await closed;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const id = this.nextId++;
    const connection = new Connection(socket);
    this.events.onConnect?.(id);
    const done = this.session(id, connection).then(
      (how) => {
        this.sessions.delete(id);
        this.events.onDisconnect?.(id, how);
      },
      (e: unknown) => {
        connection.abort();
        this.sessions.delete(id);
        this.events.onDisconnect?.(id, `failed: ${(e as Error).message}`);
      },
    );
    this.sessions.set(id, { connection, done });
  }

  private async session(id: number, connection: Connection): Promise<string> {
    const stopping = () => this.stopping;
    const flags = transmissionFlags(this.exp);
    let how: string;
    try {
      await this.gate;
      if (this.stopping) throw new ConnectionClosedError();
      const h = await handshake({ connection, export: this.exp, transmissionFlags: flags, shuttingDown: stopping });
      if (h.kind === 'ended') {
        how = h.reason === undefined ? 'left during the handshake' : `refused: ${h.reason}`;
      } else {
        const end = await transmission({ connection, export: this.exp, stopping, onError: (what, e) => this.events.onError?.(id, what, e) });
        how = end.kind === 'violation' ? `refused: ${end.reason}` : end.kind === 'disconnect' ? 'disconnected' : end.kind === 'closed' ? 'closed by the client' : 'closed for the shutdown';
      }
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) throw e;
      how = this.stopping ? 'closed for the shutdown' : 'closed by the client';
    }
    connection.close();
    await connection.closed;
    return how;
  }
}

/**
 * A unix socket left by a server that was killed (SIGKILL leaves the file behind) is removed; a
 * live one, or a path that is not a socket, is refused.
 */
async function clearStaleSocket(path: string): Promise<void> {
  const s = await lstat(path).catch(() => undefined);
  if (s === undefined) return;
  if (!s.isSocket()) throw new InputError(`--socket ${path}: exists and is not a socket`);
  const live = await new Promise<boolean>((done) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      done(true);
    });
    probe.once('error', () => done(false));
  });
  if (live) throw new InputError(`--socket ${path}: another server is listening on it`);
  await unlink(path);
}
