/**
 * The transmission phase: requests answered with simple replies, one at a time in the order they
 * arrive (the engine behind the export runs one operation at a time anyway). READ, WRITE (FUA
 * honoured), FLUSH, TRIM (accepted and ignored, as the protocol allows: the client may assume
 * nothing of trimmed bytes until it writes them), WRITE_ZEROES, DISC. Every request is checked
 * before the export sees it: a bad one gets the error the protocol names and nothing is written.
 */
import { ConnectionClosedError, type Connection } from './connection.js';
import type { NbdExport } from './export.js';
import { MAX_PAYLOAD } from './handshake.js';
import { Command, CommandFlag, decodeRequest, encodeSimpleReply, NbdError, type Request, REQUEST_BYTES } from './wire.js';

export type TransmissionEnd =
  | { readonly kind: 'disconnect' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'violation'; readonly reason: string };

export interface TransmissionContext {
  readonly connection: Connection;
  readonly export: NbdExport;
  /** Checked between requests: once true, the session ends after the request in hand. */
  readonly stopping: () => boolean;
  /** An export operation failed; the client got NBD_EIO. */
  readonly onError: (what: string, error: unknown) => void;
}

/** The command flags each command may carry; FUA is valid on all of them once negotiated. */
const ALLOWED_FLAGS: Readonly<Record<number, number>> = {
  [Command.READ]: CommandFlag.FUA,
  [Command.WRITE]: CommandFlag.FUA,
  [Command.FLUSH]: CommandFlag.FUA,
  [Command.TRIM]: CommandFlag.FUA,
  [Command.WRITE_ZEROES]: CommandFlag.FUA | CommandFlag.NO_HOLE,
};

export async function transmission(ctx: TransmissionContext): Promise<TransmissionEnd> {
  const { connection } = ctx;
  try {
    for (;;) {
      if (ctx.stopping()) return { kind: 'shutdown' };
      const request = decodeRequest(await connection.read(REQUEST_BYTES));
      if (request === undefined) return { kind: 'violation', reason: 'a request without the request magic' };
      let payload: Buffer | undefined;
      if (request.type === Command.WRITE) {
        if (request.length > MAX_PAYLOAD) return { kind: 'violation', reason: `a write of ${request.length} bytes, over the ${MAX_PAYLOAD}-byte maximum payload` };
        payload = await connection.read(request.length);
      }
      if (request.type === Command.DISC) return { kind: 'disconnect' };
      const { error, data } = await answer(ctx, request, payload);
      if (data !== undefined && error === 0) await connection.write(encodeSimpleReply(0, request.cookie), data);
      else await connection.write(encodeSimpleReply(error, request.cookie));
    }
  } catch (e) {
    if (e instanceof ConnectionClosedError) return { kind: 'closed' };
    throw e;
  }
}

async function answer(ctx: TransmissionContext, r: Request & { readonly offsetBig: bigint }, payload: Buffer | undefined): Promise<{ error: number; data?: Uint8Array }> {
  const exp = ctx.export;
  const allowed = ALLOWED_FLAGS[r.type];
  if (allowed === undefined || (r.flags & ~allowed) !== 0) return { error: NbdError.EINVAL };
  if (r.type === Command.FLUSH) return run(ctx, 'flush', () => exp.flush());
  const writes = r.type !== Command.READ;
  if (writes && exp.readOnly) return { error: NbdError.EPERM };
  if (r.offsetBig + BigInt(r.length) > BigInt(exp.size)) {
    return { error: r.type === Command.WRITE || r.type === Command.WRITE_ZEROES ? NbdError.ENOSPC : NbdError.EINVAL };
  }
  if (r.offset % exp.blockSize !== 0 || r.length % exp.blockSize !== 0) return { error: NbdError.EINVAL };
  if (r.length === 0) return { error: 0, data: new Uint8Array(0) };
  const fua = (r.flags & CommandFlag.FUA) !== 0;
  switch (r.type) {
    case Command.READ: {
      if (r.length > MAX_PAYLOAD) return { error: NbdError.EINVAL };
      let data: Uint8Array | undefined;
      const result = await run(ctx, 'read', async () => {
        data = await exp.read(r.offset, r.length);
      });
      return result.error === 0 ? { error: 0, data: data! } : result;
    }
    case Command.WRITE:
      return run(ctx, 'write', () => exp.write(r.offset, payload!, fua));
    case Command.WRITE_ZEROES:
      return run(ctx, 'write-zeroes', () => exp.writeZeroes(r.offset, r.length, fua));
    default:
      // TRIM: a hint the server may ignore; nothing is discarded, so nothing can be lost.
      return { error: 0 };
  }
}

async function run(ctx: TransmissionContext, what: string, op: () => Promise<void>): Promise<{ error: number }> {
  try {
    await op();
    return { error: 0 };
  } catch (e) {
    ctx.onError(what, e);
    return { error: NbdError.EIO };
  }
}
