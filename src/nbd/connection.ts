/**
 * A socket as the protocol reads it: "exactly n bytes" at a time, and writes that wait for the
 * socket to drain, so neither a client that pipelines many writes nor a slow reader of large
 * replies makes the server buffer without bound.
 */
import type { Socket } from 'node:net';

/** The peer closed the connection (or it failed) before the bytes asked for arrived. */
export class ConnectionClosedError extends Error {
  constructor(message = 'the connection closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

/** Bytes buffered beyond what the current read needs before the socket is paused. */
const HIGH_WATER = 1 << 20;

export class Connection {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: { readonly n: number; resolve(b: Buffer): void; reject(e: Error): void } | undefined;
  private ended = false;
  /** Resolves once the socket has closed, for whatever reason. */
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    this.closed = new Promise((done) => socket.once('close', () => done()));
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.pump();
      if (this.waiter === undefined && this.buffered >= HIGH_WATER) socket.pause();
    });
    const end = () => {
      this.ended = true;
      this.pump();
    };
    socket.on('end', end);
    socket.on('close', end);
    // An error is followed by 'close'; the reader learns of it as a closed connection.
    socket.on('error', () => undefined);
  }

  /** True while nothing is buffered and a read waits: the peer has sent no request yet. */
  get waitingForPeer(): boolean {
    return this.waiter !== undefined && this.buffered < this.waiter.n;
  }

  /** Exactly `n` bytes, or a ConnectionClosedError if the connection ends first. */
  read(n: number): Promise<Buffer> {
    if (this.waiter !== undefined) throw new Error('Connection.read: one read at a time');
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    const result = new Promise<Buffer>((resolve, reject) => {
      this.waiter = { n, resolve, reject };
    });
    this.pump();
    this.socket.resume();
    return result;
  }

  /** Writes `parts` back to back; resolves once the socket can take more. */
  async write(...parts: readonly Uint8Array[]): Promise<void> {
    if (this.socket.destroyed) throw new ConnectionClosedError();
    this.socket.cork();
    let room = true;
    for (const p of parts) room = this.socket.write(p);
    this.socket.uncork();
    if (!room) {
      await new Promise<void>((done) => {
        const finish = () => {
          this.socket.off('drain', finish);
          this.socket.off('close', finish);
          done();
        };
        this.socket.on('drain', finish);
        this.socket.on('close', finish);
      });
    }
    if (this.socket.destroyed) throw new ConnectionClosedError();
  }

  /** Sends what is queued, then closes. */
  close(): void {
    this.socket.end();
    this.socket.destroySoon();
  }

  /** Closes at once: a hard disconnect. */
  abort(): void {
    this.socket.destroy();
  }

  private pump(): void {
    const w = this.waiter;
    if (w === undefined) return;
    if (this.buffered >= w.n) {
      this.waiter = undefined;
      w.resolve(this.take(w.n));
    } else if (this.ended) {
      this.waiter = undefined;
      w.reject(new ConnectionClosedError());
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - at);
        c.copy(out, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
