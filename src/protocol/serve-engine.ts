/**
 * The engine side of the stdio protocol (docs/protocol.md) for any in-process `EngineFactory`: a
 * TypeScript or JavaScript engine can run out of process, and the protocol's own cost can be
 * measured with the reference engine on both sides of it.
 *
 * It declares `stateless`: each `format` and `open` asks the factory for a new instance, and this
 * side keeps nothing of the last one, so one process can serve them all. Whether the factory keeps
 * something in module state is its own affair, and the harness's audit catches it. It offers the
 * binary framing (./frames.ts), and speaks JSON lines to a harness that does not accept it.
 */
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';
import { CloneBusyError, type EngineFactory, EngineStateError, type Geometry, MetadataError, type RestoreDevices, type RestoreEngine } from '../engine/contract.js';
import { checkFactory } from '../harness/engine-guard.js';
import { PROTOCOL, PROTOCOL_VERSION, STATELESS } from './stdio-engine.js';
import { BINARY, FRAME, frame, FrameReader, IO_DEVICES, IO_OPS, jsonPart, splitBody } from './frames.js';
import { oneAtATime } from './one-at-a-time.js';

type Message = Record<string, unknown>;

const encode = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
const decode = (data: unknown) => (data instanceof Uint8Array ? data : new Uint8Array(Buffer.from(String(data), 'base64')));

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
  /** Set once the harness accepts the binary framing: every message after that is a frame. */
  let frames: FrameReader | undefined;
  const sendIo = (id: number, request: IoRequest) => {
    if (frames === undefined) return send({ type: 'io', id, ...request, ...(request.data === undefined ? {} : { data: encode(request.data) }) });
    const fields = Buffer.alloc(16);
    fields.writeUInt8(IO_DEVICES.indexOf(request.device), 0);
    fields.writeUInt8(IO_OPS.indexOf(request.op), 1);
    fields.writeUInt8(request.fua === true ? 1 : 0, 2);
    fields.writeBigUInt64LE(BigInt(request.offset ?? 0), 4);
    fields.writeUInt32LE(request.length ?? 0, 12);
    output.write(frame(FRAME.io, id, fields, ...(request.data === undefined ? [] : [request.data])));
  };
  const answer = (id: number, value: unknown) => {
    if (frames === undefined) return send({ type: 'result', id, value: value instanceof Uint8Array ? encode(value) : (value ?? null) });
    output.write(value instanceof Uint8Array ? frame(FRAME.result, id, Buffer.alloc(4), value) : frame(FRAME.result, id, jsonPart(value ?? null)));
  };
  const fail = (id: number, error: { kind: string; message: string }) => (frames === undefined ? send({ type: 'error', id, error }) : output.write(frame(FRAME.error, id, jsonPart(error))));
  const waiting = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>();
  let ioId = 0;
  // The protocol allows one I/O request outstanding: an engine's concurrent I/O goes out in turn.
  const turn = oneAtATime();
  /** One per instance: after a power loss, its queued I/O fails here and never reaches the harness. */
  type Life = { alive: boolean };
  let life: Life = { alive: true };
  const io = (request: IoRequest, of: Life): Promise<Message> =>
    turn(
      () =>
        new Promise<Message>((resolve, reject) => {
          if (!of.alive) return reject(new PowerLossError());
          const id = ++ioId;
          waiting.set(id, { resolve, reject });
          sendIo(id, request);
        }),
    );
  const device = (name: keyof RestoreDevices, size: number, sectorSize: number, of: Life): BlockDevice => ({
    size,
    sectorSize,
    read: async (offset, length) => decode((await io({ device: name, op: 'read', offset, length }, of)).data),
    write: async (offset, data, options?: WriteOptions) => void (await io({ device: name, op: 'write', offset, length: data.length, data, fua: options?.fua === true }, of)),
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
        return engine.readSource(args.offset as number, args.length as number);
      case 'writeSource':
        return void (await engine.writeSource(args.offset as number, decode(args.data)));
      case 'flushSource':
        return void (await engine.flushSource());
      case 'readClone':
        return engine.readClone(args.offset as number, args.length as number);
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

  send({ type: 'hello', protocol: PROTOCOL, version: PROTOCOL_VERSION, name: factory.name, capabilities: ['inspect', STATELESS, BINARY] });
  let calls: Promise<void> = Promise.resolve();
  const received = (msg: Message) => {
    if (msg.type === 'framing') {
      frames = new FrameReader('the harness');
      return;
    }
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
      const id = msg.id as number;
      try {
        answer(id, await handle(String(msg.method), (msg.args ?? {}) as Message));
      } catch (e) {
        fail(id, { kind: errorKind(e), message: e instanceof Error ? e.message : String(e) });
      }
    });
  };
  let line: Buffer[] = [];
  input.on('data', (chunk: Buffer) => {
    for (let nl = chunk.indexOf(10); frames === undefined && nl >= 0; nl = chunk.indexOf(10)) {
      const text = Buffer.concat([...line, chunk.subarray(0, nl)]).toString('utf8');
      line = [];
      chunk = chunk.subarray(nl + 1);
      if (text.trim() !== '') received(JSON.parse(text) as Message);
    }
    if (frames === undefined) line.push(chunk);
    else for (const f of frames.push(chunk)) received(unframe(f));
  });
  return new Promise((resolve) => input.on('end', () => void calls.then(() => resolve())));
}

/** A frame from the harness as the message its JSON line would be, data as bytes. */
function unframe(f: { type: number; id: number; body: Buffer }): Message {
  switch (f.type) {
    case FRAME.call: {
      const { json, bytes } = splitBody(f.body, 'call');
      const call = json as { method: string; args: Message };
      // A host write's data follows the JSON (empty for a write of nothing, absent for other calls).
      return { type: 'call', id: f.id, method: call.method, args: call.method.startsWith('write') ? { ...call.args, data: new Uint8Array(bytes) } : call.args };
    }
    case FRAME.ioResult:
      return { type: 'io-result', id: f.id, data: new Uint8Array(f.body) };
    case FRAME.ioError:
      return { type: 'io-error', id: f.id, error: { message: f.body.toString('utf8') } };
    case FRAME.powerLoss:
      return { type: 'power-loss', id: f.id };
    default:
      throw new Error(`the harness sent a frame of type ${f.type}`);
  }
}

interface IoRequest {
  readonly device: keyof RestoreDevices;
  readonly op: 'read' | 'write' | 'flush';
  readonly offset?: number;
  readonly length?: number;
  readonly data?: Uint8Array;
  readonly fua?: boolean;
}
