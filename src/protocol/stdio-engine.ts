/**
 * An out-of-process engine: a child process speaking the stdio protocol (docs/protocol.md),
 * newline-delimited JSON with binary data in base64. The harness serves every device I/O the
 * engine asks for, so the fault layer still numbers and controls every I/O point; a crash kills
 * the process, and the next `open` starts a new one on the surviving images.
 *
 * One process per `format` and per `open`, each in a process group of its own that is ended whole
 * (./process-group.ts). An engine that declares in its handshake that it keeps nothing between
 * engine instances (`stateless`) is a persistent process instead: it serves instance after
 * instance, and a power loss is a message (`power-loss`, the answer to the I/O request in flight)
 * that drops the instance; the harness opens the next one in the same process. Whether it truly
 * keeps nothing is audited (./audit.ts). The timeout is the only wall-clock use in the harness: it bounds every
 * wait on an engine process (its handshake, each call, the `metadataSize` process), and fires only
 * when an engine hangs, ending the run with an error, so it never shapes a trace.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { type BlockDevice, checkIo, IoRangeError } from '../devices/block-device.js';
import { CrashError, EioError } from '../devices/fault-layer.js';
import { EngineProtocolError, InputError, knownOptions, wholeOption } from '../errors.js';
import {
  CloneBusyError,
  type EngineFactory,
  type EngineMaps,
  type EngineStatus,
  EngineStateError,
  type Geometry,
  type InitialDelta,
  MetadataError,
  type RestoreDevices,
  type RestoreEngine,
  type StepResult,
} from '../engine/contract.js';
import { askSync } from './ask-sync.js';
import { auditedOpen, DEFAULT_AUDIT_RATE } from './audit.js';
import { seededRng } from '../devices/rng.js';
import { oneAtATime } from './one-at-a-time.js';
import { endGroup, markResting, spawnEngine } from './process-group.js';
import { ACCEPT_BINARY, ACCEPT_BINARY_PIPELINE, BINARY, PIPELINE, FRAME, type Frame, frame, FRAME_HEADER, FrameReader, IO_DEVICES, IO_FIELDS, IO_OPS, jsonPart, splitBody, typeName } from './frames.js';

export const PROTOCOL = 'prestore-engine';
export const PROTOCOL_VERSION = 1;
/** How long an engine process may stay silent while the harness waits for it, by default. */
export const DEFAULT_TIMEOUT_MS = 10_000;
/** The handshake capability by which an engine declares it keeps nothing between engine instances. */
export const STATELESS = 'stateless';

export { EngineProtocolError };
export { allProcessesEnded, endAll as endEngineProcesses, endRestingProcesses, liveProcesses } from './process-group.js';

export interface StdioOptions {
  /**
   * How long the engine may stay silent while the harness waits for it (its handshake, the answer
   * to a call), and how long the `metadataSize` process may take in all. DEFAULT_TIMEOUT_MS if absent.
   */
  readonly timeoutMs?: number;
  /**
   * Whether one process may serve many engine instances when the engine declares `stateless`
   * (default true). False starts a fresh process for every `format` and `open`, as for an engine
   * that does not declare it: the audit's reference runs.
   */
  readonly persistent?: boolean;
  /**
   * With a persistent process: the share of engine instances (opens) run again in a fresh process
   * and compared, I/O for I/O (./audit.ts). DEFAULT_AUDIT_RATE if absent; 0 audits none, 1 all.
   * Which instances is a seeded draw per open, so the same run audits the same ones.
   */
  readonly auditRate?: number;
  /**
   * The framing to accept: `binary` (the default) when the engine offers it in its handshake
   * (./frames.ts), else JSON lines; `json` keeps JSON lines whatever it offers (to measure one
   * beside the other).
   */
  readonly framing?: 'binary' | 'json';
  /**
   * Whether to accept pipelined device I/O from an engine that offers it with the binary framing
   * (default true): false has it wait for each answer (to measure one beside the other).
   */
  readonly pipeline?: boolean;
  /**
   * How many engine instances a campaign may run alongside each other, each in a process of its
   * own (`EngineFactory.lanes`): DEFAULT_LANES if absent, 1 for one at a time. The verdict is the
   * same; the pipes' round trips overlap.
   */
  readonly lanes?: number;
}

