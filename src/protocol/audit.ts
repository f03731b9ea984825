/**
 * The audit of a persistent engine process. An engine that declares it keeps nothing between
 * instances is served by one process across crashes; if it kept something after all (a counter, a
 * cache), it could pass checks a real power loss would fail, since a real power loss also ends the
 * process. So a seeded sample of the instances it serves is run twice, call by call: first in the
 * persistent process on the harness's devices, with every device I/O recorded, then in a fresh
 * process that is served the recorded answers. Each I/O request of the fresh process must be
 * byte for byte the one the persistent process made at the same place, and each answer to the
 * host the same; the first difference is an error (exit 2) naming where the runs part.
 */
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';
import { CrashError, EioError } from '../devices/fault-layer.js';
import { digest } from '../devices/rng.js';
import type { RestoreDevices, RestoreEngine } from '../engine/contract.js';
import { EngineMisbehaviourError } from '../errors.js';
import { oneAtATime } from './one-at-a-time.js';

/** The share of engine instances a persistent process serves that the audit runs again, by default. */
export const DEFAULT_AUDIT_RATE = 0.02;

/** The engine answered differently in a fresh process: it keeps state across a crash. */
export class StateAcrossCrashError extends EngineMisbehaviourError {
  constructor(message: string) {
    super(`the engine keeps state across a crash, though it declares "stateless": ${message}; a real power loss would have ended its process (declare "stateless" only if the engine keeps nothing between instances)`);
    this.name = 'StateAcrossCrashError';
  }
}

type DeviceName = keyof RestoreDevices;

/** One device I/O as the engine asked for it, and how the harness answered. */
interface Io {
  readonly request: string;
  /** A write's bytes, compared whole (the request names only their digest). */
  readonly written?: Uint8Array;
  readonly outcome: { readonly data?: Uint8Array; readonly error?: unknown };
}

function describe(device: DeviceName, op: string, offset?: number, length?: number, data?: Uint8Array, fua?: boolean): string {
  if (op === 'flush') return `${device} flush`;
  const body = data === undefined ? '' : ` data ${digest(data)}`;
  return `${device} ${op} of ${length} bytes at offset ${offset}${body}${fua === true ? ' fua' : ''}`;
}

/** The harness's devices, every I/O recorded into `log` with its answer. */
function recording(devices: RestoreDevices, log: Io[]): RestoreDevices {
  const wrap = (name: DeviceName): BlockDevice => {
    const dev = devices[name];
    const run = async <T extends Uint8Array | void>(request: string, io: () => Promise<T>, written?: Uint8Array): Promise<T> => {
      try {
        const value = await io();
        log.push({ request, written, outcome: value instanceof Uint8Array ? { data: value.slice() } : {} });
        return value;
      } catch (error) {
        log.push({ request, written, outcome: { error } });
        throw error;
      }
    };
    return {
      size: dev.size,
      sectorSize: dev.sectorSize,
      read: (offset, length) => run(describe(name, 'read', offset, length), () => dev.read(offset, length)),
      write: (offset, data, options?: WriteOptions) => run(describe(name, 'write', offset, data.length, data, options?.fua), () => dev.write(offset, data, options), data.slice()),
      flush: () => run(describe(name, 'flush'), () => dev.flush()),
    };
  };
  return { source: wrap('source'), clone: wrap('clone'), meta: wrap('meta') };
}

/** Devices that answer from a recorded call, and note where the requests first differ from it. */
class Replay {
  private log: readonly Io[] = [];
  private at = 0;
  private method = '';
  parting: string | undefined;

  constructor(private readonly sizes: RestoreDevices) {}

  start(method: string, log: readonly Io[]): void {
    this.method = method;
    this.log = log;
    this.at = 0;
  }

  /** After the fresh process answered: it must have asked for everything the persistent one did. */
  finish(): void {
    const missing = this.log[this.at];
    if (missing !== undefined) this.part(missing.request, '(no I/O: it had answered the call)');
  }

  private part(persistent: string, fresh: string): void {
    this.parting ??= `${this.method} parts at its device I/O number ${this.at + 1}: the persistent process asked for ${persistent}, a fresh process for ${fresh}`;
  }

  private next(request: string, written?: Uint8Array): Io['outcome'] {
    const recorded = this.log[this.at];
    const same = recorded?.request === request && (written === undefined || Buffer.compare(recorded.written!, written) === 0);
    if (this.parting !== undefined || !same) {
      this.part(recorded?.request ?? '(no I/O: it had answered the call)', recorded?.request === request ? `${request} with other bytes` : request);
      // The fresh process goes no further: it dies as at a power loss.
      throw new CrashError(undefined);
    }
    this.at++;
    return recorded.outcome;
  }

