/**
 * The server's side of the fixed newstyle handshake: greeting, client flags, then option haggling
 * until the client picks the export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME) or leaves (NBD_OPT_ABORT,
 * or a closed socket). NBD_OPT_INFO and NBD_OPT_LIST answer questions; every other option gets
 * NBD_REP_ERR_UNSUP (no TLS, no structured replies), as the baseline requires.
 */
import type { Connection } from './connection.js';
import type { NbdExport } from './export.js';
import {
  ClientFlag,
  decodeInfoRequest,
  encodeOptionReply,
  EXPORT_NAME_PADDING,
  HandshakeFlag,
  IHAVEOPT,
  Info,
  infoBlockSize,
  infoExport,
  infoText,
  NBD_MAGIC,
  Option,
  Reply,
  serverEntry,
} from './wire.js';

/** Sizes this server asks clients to keep to (NBD_INFO_BLOCK_SIZE). */
const PREFERRED_BLOCK = 4096;
export const MAX_PAYLOAD = 32 << 20;
/** Option data beyond this is read and dropped, and the option refused as too big. */
const MAX_OPTION_DATA = 64 << 10;

export type HandshakeOutcome =
  | { readonly kind: 'transmission' }
  /** The client left (NBD_OPT_ABORT) or broke the protocol (`reason` says how). */
  | { readonly kind: 'ended'; readonly reason?: string };

export interface HandshakeContext {
  readonly connection: Connection;
  readonly export: NbdExport;
  readonly transmissionFlags: number;
  /** True once the server is shutting down: options are refused with NBD_REP_ERR_SHUTDOWN. */
  readonly shuttingDown: () => boolean;
}

export async function handshake(ctx: HandshakeContext): Promise<HandshakeOutcome> {
  const { connection } = ctx;
  const greeting = Buffer.alloc(18);
  greeting.writeBigUInt64BE(NBD_MAGIC, 0);
  greeting.writeBigUInt64BE(IHAVEOPT, 8);
  greeting.writeUInt16BE(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES, 16);
  await connection.write(greeting);
  const clientFlags = (await connection.read(4)).readUInt32BE(0);
  if ((clientFlags & ~(ClientFlag.FIXED_NEWSTYLE | ClientFlag.NO_ZEROES)) !== 0) {
    return { kind: 'ended', reason: `unknown client flags 0x${clientFlags.toString(16)}` };
  }
  const noZeroes = (clientFlags & ClientFlag.NO_ZEROES) !== 0;
  for (;;) {
    const head = await connection.read(16);
    if (head.readBigUInt64BE(0) !== IHAVEOPT) return { kind: 'ended', reason: 'an option without the IHAVEOPT magic' };
    const option = head.readUInt32BE(8);
    const length = head.readUInt32BE(12);
    if (length > MAX_OPTION_DATA) {
      await discard(connection, length);
      if (option === Option.EXPORT_NAME) return { kind: 'ended', reason: 'an export name too long to hold' };
      await connection.write(encodeOptionReply(option, Reply.ERR_TOO_BIG));
      continue;
    }
    const data = await connection.read(length);
    const reply = (type: number, body?: Uint8Array) => connection.write(encodeOptionReply(option, type, body));
    if (option === Option.ABORT) {
      await reply(Reply.ACK).catch(() => undefined);
      return { kind: 'ended' };
    }
    if (option === Option.EXPORT_NAME) {
      // No way to answer with an error here: an unknown name or a shutdown ends the session.
      if (ctx.shuttingDown()) return { kind: 'ended', reason: 'the server is shutting down' };
      if (!selects(ctx.export, data.toString('utf8'))) return { kind: 'ended', reason: `no export named ${JSON.stringify(data.toString('utf8'))}` };
      const answer = Buffer.alloc(10 + (noZeroes ? 0 : EXPORT_NAME_PADDING));
      answer.writeBigUInt64BE(BigInt(ctx.export.size), 0);
      answer.writeUInt16BE(ctx.transmissionFlags, 8);
      await connection.write(answer);
      return { kind: 'transmission' };
    }
    if (ctx.shuttingDown()) {
      await reply(Reply.ERR_SHUTDOWN);
      continue;
    }
    if (option === Option.LIST) {
      if (length !== 0) await reply(Reply.ERR_INVALID);
      else {
        await reply(Reply.SERVER, serverEntry(ctx.export.name));
        await reply(Reply.ACK);
      }
      continue;
    }
    if (option === Option.INFO || option === Option.GO) {
      const request = decodeInfoRequest(data);
      if (request === undefined) {
        await reply(Reply.ERR_INVALID);
        continue;
      }
      if (!selects(ctx.export, request.name)) {
        await reply(Reply.ERR_UNKNOWN);
        continue;
      }
      await reply(Reply.INFO, infoExport(ctx.export.size, ctx.transmissionFlags));
      // Sent whether asked or not: the minimum block is the sector, not the protocol's default of 1.
      await reply(Reply.INFO, infoBlockSize(ctx.export.blockSize, Math.max(PREFERRED_BLOCK, ctx.export.blockSize), MAX_PAYLOAD));
      if (request.infos.includes(Info.NAME)) await reply(Reply.INFO, infoText(Info.NAME, ctx.export.name));
      if (request.infos.includes(Info.DESCRIPTION)) await reply(Reply.INFO, infoText(Info.DESCRIPTION, ctx.export.description));
      await reply(Reply.ACK);
      if (option === Option.GO) return { kind: 'transmission' };
      continue;
    }
    await reply(Reply.ERR_UNSUP);
  }
}

/** The empty name is the default export; this server has one. */
function selects(exp: NbdExport, name: string): boolean {
  return name === '' || name === exp.name;
}

async function discard(connection: Connection, length: number): Promise<void> {
  for (let left = length; left > 0; ) {
    const n = Math.min(left, MAX_OPTION_DATA);
    await connection.read(n);
    left -= n;
  }
}