/**
 * Lanes by default: enough that the harness always has an answer to serve while other engine
 * processes think, few enough that their processes stay cheap.
 */
export const DEFAULT_LANES = 4;
/** The most lanes: each is a process the harness keeps. */
export const MAX_LANES = 64;

type DeviceName = keyof RestoreDevices;
const DEVICES: readonly DeviceName[] = ['source', 'clone', 'meta'];
/**
 * With the length a multiple of 4, this is exactly padded base64. No group under a quantifier:
 * V8 runs such a pattern recursively and overflows its stack on a whole-volume read.
 */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decode(text: unknown, what: string): Uint8Array {
  if (text instanceof Uint8Array) return text;
  if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) throw new EngineProtocolError(`${what}: not base64`);
  return new Uint8Array(Buffer.from(text, 'base64'));
}

const encode = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** The engine's error reply, as the error class the harness knows. */
function engineError(error: unknown, method: string): Error {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { kind?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : `${method} failed`;
  switch (e.kind) {
    case 'clone-busy':
      return new CloneBusyError(method);
    case 'state':
      return new EngineStateError(message);
    case 'metadata':
      return new MetadataError(message);
    case 'io':
    case 'other':
      return new Error(message);
    default:
      throw new EngineProtocolError(`the engine answered ${method} with an error of unknown kind ${JSON.stringify(e.kind)}`);
  }
}

/** One engine process: the call in progress, and the device I/O it asks for. */
class EngineProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  /** JSON framing: the start of a line not yet ended. */
  private lineChunks: Buffer[] = [];
  /** Binary framing, once accepted in the handshake (./frames.ts). */
  private frames: FrameReader | undefined;
  /**
   * Pipelined I/O, once accepted: the engine may send requests before reading earlier answers.
   * A request sent before the engine read an `io-error` of its call is skipped, not performed,
   * so the I/O is that of the engine waiting for each answer and stopping at the first error.
   */
  private pipelined = false;
  /** The `io-error` answers of the call in progress, which a pipelined request counts as read. */
  private errorsAnswered = 0;
  private readonly stderr: string[] = [];
  private nextId = 1;
  /** Reply lines seen, counted as they arrive: an I/O request after the last reply is outside any call. */
  private answered = 0;
  private pending: { id: number; method: string; resolve: (v: unknown) => void; reject: (e: Error) => void } | undefined;
  private hello: { resolve: (capabilities: readonly string[]) => void; reject: (e: Error) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: Error | undefined;
  /** Device I/O requests are served one at a time, in the order they arrive. */
  private serving: Promise<void> = Promise.resolve();
  /** The devices of the engine instance being served. */
  private devices: RestoreDevices | undefined;
  /**
   * The call a power loss interrupted, until the engine answers it: its I/O requests get
   * `power-loss` too, and its answer is dropped. The next call waits for `drained`.
   */
  private lostCall: { id: number; method: string; done: () => void } | undefined;
  private drained: Promise<void> = Promise.resolve();
  capabilities: readonly string[] = [];

  constructor(
    command: string,
    private readonly timeoutMs: number,
    private readonly framing: 'binary' | 'json',
    private readonly pipeline: boolean,
  ) {
    this.child = spawnEngine(command);
    this.child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr.push(...chunk.split('\n').filter((l) => l !== ''));
      this.stderr.splice(0, Math.max(0, this.stderr.length - 10));
    });
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', (e) => this.fail(new EngineProtocolError(`cannot start the engine process "${command}": ${e.message}`)));
    // `close`, not `exit`: it comes after the last bytes of standard output and error, so a reply
    // written just before exiting is still read, and the stderr tail holds the whole traceback.
    this.child.on('close', (code, signal) => {
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      this.fail(new EngineProtocolError(`the engine process ${how} ${this.pending ? `during ${this.pending.method}` : this.hello ? 'before its handshake' : 'between calls'}${this.unfinished()}${this.stderrTail()}`));
    });
  }

  /** Waits for the handshake line. */
  start(): Promise<void> {
    return new Promise<readonly string[]>((resolve, reject) => {
      this.hello = { resolve, reject };
      this.arm('the handshake');
    }).then((capabilities) => {
      this.capabilities = capabilities;
    });
  }

  /** Whether the engine declared that it keeps nothing between instances. */
  get stateless(): boolean {
    return this.capabilities.includes(STATELESS);
  }

  /** Why the process can serve no more, once it cannot. */
  get ended(): Error | undefined {
    return this.failure;
  }

  /** A new engine instance on these devices; the process's previous instance is gone. */
  begin(devices: RestoreDevices): void {
    this.devices = devices;
    if (this.child.pid !== undefined) markResting(this.child.pid);
    for (const handle of this.handles()) handle.ref?.();
  }

  /** Between instances an idle process must not keep prestore running: it is ended at exit. */
  rest(): void {
    for (const handle of this.handles()) handle.unref?.();
    if (this.child.pid !== undefined) markResting(this.child.pid, () => this.kill());
  }

  /** The process and its pipes (sockets, which can be unreferenced). */
  private handles(): { ref?: () => void; unref?: () => void }[] {
    return [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as { ref?: () => void; unref?: () => void }[];
  }

  /** A call; `data`, a host write's bytes, travels raw in a frame or as base64 in a JSON line. */
  async call(method: string, args: Record<string, unknown>, data?: Uint8Array): Promise<unknown> {
    await this.drained;
    if (this.failure !== undefined) throw this.failure;
    const id = this.nextId++;
    this.errorsAnswered = 0;
    return new Promise((resolve, reject) => {
      this.pending = { id, method, resolve, reject };
      this.arm(`its answer to ${method}`);
      if (this.frames !== undefined) this.child.stdin.write(frame(FRAME.call, id, jsonPart({ method, args }), ...(data === undefined ? [] : [data])));
      else this.send({ type: 'call', id, method, args: data === undefined ? args : { ...args, data: encode(data) } });
    });
  }

  /** Ends the process and all it started (dispose, or after a crash); nothing waits on it after. */
  kill(): void {
    clearTimeout(this.timer);
    if (this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) endGroup(this.child.pid);
    this.failure ??= new CrashError(undefined);
    // A call queued behind a power loss waits for the engine's answer to the lost call, which a
    // killed process never gives: it fails now, with the rest.
    this.hello?.reject(this.failure);
    this.pending?.reject(this.failure);
    this.hello = undefined;
    this.pending = undefined;
    this.lostCall?.done();
    this.lostCall = undefined;
  }

  private send(message: object): void {
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  /** The answer to a device I/O request: the bytes read, or nothing for a write or flush. */
  private ioResult(id: unknown, bytes?: Uint8Array): void {
    if (this.frames !== undefined) this.child.stdin.write(frame(FRAME.ioResult, id as number, ...(bytes === undefined ? [] : [bytes])));
    else this.send(bytes === undefined ? { type: 'io-result', id } : { type: 'io-result', id, data: encode(bytes) });
  }

  private ioError(id: unknown, message: string): void {
    this.errorsAnswered++;
    if (this.frames !== undefined) this.child.stdin.write(frame(FRAME.ioError, id as number, Buffer.from(message, 'utf8')));
    else this.send({ type: 'io-error', id, error: { kind: 'eio', message } });
  }

  private ioSkipped(id: unknown): void {
    this.child.stdin.write(frame(FRAME.ioSkipped, id as number));
  }

  private ioPowerLoss(id: unknown): void {
    if (this.frames !== undefined) this.child.stdin.write(frame(FRAME.powerLoss, id as number));
    else this.send({ type: 'power-loss', id });
  }

  private arm(what: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail(new EngineProtocolError(`the engine sent nothing for ${this.timeoutMs} ms while the harness waited for ${what}${this.unfinished()} (a hang? --engine-timeout MS sets the bound)`)), this.timeoutMs);
  }

  /** Output the engine began but never finished (a line without its newline, part of a frame): what it said instead of a message. */
  private unfinished(): string {
    if (this.frames !== undefined) return this.frames.unfinished();
    const text = Buffer.concat(this.lineChunks).toString('utf8', 0, 480);
    return text.trim() === '' ? '' : `; it wrote ${JSON.stringify(text.slice(0, 120))} without ending the line`;
  }

  private stderrTail(): string {
    return this.stderr.length === 0 ? '' : `; its last standard error lines:\n  ${this.stderr.join('\n  ')}`;
  }

  /** The first failure ends the process and rejects whatever waits. */
  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.kill();
  }

  private receive(chunk: Buffer): void {
    // A whole-volume read comes in many chunks: scan only the new one, so a long line costs its length.
    for (let nl = chunk.indexOf(10); this.frames === undefined && nl >= 0; nl = chunk.indexOf(10)) {
      const line = (this.lineChunks.length === 0 ? chunk.toString('utf8', 0, nl) : Buffer.concat([...this.lineChunks, chunk.subarray(0, nl)]).toString('utf8')).trim();
      this.lineChunks = [];
      chunk = chunk.subarray(nl + 1);
      if (line !== '' && this.failure === undefined) this.message(line);
    }
    if (this.failure !== undefined || chunk.length === 0) return;
    if (this.frames === undefined) return void this.lineChunks.push(chunk);
    let frames: Frame[];
    try {
      frames = this.frames.push(chunk);
    } catch (e) {
      return this.fail(e as Error);
    }
    // Several frames at once (pipelined requests): their answers go out in one write.
    const corked = frames.length > 1;
    if (corked) this.child.stdin.cork();
    for (const f of frames) {
      if (this.failure !== undefined) break;
      this.received(() => this.unframe(f));
    }
    if (corked) this.serving = this.serving.then(() => this.child.stdin.uncork());
  }

  /** A frame as the message it stands for, in the shape a JSON line has (data as bytes, not base64). */
  private unframe(f: Frame): Record<string, unknown> {
    const what = `the engine's ${typeName(f.type)} frame ${f.id}`;
    switch (f.type) {
      case FRAME.result: {
        const { json, bytes } = splitBody(f.body, what);
        return { type: 'result', id: f.id, value: json === undefined ? new Uint8Array(bytes) : json };
      }
      case FRAME.error:
        return { type: 'error', id: f.id, error: splitBody(f.body, what).json };
      case FRAME.io: {
        const b = f.body;
        const op = IO_OPS[b[1]!]!;
        return { type: 'io', id: f.id, device: IO_DEVICES[b[0]!], op, fua: b[2] === 1, seen: b[3], offset: Number(b.readBigUInt64LE(4)), length: b.readUInt32LE(12), ...(op === 'write' ? { data: b.subarray(IO_FIELDS) } : {}) };
      }
      default:
        throw new EngineProtocolError(`the engine sent a ${typeName(f.type)} frame, which only the harness sends`);
    }
  }

  /**
   * Checks a frame's header as soon as it is in, before its body is waited for: its type, and for
   * an I/O request its device, op and a size that fits both its length and the device.
   */
  private checkFrame(type: number, size: number, head: Buffer): void {
    if (type !== FRAME.io) {
      if (type !== FRAME.result && type !== FRAME.error) throw new EngineProtocolError(`the engine sent a ${typeName(type)} frame, which only the harness sends`);
      return;
    }
    if (head.length < FRAME_HEADER + IO_FIELDS) {
      if (size < FRAME_HEADER + IO_FIELDS) throw new EngineProtocolError(`the engine sent an io frame of ${size} bytes, too short for its fields (${FRAME_HEADER + IO_FIELDS} bytes at least)`);
      return;
    }
    const b = head.subarray(FRAME_HEADER);
    const what = `I/O request ${head.readUInt32LE(5)}`;
    const device = IO_DEVICES[b[0]!];
    const op = IO_OPS[b[1]!];
    if (device === undefined) throw new EngineProtocolError(`${what}: unknown device code ${b[0]} (0 source, 1 clone, 2 meta)`);
    if (op === undefined) throw new EngineProtocolError(`${what}: unknown op code ${b[1]} (0 read, 1 write, 2 flush)`);
    const length = b.readUInt32LE(12);
    const expected = FRAME_HEADER + IO_FIELDS + (op === 'write' ? length : 0);
    if (size !== expected) throw new EngineProtocolError(`${what}: a ${op} of ${device} says length ${length}, so its frame is ${expected} bytes, but its header says ${size}`);
    const dev = this.devices?.[device];
    if (op === 'write' && dev !== undefined && length > dev.size) throw new EngineProtocolError(`${what}: a write of ${length} bytes to ${device}, a device of ${dev.size} bytes`);
  }

  private message(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      return this.fail(new EngineProtocolError(`the engine wrote a line that is not a JSON object: ${JSON.stringify(line.slice(0, 120))}`));
    }
    this.received(() => msg);
  }

  /** One message from the engine, whatever its framing: the timeout re-armed, then dispatched. */
  private received(message: () => Record<string, unknown>): void {
    if (this.pending !== undefined) this.arm(`its answer to ${this.pending.method}`);
    else if (this.lostCall !== undefined) this.arm(`its answer to ${this.lostCall.method} after the power loss`);
    try {
      this.dispatch(message());
    } catch (e) {
      this.fail(e instanceof EngineProtocolError ? e : new EngineProtocolError(String((e as Error).message)));
    }
  }

  private dispatch(msg: Record<string, unknown>): void {
    if (msg.type === 'hello') return this.handshake(msg);
    if (this.hello !== undefined) throw new EngineProtocolError(`the engine's first line must be its handshake, not ${JSON.stringify(msg).slice(0, 120)}`);
    if (msg.type === 'result' || msg.type === 'error') this.answered++;
    // Counted on arrival, in the engine's own order: I/O sent after answering the last call is
    // background I/O the harness cannot place in the run, whenever it happens to be served.
    if (msg.type === 'io' && this.answered >= this.nextId - 1) {
      throw new EngineProtocolError(`the engine asked for device I/O (${JSON.stringify({ ...msg, data: undefined }).slice(0, 120)}) while no call was outstanding; it may do I/O only between a call and its answer`);
    }
    if (msg.type === 'io' || msg.type === 'result' || msg.type === 'error') {
      // In arrival order: I/O one request at a time, and a reply after the I/O asked before it.
      this.serving = this.serving.then(() => (this.failure !== undefined ? undefined : msg.type === 'io' ? this.serve(msg) : this.reply(msg))).catch((e: unknown) => this.fail(e as Error));
      return;
    }
    throw new EngineProtocolError(`the engine sent a message of unknown type ${JSON.stringify(msg.type)}`);
  }

  private handshake(msg: Record<string, unknown>): void {
    if (this.hello === undefined) throw new EngineProtocolError('the engine sent a second handshake');
    const capabilities = checkHello(msg);
    const hello = this.hello;
    this.hello = undefined;
    clearTimeout(this.timer);
    if (this.framing === 'binary' && capabilities.includes(BINARY)) {
      // Accepted before any call: the engine reads this line, and every message after it is a frame.
      this.pipelined = this.pipeline && capabilities.includes(PIPELINE);
      this.child.stdin.write(this.pipelined ? ACCEPT_BINARY_PIPELINE : ACCEPT_BINARY);
      this.frames = new FrameReader('the engine', (type, size, head) => this.checkFrame(type, size, head));
    }
    hello.resolve(capabilities);
  }

  private reply(msg: Record<string, unknown>): void {
    if (this.lostCall !== undefined && msg.id === this.lostCall.id) {
      // Whatever the engine answered a call the power loss interrupted, the harness has moved on.
      const lost = this.lostCall;
      this.lostCall = undefined;
      clearTimeout(this.timer);
      return lost.done();
    }
    const pending = this.pending;
    if (pending === undefined || msg.id !== pending.id) {
      throw new EngineProtocolError(`the engine replied to call ${JSON.stringify(msg.id)}, but ${pending ? `call ${pending.id} (${pending.method})` : 'no call'} was outstanding`);
    }
    this.pending = undefined;
    clearTimeout(this.timer);
    if (msg.type === 'result') pending.resolve(msg.value);
    else pending.reject(engineError(msg.error, pending.method));
  }

  /** One device I/O on the engine's behalf, through the harness's devices (the fault layer). */
  private async serve(msg: Record<string, unknown>): Promise<void> {
    const { id, device, op } = msg;
    const what = `I/O request ${JSON.stringify(id)}`;
    if (!DEVICES.includes(device as DeviceName)) throw new EngineProtocolError(`${what}: unknown device ${JSON.stringify(device)} (source, clone or meta)`);
    if (this.lostCall !== undefined || this.devices === undefined) return this.ioPowerLoss(id);
    if (this.pipelined && msg.seen !== (this.errorsAnswered & 255)) return this.ioSkipped(id);
    const dev: BlockDevice = this.devices[device as DeviceName];
    try {
      if (op === 'read') {
        checkIo(String(device), dev, 'read', msg.offset as number, msg.length as number);
        this.ioResult(id, await dev.read(msg.offset as number, msg.length as number));
      } else if (op === 'write') {
        const data = decode(msg.data, `${what} (write to ${String(device)})`);
        if (msg.length !== undefined && msg.length !== data.length) {
          throw new EngineProtocolError(`${what}: a write to ${String(device)} at offset ${JSON.stringify(msg.offset)} says length ${JSON.stringify(msg.length)} but carries ${data.length} bytes`);
        }
        checkIo(String(device), dev, 'write', msg.offset as number, data.length);
        await dev.write(msg.offset as number, data, { fua: msg.fua === true });
        this.ioResult(id);
      } else if (op === 'flush') {
        await dev.flush();
        this.ioResult(id);
      } else {
        throw new EngineProtocolError(`${what}: unknown op ${JSON.stringify(op)} (read, write or flush)`);
      }
    } catch (e) {
      // A medium error goes back to the engine, which must report it to its caller.
      if (e instanceof EioError) return this.ioError(id, e.message);
      if (e instanceof IoRangeError) throw new EngineProtocolError(`the engine asked for I/O outside the device: ${e.message}`);
      if (e instanceof CrashError && this.stateless) return this.powerLoss(id, e);
      // Anything else, power loss (CrashError) included, ends the process: it dies with the machine,
      // and the call in progress fails with the same error.
      throw e;
    }
  }

  /**
   * Power loss for a persistent process: the instance is dropped, the process lives on. The call
   * in progress fails at once with the crash, as it would had the process died; the engine's own
   * answer to it is awaited before the next call.
   */
  private powerLoss(ioId: unknown, crash: CrashError): void {
    const pending = this.pending!;
    this.pending = undefined;
    this.devices = undefined;
    this.drained = new Promise((done) => {
      this.lostCall = { id: pending.id, method: pending.method, done };
    });
    this.arm(`its answer to ${pending.method} after the power loss`);
    this.ioPowerLoss(ioId);
    pending.reject(crash);
  }
}

