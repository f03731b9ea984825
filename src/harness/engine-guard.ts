/**
 * The harness's guard around an engine it must not trust: every answer the engine gives is checked
 * before the checker reads it, every call is bounded in time, and each call is published to a
 * watchdog in another thread when one watches. An engine that returns a value of the wrong shape,
 * or hangs, ends the run with `EngineMisbehaviourError` naming the engine, the call and the value:
 * no verdict can be given about it, so there is none, neither green nor a rule violation.
 *
 * The guard makes no call of its own and changes no argument, so the engine's I/O trace is the
 * same with it as without. Its timer is wall-clock, but it fires only when an engine hangs, ending
 * the run: it never shapes a trace.
 */
import { EngineMisbehaviourError, InputError } from '../errors.js';
import { type EngineFactory, type EngineMaps, type EngineStatus, extentCount, type Geometry, type InitialDelta, type RestoreDevices, type RestoreEngine, type StepResult } from '../engine/contract.js';

/** How long one engine call may take before the run ends as a hang, unless told otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/**
 * The largest metadata device an engine may ask for: 1 GiB. The harness holds the metadata
 * device in memory and copies it at every crash point; an engine's state (two maps of one bit
 * per extent, a few superblocks, perhaps a journal) is a small fraction of that for any volume
 * the harness simulates.
 */
export const MAX_METADATA_BYTES = 2 ** 30;

/** Told of each engine call as it starts and ends, so that a watchdog can name a call that never ends. */
export interface CallMonitor {
  /** `call` names the engine and the method: `engine "x": step()`. */
  begin(call: string): void;
  end(): void;
}

export interface GuardOptions {
  /** Milliseconds one engine call may take; a call still running then ends the run (default 10 s). */
  readonly callTimeoutMs?: number;
  /** Told of every call, for a watchdog that can stop a thread an engine blocks. */
  readonly callMonitor?: CallMonitor;
}

const REQUIRED_METHODS = ['readSource', 'writeSource', 'flushSource', 'readClone', 'writeClone', 'flushClone', 'startRestore', 'step', 'status'] as const;
const OPTIONAL_METHODS = ['inspect', 'dispose'] as const;

const guarded = new WeakSet<EngineFactory>();

/** Checks the shape of an EngineFactory, naming every member that is missing or wrong. */
export function checkFactory(value: unknown, what: string): EngineFactory {
  if (typeof value !== 'object' || value === null) throw new EngineMisbehaviourError(`${what} is not an EngineFactory: it is ${value === null ? 'null' : typeof value}, not an object`);
  const v = value as Record<string, unknown>;
  const wrong: string[] = [];
  if (typeof v.name !== 'string' || v.name === '') wrong.push('name (a non-empty string)');
  for (const method of ['metadataSize', 'format', 'open']) if (typeof v[method] !== 'function') wrong.push(`${method}() (a function)`);
  if (v.withOptions !== undefined && typeof v.withOptions !== 'function') wrong.push('withOptions() (a function, when given)');
  if (v.lanes !== undefined && typeof v.lanes !== 'function') wrong.push('lanes() (a function, when given)');
  if (wrong.length > 0) throw new EngineMisbehaviourError(`${what} is not an EngineFactory: it lacks ${wrong.join(', ')}`);
  return value as EngineFactory;
}

/** The most `setTimeout` can wait. */
export const MAX_CALL_TIMEOUT_MS = 2 ** 31 - 1;

/** The call timeout given from code, checked: a whole number of milliseconds. */
function checkCallTimeout(ms: unknown): number {
  if (ms === undefined) return DEFAULT_CALL_TIMEOUT_MS;
  if (!Number.isSafeInteger(ms) || (ms as number) < 1 || (ms as number) > MAX_CALL_TIMEOUT_MS) throw new InputError(`callTimeoutMs: ${String(ms)} must be a whole number of milliseconds from 1 to ${MAX_CALL_TIMEOUT_MS}`);
  return ms as number;
}

