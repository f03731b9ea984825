/**
 * The order in which a device completes the operations in flight on it (docs/fault-model.md,
 * "Operations in flight together").
 *
 * The fault layer, when built with `inFlight`, does not complete an operation when it is issued:
 * it waits until the engine has issued everything it is going to issue alongside it (the engine's
 * code runs until it awaits, which takes some microtask turns, never a timer), and then asks this
 * module which of the operations in flight completes next. Each such question with two or more
 * candidates is a *decision*; the answer is an index into the candidates in I/O point order, so 0
 * is always "the oldest", the answer of an in-order device.
 *
 * A decision is taken from the script first (a replay line's recorded order, or the order an
 * exhaustive search prescribes), then from the seed. Every decision taken is recorded, with its
 * number of candidates, so a run's order can be written down, replayed without the seed, shrunk
 * towards in order (all zeros), and enumerated.
 */
import type { Rng } from './rng.js';

/**
 * Microtask turns the device waits before it completes the next operation: long enough for an
 * engine's continuation to issue the I/O it issues in reply (`await a; b()` takes two or three
 * turns, an async wrapper or two more), short enough to keep a case fast. Deterministic, since
 * microtasks run in a fixed order: nothing here depends on time.
 */
export const SETTLE_TURNS = 12;

/** Lets the engine's pending continuations run, so that what it issues in reply is in flight. */
export async function settle(turns = SETTLE_TURNS): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** A decision taken: how many operations were in flight, and which completed (index by point). */
export interface Decision {
  readonly candidates: number;
  readonly chosen: number;
}

export class CompletionOrder {
  readonly decisions: Decision[] = [];

  /**
   * `script`: the index to take at each decision, in order, while it lasts (an index past the end
   * of the candidates takes the last one); then `rng`, or 0 (the oldest) when there is none.
   */
  constructor(
    private readonly rng: Rng | undefined,
    private readonly script: readonly number[] = [],
  ) {}

  /** Which of `candidates` (operations in flight, ascending I/O point) completes next: its index. */
  pick(candidates: number): number {
    if (candidates < 2) return 0;
    const scripted = this.script[this.decisions.length];
    const chosen = scripted !== undefined ? Math.min(scripted, candidates - 1) : this.rng === undefined ? 0 : this.rng.below(candidates);
    this.decisions.push({ candidates, chosen });
    return chosen;
  }

  /** The choices taken, a script that replays this order exactly. */
  get taken(): number[] {
    return this.decisions.map((d) => d.chosen);
  }
}

/**
 * Every completion order of a run, depth first, as scripts: each run of the engine with a script
 * reports the decisions it met (`next` is handed them), and the next script is the last decision
 * that still has an untried candidate, moved on by one, with what came after it dropped (the run
 * takes the oldest there, unless the seed is asked). Stops after `limit` orders. Decisions with
 * more than `maxCandidates` candidates are not branched on: only their oldest is tried.
 */
export class OrderSearch {
  private pendingScript: number[] | undefined = [];
  tried = 0;
  /** True once some order was skipped: a decision was too wide, or `limit` was reached. */
  truncated = false;

  constructor(
    private readonly limit: number,
    private readonly maxCandidates: number,
  ) {}

  /** The next script to run, or undefined when every order (within the bounds) has been run. */
  next(): number[] | undefined {
    if (this.pendingScript !== undefined && this.tried >= this.limit) {
      this.truncated = true;
      return undefined;
    }
    return this.pendingScript;
  }

  /** The decisions the run of the last script met: moves the search on. */
  ran(decisions: readonly Decision[]): void {
    this.tried++;
    for (let i = decisions.length - 1; i >= 0; i--) {
      const d = decisions[i]!;
      if (d.candidates > this.maxCandidates) this.truncated = true;
      else if (d.chosen + 1 < d.candidates) {
        this.pendingScript = [...decisions.slice(0, i).map((x) => x.chosen), d.chosen + 1];
        return;
      }
    }
    this.pendingScript = undefined;
  }
}