/** A handshake this harness can talk to, or the reason not; its capabilities. */
function checkHello(msg: Record<string, unknown>): readonly string[] {
  if (msg.protocol !== PROTOCOL) throw new EngineProtocolError(`the engine's handshake names protocol ${JSON.stringify(msg.protocol)}, not "${PROTOCOL}"`);
  if (msg.version !== PROTOCOL_VERSION) throw new EngineProtocolError(`the engine speaks protocol version ${JSON.stringify(msg.version)}; this harness speaks version ${PROTOCOL_VERSION}`);
  return Array.isArray(msg.capabilities) ? msg.capabilities.filter((c): c is string => typeof c === 'string') : [];
}

/** The engine proxy the harness holds: each contract call is one protocol call. */
function proxy(engine: EngineProcess, release: (engine: EngineProcess) => void): RestoreEngine {
  // A power loss ends the instance, and the harness may never dispose of an instance it crashed:
  // the process goes back to the pool (or is ended) here, or it would outlive the run.
  let released = false;
  // The protocol has one call outstanding at a time: a call the harness makes alongside another
  // (a workload's `alongside` operations) waits for it. Those queued behind a power loss fail with
  // it, never sent: the instance is gone, and the process may already serve the next one.
  const serially = oneAtATime();
  const call = (method: string, args: Record<string, unknown> = {}, data?: Uint8Array) =>
    serially(() => {
      if (released) throw new CrashError(undefined);
      return engine.call(method, args, data).catch((e: unknown) => {
        if (e instanceof CrashError && !released) {
          released = true;
          release(engine);
        }
        throw e;
      });
    });
  const bytes = async (method: string, args: Record<string, unknown>) => decode(await call(method, args), `the reply to ${method}`);
  const proxied: RestoreEngine = {
    readSource: (offset, length) => bytes('readSource', { offset, length }),
    writeSource: async (offset, data) => void (await call('writeSource', { offset }, data)),
    flushSource: async () => void (await call('flushSource')),
    readClone: (offset, length) => bytes('readClone', { offset, length }),
    writeClone: async (offset, data) => void (await call('writeClone', { offset }, data)),
    flushClone: async () => void (await call('flushClone')),
    startRestore: async ({ protect }) => void (await call('startRestore', { protect })),
    step: async () => (await call('step')) as StepResult,
    status: async () => (await call('status')) as EngineStatus,
    dispose: async () => release(engine),
  };
  if (engine.capabilities.includes('inspect')) proxied.inspect = async () => (await call('inspect')) as EngineMaps;
  return proxied;
}

