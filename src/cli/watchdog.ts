/**
 * The watchdog for engines that block or end their thread. A synchronous busy loop in an engine
 * cannot be interrupted from its own thread, and an engine's `process.exit()` cannot be refused, so
 * in-process engines run in worker threads (the whole command in one, ./watched-cli.ts; campaign
 * shards in theirs, ./campaign-workers.ts). Each such thread publishes the engine call it is in
 * on a board in shared memory, through the guard's monitor (../harness/engine-guard.ts); the
 * thread that started it reads the board and ends a thread stuck in one call past its bound, and
 * when a thread ends without finishing, the board names the call it was in.
 *
 * The clock read here is the watchdog's own: it decides only when a hung run is stopped.
 */
import { sep } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';
import type { CallMonitor, GuardOptions } from '../harness/engine-guard.js';
import { packageRoot } from '../harness/package-root.js';

/**
 * Per slot: the call counter (odd while a call runs), the call's bound in ms, the bytes of its
 * name, and whether the thread is ending (`process.exit` in it has begun).
 */
const HEADER_INTS = 4;
const TEXT_AT = HEADER_INTS * 4;
const SLOT_BYTES = 1024;

/**
 * How much longer than its bound a call may block its thread before the watchdog ends the thread.
 * A call whose thread is free is ended by its own timer at the bound, with the run's own message;
 * the watchdog only stops what that timer cannot reach.
 */
const WATCHDOG_GRACE = 0.5;
const POLL_MS = 25;

/** One thread's place on a board, handed to the thread in its `workerData.watch`. */
export interface WatchSlot {
  readonly buffer: SharedArrayBuffer;
  readonly slot: number;
}

/** What a slot says: the call in progress, if any. */
export interface SlotState {
  readonly seq: number;
  readonly timeoutMs: number;
  /** `engine "x": step()` while a call runs. */
  readonly call: string | undefined;
  /** The thread is ending: a call that has not returned is not a hang, and its end says why. */
  readonly ending: boolean;
}

