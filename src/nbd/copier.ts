/**
 * The background copier of a served restore: `step()` after `step()` until the restore
 * completes, out of the host's way and under a rate limit.
 *
 * Yielding: before each step the copier waits until the host has been quiet for `quietMs`, but
 * never longer than `maxYieldMs`, so the restore still advances (by one step per `maxYieldMs`)
 * under host I/O that never pauses, as Linux md's resync keeps its minimum speed. A step is one
 * engine operation, and the engine runs one at a time: a host request that arrives during a step
 * waits for it, so the step's size (the engine's batch) bounds that wait.
 *
 * The rate limit is a token bucket over the copy's bytes: after a step of B bytes the next one
 * waits until B / rate seconds have passed since the bucket last ran dry.
 *
 * The clock and the sleep are given, so tests drive the copier with a fake clock.
 */
import type { RestoreEngine, StepResult } from '../engine/contract.js';
import type { HostActivity } from './host-activity.js';

export interface CopierOptions {
  /** Bytes copied per second at most; undefined: as fast as the devices allow. */
  readonly rate?: number;
  /** Bytes one step copies at most (the engine's batch). */
  readonly stepBytes: number;
  readonly quietMs: number;
  readonly maxYieldMs: number;
  readonly now: () => number;
  /** Resolves after `ms`, or early once `signal` aborts. */
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

export type CopierEnd = { readonly kind: 'complete' } | { readonly kind: 'stopped' } | { readonly kind: 'failed'; readonly error: unknown };

export class Copier {
  private readonly stopper = new AbortController();

  constructor(
    private readonly engine: RestoreEngine,
    private readonly activity: HostActivity,
    private readonly options: CopierOptions,
  ) {}

  /** Asks the copier to stop once the step in progress (if any) has ended. */
  stop(): void {
    this.stopper.abort();
  }

  /** Copies until the restore completes, `stop()` is called, or a step fails (the engine stays consistent). */
  async run(onStep: (result: StepResult) => void): Promise<CopierEnd> {
    const { signal } = this.stopper;
    let readyAt = this.options.now();
    while (!signal.aborted) {
      await this.yieldToHost();
      if (this.options.rate !== undefined) await this.sleepUntil(readyAt);
      if (signal.aborted) break;
      const started = this.options.now();
      let result: StepResult;
      try {
        result = await this.engine.step();
      } catch (error) {
        return { kind: 'failed', error };
      }
      onStep(result);
      if (result.done) return { kind: 'complete' };
      if (this.options.rate !== undefined) readyAt = Math.max(readyAt, started) + (this.options.stepBytes / this.options.rate) * 1000;
    }
    return { kind: 'stopped' };
  }

  private async yieldToHost(): Promise<void> {
    const { quietMs, maxYieldMs, now, sleep } = this.options;
    const since = now();
    for (;;) {
      const quiet = this.activity.quietFor();
      const waited = now() - since;
      if (quiet >= quietMs || waited >= maxYieldMs || this.stopper.signal.aborted) return;
      await sleep(Math.max(1, Math.min(quietMs - quiet, maxYieldMs - waited)), this.stopper.signal);
    }
  }

  private async sleepUntil(at: number): Promise<void> {
    const wait = at - this.options.now();
    if (wait > 0) await this.options.sleep(wait, this.stopper.signal);
  }
}