/** `metadataSize` is synchronous in the contract: one short-lived process answers it. */
function askMetadataSize(command: string, geometry: Geometry, timeoutMs: number): number {
  const request = JSON.stringify({ type: 'call', id: 1, method: 'metadataSize', args: { geometry } });
  const run = askSync(command, `${request}\n`, timeoutMs);
  const lines = run.stdout.split('\n');
  const unfinished = lines.pop()!.trim();
  for (const line of lines.filter((l) => l.trim() !== '')) {
    let msg: { type?: unknown; id?: unknown; value?: unknown; error?: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      throw new EngineProtocolError(`the engine wrote a line that is not a JSON object when asked for metadataSize: ${JSON.stringify(line.slice(0, 120))}`);
    }
    if (msg.type === 'hello') checkHello(msg as Record<string, unknown>);
    // The size is the engine's to state: no answer is no engine to run.
    if (msg.type === 'error' && msg.id === 1) throw new EngineProtocolError(`the engine answered metadataSize with an error: ${JSON.stringify(msg.error).slice(0, 200)}`);
    if (msg.type === 'result' && msg.id === 1) {
      if (!Number.isSafeInteger(msg.value) || (msg.value as number) <= 0) throw new EngineProtocolError(`metadataSize: the engine answered ${JSON.stringify(msg.value)}, not a positive whole number of bytes`);
      return msg.value as number;
    }
  }
  const who = `the engine process "${command}"`;
  if (run.spawnError !== undefined) throw new EngineProtocolError(`cannot start ${who}: ${run.spawnError}`);
  const stderr = run.stderr.trim().split('\n').slice(-5).join('\n  ');
  const said = `${unfinished === '' ? '' : `; it wrote ${JSON.stringify(unfinished.slice(0, 120))} without ending the line`}${stderr === '' ? '' : `; its last standard error lines:\n  ${stderr}`}`;
  if (run.timedOut) throw new EngineProtocolError(`${who} did not answer metadataSize within ${timeoutMs} ms (a hang? --engine-timeout MS sets the bound)${said}`);
  const how = run.signal !== null ? `was killed by ${run.signal}` : `exited with code ${run.code}`;
  throw new EngineProtocolError(`${who} ${how} before it answered metadataSize${said}`);
}