/** `factory`, with every answer checked and every call bounded; a factory already guarded is returned as it is. */
export function guardEngine(factory: EngineFactory, options: GuardOptions = {}): EngineFactory {
  if (guarded.has(factory)) return factory;
  checkFactory(factory, 'the engine');
  const monitor = options.callMonitor as Partial<CallMonitor> | undefined;
  if (monitor !== undefined && (typeof monitor.begin !== 'function' || typeof monitor.end !== 'function')) throw new InputError('callMonitor must have begin(call) and end()');
  const guard = new Guard(factory.name, checkCallTimeout(options.callTimeoutMs), options.callMonitor);
  const wrapped: EngineFactory = {
    name: factory.name,
    metadataSize: (geometry: Geometry) =>
      guard.sync('metadataSize', () => factory.metadataSize(geometry), (size) =>
        Number.isSafeInteger(size) && size >= 1 && size <= MAX_METADATA_BYTES ? undefined : `it must be a whole number of bytes from 1 to ${MAX_METADATA_BYTES} (1 GiB)`,
      ),
    // Formatting runs on bare devices, before any fault: no failure of it is an allowed outcome.
    format: (devices: RestoreDevices, geometry: Geometry, delta: InitialDelta) => guard.call('format', () => factory.format(devices, geometry, delta), undefined, true),
    open: async (devices: RestoreDevices, geometry: Geometry) => guardedEngine(guard, await guard.call('open', () => factory.open(devices, geometry), checkOpened), extentCount(geometry)),
  };
  const { withOptions } = factory;
  if (withOptions !== undefined) {
    // The tuned engine is checked and bounded as this one is.
    wrapped.withOptions = (tuning) => guardEngine(checkFactory(withOptions.call(factory, tuning), `${factory.name}: the factory withOptions() returned`), options);
  }
  const { lanes } = factory;
  if (lanes !== undefined) {
    // A guard each: a guard bounds one call at a time. The watchdog's monitor, which follows one
    // call per thread, stays with the factory itself; the time bound covers every lane.
    wrapped.lanes = () => {
      const all: unknown = lanes.call(factory);
      if (!Array.isArray(all) || all.length === 0) throw new EngineMisbehaviourError(`engine "${factory.name}": lanes() returned ${describe(all)}; it must be a non-empty array of EngineFactory`);
      return all.map((lane, i) => guardEngine(checkFactory(lane, `${factory.name}: lane ${i}`), { callTimeoutMs: options.callTimeoutMs }));
    };
  }
  guarded.add(wrapped);
  return wrapped;
}

/** The engine an `open` gave, each call bounded and each answer checked against the geometry. */
function guardedEngine(guard: Guard, engine: RestoreEngine, extents: number): RestoreEngine {
  const bytes = (length: number) => (value: unknown) => (isBytes(value) && value.length === length ? undefined : `it must be a Uint8Array of the ${length} bytes asked for`);
  const out: RestoreEngine = {
    readSource: (offset, length) => guard.call('readSource', () => engine.readSource(offset, length), bytes(length)),
    writeSource: (offset, data) => guard.call('writeSource', () => engine.writeSource(offset, data)),
    flushSource: () => guard.call('flushSource', () => engine.flushSource()),
    readClone: (offset, length) => guard.call('readClone', () => engine.readClone(offset, length), bytes(length)),
    writeClone: (offset, data) => guard.call('writeClone', () => engine.writeClone(offset, data)),
    flushClone: () => guard.call('flushClone', () => engine.flushClone()),
    startRestore: (options) => guard.call('startRestore', () => engine.startRestore(options)),
    step: () => guard.call('step', () => engine.step(), (value) => checkStep(value, extents)),
    status: () => guard.call('status', () => engine.status(), (value) => checkStatus(value, extents)),
  };
  const { inspect, dispose } = engine;
  if (inspect !== undefined) out.inspect = () => guard.call('inspect', () => inspect.call(engine), (value) => checkMaps(value, extents));
  if (dispose !== undefined) out.dispose = () => guard.call('dispose', () => dispose.call(engine));
  return out;
}

/**
 * The timeout's timer ticks this many times per timeout while a call is in progress: a call seen
 * in progress at more ticks than this in a row has run for at least the timeout. One timer per
 * engine, not one per call: a timer set and cleared on every call would cost more than the
 * checks themselves.
 */
const TICKS = 4;