export class CallBoard {
  private readonly ints: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ints = new Int32Array(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  static create(slots: number): CallBoard {
    return new CallBoard(new SharedArrayBuffer(slots * SLOT_BYTES));
  }

  slot(slot: number): WatchSlot {
    return { buffer: this.buffer, slot };
  }

  /** The monitor a thread's guard publishes its calls through. */
  monitor(slot: number, timeoutMs: number): CallMonitor {
    const base = (slot * SLOT_BYTES) / 4;
    const encoded = new Map<string, Uint8Array>();
    const encoder = new TextEncoder();
    return {
      begin: (call) => {
        let text = encoded.get(call);
        if (text === undefined) encoded.set(call, (text = encoder.encode(call).subarray(0, SLOT_BYTES - TEXT_AT)));
        this.bytes.set(text, slot * SLOT_BYTES + TEXT_AT);
        Atomics.store(this.ints, base + 1, timeoutMs);
        Atomics.store(this.ints, base + 2, text.length);
        // Odd from here: the name above is published before the counter says a call runs.
        Atomics.add(this.ints, base, 1);
      },
      end: () => {
        Atomics.add(this.ints, base, 1);
      },
    };
  }

  read(slot: number): SlotState {
    const base = (slot * SLOT_BYTES) / 4;
    const seq = Atomics.load(this.ints, base);
    const timeoutMs = Atomics.load(this.ints, base + 1);
    const length = Atomics.load(this.ints, base + 2);
    const start = slot * SLOT_BYTES + TEXT_AT;
    // Decoded from a copy: TextDecoder refuses views of shared memory.
    const call = seq % 2 === 1 ? new TextDecoder().decode(this.bytes.slice(start, start + length)) : undefined;
    return { seq, timeoutMs, call, ending: Atomics.load(this.ints, base + 3) === 1 };
  }

  /** Marks the slot's thread as ending. */
  ending(slot: number): void {
    Atomics.store(this.ints, (slot * SLOT_BYTES) / 4 + 3, 1);
  }
}

/** A call that blocked its thread past its bound. */
export interface Hang {
  readonly slot: number;
  readonly call: string;
  readonly timeoutMs: number;
}

/**
 * Watches `slots` of `board` and calls `onHang` once, for the first call that stays in progress
 * longer than its bound and the grace; returns the function that stops watching.
 */
export function watch(board: CallBoard, slots: readonly number[], onHang: (hang: Hang) => void): () => void {
  const seen = slots.map(() => ({ seq: -1, since: 0 }));
  const timer = setInterval(() => {
    const now = performance.now();
    slots.forEach((slot, i) => {
      const state = board.read(slot);
      const last = seen[i]!;
      if (state.seq !== last.seq) {
        seen[i] = { seq: state.seq, since: now };
        return;
      }
      if (state.call !== undefined && !state.ending && now - last.since > state.timeoutMs * (1 + WATCHDOG_GRACE)) {
        clearInterval(timer);
        onHang({ slot, call: state.call, timeoutMs: state.timeoutMs });
      }
    });
  }, POLL_MS);
  // The watched threads keep the process alive, not the watchdog.
  timer.unref();
  return () => clearInterval(timer);
}

/** `where`: which thread, when there are several (` in worker 2`). */
export function hangMessage(hang: Hang, where = ''): string {
  return `${hang.call} did not return within ${hang.timeoutMs} ms and blocked its thread${where} (a busy loop?); the run was stopped, so there is no verdict (--call-timeout MS sets the bound)`;
}

/** Why a thread that ran an engine ended before its work was done. */
export function endedMessage(state: SlotState, exitCode: number, where = ''): string {
  const who = state.call === undefined ? `the process${where} ended outside any engine call (an engine module that calls process.exit?)` : `${state.call} ended the process${where} (process.exit?)`;
  return `${who} with exit code ${exitCode}; the run did not finish, so there is no verdict`;
}

/**
 * Why a thread ended on an error nobody caught, when the engine threw it: the first frame of its
 * stack that is neither Node's own nor a library's is outside prestore's modules (a throw in an
 * engine's timer, a rejection an engine left unhandled). Undefined when the error is prestore's:
 * thrown from prestore's own code, or with no stack to tell and no engine call in progress.
 */
export function uncaughtEngineMessage(error: unknown, state: SlotState, where = ''): string | undefined {
  const file = firstCodeFrame(error instanceof Error ? error.stack : undefined);
  if (file === undefined ? state.call === undefined : isOwnCode(file)) return undefined;
  const who = state.call ?? `code outside prestore (${file})`;
  const message = error instanceof Error ? error.message : String(error);
  return `${who} threw an error nobody caught${where} (thrown in a timer, or a rejection left unhandled?): ${message}; the run did not finish, so there is no verdict`;
}

/** The file of the first stack frame that is neither Node's own nor a library's. */
function firstCodeFrame(stack: string | undefined): string | undefined {
  for (const line of stack?.split('\n').slice(1) ?? []) {
    const at = /(?:\(|at )((?:file:\/\/)?\/[^():]+):\d+:\d+\)?\s*$/.exec(line);
    if (at === null) continue;
    const file = at[1]!.startsWith('file:') ? fileURLToPath(at[1]!) : at[1]!;
    if (!file.split(sep).includes('node_modules')) return file;
  }
  return undefined;
}

function isOwnCode(file: string): boolean {
  const root = packageRoot();
  return [`${root}${sep}dist${sep}`, `${root}${sep}src${sep}`].some((own) => file.startsWith(own));
}

/** This thread's slot, when a watchdog watches it. */
function ownSlot(): WatchSlot | undefined {
  return (workerData as { watch?: WatchSlot } | null)?.watch;
}

/** The guard options for engine calls made in this thread: the bound, and the board when a watchdog watches it. */
export function threadGuard(callTimeoutMs: number): GuardOptions {
  const slot = ownSlot();
  return slot === undefined ? { callTimeoutMs } : { callTimeoutMs, callMonitor: new CallBoard(slot.buffer).monitor(slot.slot, callTimeoutMs) };
}

/**
 * Marks this thread's slot when the thread begins to end, so that a thread an engine ends with
 * `process.exit` (which can take a while to wind down) is reported as ended, not as hung.
 */
export function markEnding(): void {
  const slot = ownSlot();
  if (slot !== undefined) process.once('exit', () => new CallBoard(slot.buffer).ending(slot.slot));
}