  devices(): RestoreDevices {
    const wrap = (name: DeviceName): BlockDevice => {
      const answer = (outcome: Io['outcome']) => {
        if (outcome.error instanceof EioError || outcome.error instanceof CrashError) throw outcome.error;
        if (outcome.error !== undefined) throw new CrashError(undefined);
      };
      return {
        size: this.sizes[name].size,
        sectorSize: this.sizes[name].sectorSize,
        read: async (offset, length) => {
          const outcome = this.next(describe(name, 'read', offset, length));
          answer(outcome);
          return outcome.data!.slice();
        },
        write: async (offset, data, options?: WriteOptions) => answer(this.next(describe(name, 'write', offset, data.length, data, options?.fua), data)),
        flush: async () => answer(this.next(describe(name, 'flush'))),
      };
    };
    return { source: wrap('source'), clone: wrap('clone'), meta: wrap('meta') };
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

async function outcomeOf(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await call() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** An answer to the host in words, to compare: bytes by digest, errors by class and message. */
function answer(o: Outcome): string {
  if (!o.ok) return o.error instanceof Error ? `error ${o.error.name}: ${o.error.message}` : `error ${String(o.error)}`;
  return o.value instanceof Uint8Array ? `data ${digest(o.value)}` : `value ${JSON.stringify(o.value ?? null)}`;
}

const settle = (o: Outcome) => {
  if (o.ok) return o.value;
  throw o.error;
};

/**
 * Opens an engine instance twice, on `devices` with `persistent` and on a replay of its I/O with
 * `fresh`, and returns the persistent one, each call of which runs in both and is compared.
 */
export async function auditedOpen(
  devices: RestoreDevices,
  persistent: (devices: RestoreDevices) => Promise<RestoreEngine>,
  fresh: (devices: RestoreDevices) => Promise<RestoreEngine>,
): Promise<RestoreEngine> {
  const log: Io[] = [];
  const recorded = recording(devices, log);
  const replay = new Replay(devices);
  let shadow: RestoreEngine | undefined;
  /**
   * Calls made alongside each other (a workload's `alongside` operations) are audited one after
   * another, in the order made: the log and the replay hold one call, and the protocol serves one
   * call at a time anyway, so the persistent process sees the same calls in the same order.
   */
  const serially = oneAtATime();
  const twice = (method: string, first: () => Promise<unknown>, second: () => Promise<unknown>) => serially(() => once(method, first, second));
  /** Runs one call in both processes; the persistent process's outcome is the one the harness gets. */
  const once = async (method: string, first: () => Promise<unknown>, second: () => Promise<unknown>): Promise<unknown> => {
    log.length = 0;
    const theirs = await outcomeOf(first);
    replay.start(method, log);
    const mine = await outcomeOf(second);
    replay.finish();
    // A broken protocol is reported as itself, whatever the fresh process did.
    if (!theirs.ok && theirs.error instanceof EngineMisbehaviourError) throw theirs.error;
    const crashed = !theirs.ok && theirs.error instanceof CrashError;
    const parting = replay.parting ?? (!crashed && answer(theirs) !== answer(mine) ? `${method} answered ${answer(theirs)} in the persistent process, ${answer(mine)} in a fresh one` : undefined);
    if (parting !== undefined) {
      await shadow?.dispose?.();
      throw new StateAcrossCrashError(parting);
    }
    return settle(theirs);
  };
  let engine: RestoreEngine | undefined;
  try {
    await twice(
      'open',
      async () => void (engine = await persistent(recorded)),
      async () => void (shadow = await fresh(replay.devices())),
    );
  } catch (e) {
    // No instance goes to the harness, which would end it: end it here.
    await engine?.dispose?.();
    throw e;
  }
  const primary = engine!;
  const both =
    <A extends unknown[]>(method: keyof RestoreEngine) =>
    (...args: A) =>
      twice(
        String(method),
        () => (primary[method] as (...a: A) => Promise<unknown>)(...args),
        () => (shadow![method] as (...a: A) => Promise<unknown>)(...args),
      );
  const audited: RestoreEngine = {
    readSource: both('readSource') as RestoreEngine['readSource'],
    writeSource: both('writeSource') as RestoreEngine['writeSource'],
    flushSource: both('flushSource') as RestoreEngine['flushSource'],
    readClone: both('readClone') as RestoreEngine['readClone'],
    writeClone: both('writeClone') as RestoreEngine['writeClone'],
    flushClone: both('flushClone') as RestoreEngine['flushClone'],
    startRestore: both('startRestore') as RestoreEngine['startRestore'],
    step: both('step') as RestoreEngine['step'],
    status: both('status') as RestoreEngine['status'],
    dispose: async () => {
      await shadow?.dispose?.();
      await primary.dispose?.();
    },
  };
  if (primary.inspect !== undefined && shadow?.inspect !== undefined) audited.inspect = both('inspect') as NonNullable<RestoreEngine['inspect']>;
  return audited;
}