/** One engine's calls: bounded, published, and after the first misbehaviour refused outright. */
class Guard {
  /** The first misbehaviour: every later call fails with it, so a hung engine is never asked again. */
  private failure: EngineMisbehaviourError | undefined;
  /**
   * The calls in progress, by their number, and how to end each as hung: usually one, several
   * when the harness issues operations alongside each other.
   */
  private readonly current = new Map<number, { readonly method: string; readonly reject: (e: Error) => void }>();
  /** Calls begun so far: the same count at two ticks means the same call. */
  private begun = 0;
  private watched = { call: -1, ticks: 0 };
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly engine: string,
    private readonly timeoutMs: number,
    private readonly monitor: CallMonitor | undefined,
  ) {}

  /** A synchronous call: it cannot be interrupted here; the watchdog sees it through the monitor. */
  sync<T>(method: string, fn: () => T, check: (value: T) => string | undefined): T {
    if (this.failure !== undefined) throw this.failure;
    this.monitor?.begin(this.label(method));
    try {
      let value: T;
      try {
        value = fn();
      } catch (e) {
        if (e instanceof EngineMisbehaviourError) throw e;
        throw this.fail(`${method}() threw: ${messageOf(e)}`);
      }
      const wrong = check(value);
      if (wrong !== undefined) throw this.fail(`${method}() returned ${describe(value)}; ${wrong}`);
      return value;
    } finally {
      this.monitor?.end();
    }
  }

  /**
   * An async call, ended as hung once it has run for the timeout. Its rejections are the engine's
   * to give (a crash, an I/O error, "clone busy") and pass through, unless `mustSucceed`.
   */
  async call<T>(method: string, fn: () => Promise<T>, check?: (value: T) => string | undefined, mustSucceed = false): Promise<T> {
    if (this.failure !== undefined) throw this.failure;
    this.monitor?.begin(this.label(method));
    const id = ++this.begun;
    try {
      let value: T;
      try {
        value = await new Promise<T>((resolve, reject) => {
          this.current.set(id, { method, reject });
          this.arm();
          let pending: Promise<T>;
          try {
            pending = fn();
          } catch (e) {
            // A method that throws instead of rejecting: the same outcome to the checker.
            pending = Promise.reject(e);
          }
          Promise.resolve(pending).then(resolve, reject);
        });
      } catch (e) {
        if (e instanceof EngineMisbehaviourError || !mustSucceed) throw e;
        throw this.fail(`${method}() failed: ${messageOf(e)}`);
      } finally {
        this.current.delete(id);
        // Between calls the timer keeps nothing alive: a finished campaign lets its process end.
        if (this.current.size === 0) this.ticker?.unref();
      }
      const wrong = check?.(value);
      if (wrong !== undefined) throw this.fail(`${method}() returned ${describe(value)}; ${wrong}`);
      return value;
    } finally {
      this.monitor?.end();
    }
  }

  /** The timer runs while calls do: set once, held by each call in progress. */
  private arm(): void {
    if (this.ticker === undefined) this.ticker = setTimeout(() => this.tick(), this.timeoutMs / TICKS);
    else this.ticker.ref();
  }

  private tick(): void {
    this.ticker = undefined;
    const [oldest] = this.current.values();
    if (oldest === undefined) return;
    this.watched = this.watched.call === this.begun ? { call: this.begun, ticks: this.watched.ticks + 1 } : { call: this.begun, ticks: 1 };
    if (this.watched.ticks > TICKS) {
      // No call has begun for the timeout while these were in progress: the oldest hung (the
      // others, if any, issued alongside it, wait with it). All end with its failure.
      const failure = this.fail(`${oldest.method}() did not return within ${this.timeoutMs} ms, the call timeout (a hang?); the run was stopped, so there is no verdict`);
      for (const call of this.current.values()) call.reject(failure);
      return;
    }
    this.arm();
  }

  private label(method: string): string {
    return `engine "${this.engine}": ${method}()`;
  }

  private fail(what: string): EngineMisbehaviourError {
    this.failure ??= new EngineMisbehaviourError(`engine "${this.engine}": ${what}`);
    return this.failure;
  }
}

function checkOpened(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'it must be the open engine, an object with the RestoreEngine methods';
  const v = value as Record<string, unknown>;
  const missing = REQUIRED_METHODS.filter((m) => typeof v[m] !== 'function');
  const wrong = OPTIONAL_METHODS.filter((m) => v[m] !== undefined && typeof v[m] !== 'function');
  if (missing.length > 0) return `the engine it opened lacks ${missing.map((m) => `${m}()`).join(', ')}`;
  if (wrong.length > 0) return `the engine it opened has ${wrong.map((m) => `${m}`).join(', ')} that is not a function`;
  return undefined;
}

const isCount = (value: unknown, extents: number): boolean => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= extents;

function checkStep(value: unknown, extents: number): string | undefined {
  const v = value as Partial<StepResult> | null;
  const shape = `it must be { remaining: 0..${extents}, done: true or false }, and remaining 0 when done`;
  if (typeof v !== 'object' || v === null || !isCount(v.remaining, extents) || typeof v.done !== 'boolean') return shape;
  return v.done && v.remaining !== 0 ? shape : undefined;
}

function checkStatus(value: unknown, extents: number): string | undefined {
  const v = value as Partial<EngineStatus & { protect: unknown; extentsRemaining: unknown }> | null;
  if (typeof v === 'object' && v !== null && v.state === 'fractured') return undefined;
  if (typeof v === 'object' && v !== null && v.state === 'restoring' && typeof v.protect === 'boolean' && isCount(v.extentsRemaining, extents)) return undefined;
  return `it must be { state: "fractured" } or { state: "restoring", protect: true or false, extentsRemaining: 0..${extents} }`;
}

function checkMaps(value: unknown, extents: number): string | undefined {
  const v = value as Partial<EngineMaps> | null;
  const map = (m: unknown) => Array.isArray(m) && m.length === extents && m.every((bit) => typeof bit === 'boolean');
  if (typeof v === 'object' && v !== null && map(v.delta) && map(v.protected)) return undefined;
  return `it must be { delta, protected }, each an array of ${extents} booleans, one per extent`;
}

/** A Uint8Array (a Buffer is one), from this realm or another. */
function isBytes(value: unknown): value is Uint8Array {
  return ArrayBuffer.isView(value) && Object.prototype.toString.call(value) === '[object Uint8Array]';
}

/** A value as a message shows it: short, and saying what kind it is. */
function describe(value: unknown): string {
  if (isBytes(value)) return `${value.length} bytes`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) return `an object`;
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : describe(e);
}
