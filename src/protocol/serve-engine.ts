/**
 * The engine side of the stdio protocol (docs/protocol.md) for any in-process `EngineFactory`: a
 * TypeScript or JavaScript engine can run out of process, and the protocol's own cost can be
 * measured with the reference engine on both sides of it.
 *
 * It declares `stateless`: each `format` and `open` asks the factory for a new instance, and this
 * side keeps nothing of the last one, so one process can serve them all. Whether the factory keeps
 * something in module state is its own affair, and the harness's audit catches it.
 */
import { createInterface } from 'node:readline';
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';
import { CloneBusyError, type EngineFactory, EngineStateError, type Geometry, MetadataError, type RestoreDevices, type RestoreEngine } from '../engine/contract.js';
import { checkFactory } from '../harness/engine-guard.js';
import { PROTOCOL, PROTOCOL_VERSION, STATELESS } from './stdio-engine.js';

type Message = Record<string, unknown>;

const encode = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const decode = (text: unknown) => new Uint8Array(Buffer.from(String(text), 'base64'));

/** The harness's answer to the I/O in flight when power was lost: the instance is gone. */
class PowerLossError extends Error {
  constructor() {
    super('power lost');
    this.name = 'PowerLossError';
  }
}

function errorKind(e: unknown): string {
  if (e instanceof PowerLossError) return 'power-loss';
  if (e instanceof CloneBusyError) return 'clone-busy';
  if (e instanceof EngineStateError) return 'state';
  if (e instanceof MetadataError) return 'metadata';
  return e instanceof Error && e.name === 'DeviceIoError' ? 'io' : 'other';
}

class DeviceIoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceIoError';
  }
}

export function serveEngine(factory: EngineFactory, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  checkFactory(factory, 'serveEngine: factory');
  const send = (m: Message) => output.write(`${JSON.stringify(m)}\n`);
  const waiting = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  let ioId = 0;
  // The protocol allows one I/O request outstanding: an engine's concurrent I/O goes out in turn.
  let turn: Promise<unknown> = Promise.resolve();
  /** One per instance: after a power loss, its queued I/O fails here and never reaches the harness. */
  type Life = { alive: boolean };
  let life: Life = { alive: true };
  const io = (request: Message, of: Life): Promise<Message> => {
    const next = turn.then(
      () =>
        new Promise<Message>((resolve, reject) => {
          if (!of.alive) return reject(new PowerLossError());
          const id = ++ioId;
          waiting.set(id, { resolve, reject });
          send({ type: 'io', id, ...request });
        }),
    );
    turn = next.catch(() => undefined);
    return next;
  };
  const device = (name: keyof RestoreDevices, size: number, sectorSize: number, of: Life): BlockDevice => ({
    size,
    sectorSize,
    read: async (offset, length) => decode((await io({ device: name, op: 'read', offset, length }, of)).data),
    write: async (offset, data, options?: WriteOptions) => void (await io({ device: name, op: 'write', offset, length: data.length, data: encode(data), fua: options?.fua === true }, of)),
    flush: async () => void (await io({ device: name, op: 'flush' }, of)),
  });
  /** Devices for a new instance; the one before it is gone. */
  const devicesFor = (g: Geometry): RestoreDevices => {
    life.alive = false;
    life = { alive: true };
    return {
      source: device('source', g.volumeSize, g.sectorSize, life),
      clone: device('clone', g.volumeSize, g.sectorSize, life),
      meta: device('meta', factory.metadataSize(g), g.sectorSize, life),
    };
  };

  let engine: RestoreEngine | undefined;
  const handle = async (method: string, args: Message): Promise<unknown> => {
    const geometry = args.geometry as Geometry;
    if (method === 'metadataSize') return factory.metadataSize(geometry);
    if (method === 'format') return void (await factory.format(devicesFor(geometry), geometry, args.delta as never));
    if (method === 'open') return void (engine = await factory.open(devicesFor(geometry), geometry));
    if (engine === undefined) throw new EngineStateError(`${method} before open`);
    switch (method) {
      case 'readSource':
        return encode(await engine.readSource(args.offset as number, args.length as number));
      case 'writeSource':
        return void (await engine.writeSource(args.offset as number, decode(args.data)));
      case 'flushSource':
        return void (await engine.flushSource());
      case 'readClone':
        return encode(await engine.readClone(args.offset as number, args.length as number));
      case 'writeClone':
        return void (await engine.writeClone(args.offset as number, decode(args.data)));
      case 'flushClone':
        return void (await engine.flushClone());
      case 'startRestore':
        return void (await engine.startRestore({ protect: args.protect === true }));
      case 'step':
        return engine.step();
      case 'status':
        return engine.status();
      case 'inspect':
        return engine.inspect?.();
      default:
        throw new Error(`unknown method ${method}`);
    }
  };

  send({ type: 'hello', protocol: PROTOCOL, version: PROTOCOL_VERSION, name: factory.name, capabilities: ['inspect', STATELESS] });
  let calls: Promise<void> = Promise.resolve();
  const lines = createInterface({ input });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const msg = JSON.parse(line) as Message;
    if (msg.type === 'io-result' || msg.type === 'io-error' || msg.type === 'power-loss') {
      const w = waiting.get(msg.id as number);
      waiting.delete(msg.id as number);
      if (msg.type === 'power-loss') {
        life.alive = false;
        engine = undefined;
        w?.reject(new PowerLossError());
      } else if (msg.type === 'io-result') w?.resolve(msg);
      else w?.reject(new DeviceIoError(String((msg.error as Message | undefined)?.message ?? 'I/O error')));
      return;
    }
    calls = calls.then(async () => {
      try {
        send({ type: 'result', id: msg.id, value: (await handle(String(msg.method), (msg.args ?? {}) as Message)) ?? null });
      } catch (e) {
        send({ type: 'error', id: msg.id, error: { kind: errorKind(e), message: e instanceof Error ? e.message : String(e) } });
      }
    });
  });
  return new Promise((resolve) => lines.on('close', () => void calls.then(() => resolve())));
}