export function stdioEngine(command: string, options: StdioOptions = {}): EngineFactory {
  if (typeof command !== 'string' || command.trim() === '') throw new InputError(`stdioEngine: command ${JSON.stringify(command)} must be a non-empty string`);
  knownOptions('stdioEngine', options, ['timeoutMs', 'persistent', 'auditRate', 'framing', 'pipeline', 'lanes']);
  if (options.pipeline !== undefined && typeof options.pipeline !== 'boolean') throw new InputError(`stdioEngine: options.pipeline: ${String(options.pipeline)} must be true or false`);
  if (options.framing !== undefined && options.framing !== 'binary' && options.framing !== 'json') throw new InputError(`stdioEngine: options.framing: ${String(options.framing)} must be "binary" or "json"`);
  const framing = options.framing ?? 'binary';
  const timeoutMs = options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : wholeOption('stdioEngine: options.timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1);
  const lanes = options.lanes === undefined ? DEFAULT_LANES : wholeOption('stdioEngine: options.lanes', options.lanes, 1, MAX_LANES);
  if (options.persistent !== undefined && typeof options.persistent !== 'boolean') throw new InputError(`stdioEngine: options.persistent: ${String(options.persistent)} must be true or false`);
  const persistent = options.persistent !== false;
  const auditRate = options.auditRate ?? DEFAULT_AUDIT_RATE;
  if (typeof auditRate !== 'number' || !(auditRate >= 0 && auditRate <= 1)) throw new InputError(`stdioEngine: options.auditRate: ${String(auditRate)} must be a number from 0 to 1`);
  const shared: Shared = { command, options, framing, pipeline: options.pipeline !== false, timeoutMs, persistent, auditRate, sizes: new Map(), stateless: false };
  const first = lane(shared, 0);
  let all: readonly EngineFactory[] | undefined;
  if (lanes > 1) first.lanes = () => (all ??= [first, ...Array.from({ length: lanes - 1 }, (_, i) => lane(shared, i + 1))]);
  return first;
}

/** What the lanes of one `stdioEngine` share: its options, the metadata sizes asked, what the engine declared. */
interface Shared {
  readonly command: string;
  readonly options: StdioOptions;
  readonly framing: 'binary' | 'json';
  readonly pipeline: boolean;
  readonly timeoutMs: number;
  readonly persistent: boolean;
  readonly auditRate: number;
  readonly sizes: Map<string, number>;
  /** Whether the engine declared `stateless`, once a process has said. */
  stateless: boolean;
}

/** One lane: its own processes, and its own seeded draw of the instances to audit. */
function lane(shared: Shared, index: number): EngineFactory {
  const { command, options, framing, pipeline, timeoutMs, persistent, auditRate, sizes } = shared;
  const mine: EngineProcess[] = [];
  const draws = seededRng(index === 0 ? `audit/${command}` : `audit/${command}/lane ${index}`);
  /** Fresh processes for the audit, lazily: most runs audit few instances. */
  let fresh: EngineFactory | undefined;
  /** A process for a new instance: an idle persistent one if there is one, else a new one. */
  const acquire = async (devices: RestoreDevices) => {
    for (let engine = mine.pop(); engine !== undefined; engine = mine.pop()) {
      // An idle process that broke the protocol on its own (exited, wrote garbage) ends the run.
      if (engine.ended instanceof EngineProtocolError) throw engine.ended;
      if (engine.ended !== undefined) continue;
      engine.begin(devices);
      return engine;
    }
    const engine = new EngineProcess(command, timeoutMs, framing, pipeline);
    engine.begin(devices);
    await engine.start();
    shared.stateless = engine.stateless;
    return engine;
  };
  /** Done with an instance: a persistent process waits for the next one; any other is ended. */
  const release = (engine: EngineProcess) => {
    if (persistent && engine.stateless && engine.ended === undefined) {
      engine.rest();
      mine.push(engine);
    } else {
      engine.kill();
    }
  };
  const openIn = async (devices: RestoreDevices, geometry: Geometry) => {
    const engine = await acquire(devices);
    try {
      await engine.call('open', { geometry });
    } catch (e) {
      release(engine);
      throw e;
    }
    let released = false;
    return proxy(engine, (e) => {
      if (!released) release(e);
      released = true;
    });
  };
  return {
    name: `cmd: ${command}`,
    metadataSize(geometry) {
      const key = JSON.stringify(geometry);
      if (!sizes.has(key)) sizes.set(key, askMetadataSize(command, geometry, timeoutMs));
      return sizes.get(key)!;
    },
    async format(devices: RestoreDevices, geometry: Geometry, delta: InitialDelta) {
      const engine = await acquire(devices);
      try {
        await engine.call('format', { geometry, delta });
      } finally {
        release(engine);
      }
    },
    async open(devices: RestoreDevices, geometry: Geometry) {
      const audit = draws.next() < auditRate;
      if (audit && persistent && shared.stateless) {
        fresh ??= stdioEngine(command, { ...options, persistent: false, lanes: 1 });
        return auditedOpen(devices, (d) => openIn(d, geometry), (d) => fresh!.open(d, geometry));
      }
      return openIn(devices, geometry);
    },
  };
}
