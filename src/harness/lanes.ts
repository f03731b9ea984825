/**
 * Crash states checked alongside each other, on an engine that serves several instances at once
 * (`EngineFactory.lanes`: an out-of-process engine, a process per lane). A crash state of such an
 * engine spends most of its time waiting for the engine's answers, so with k lanes the harness
 * serves one lane while the others' engines think, and the pipes' round trips overlap.
 *
 * What stays as one at a time: task i runs on lane i mod k, and starts only once the task before
 * it on that lane (i - k) has been taken, so each lane sees its tasks one after another in the
 * campaign's order (a lane's own seeded choices, such as which instances its audit re-runs, are
 * the same on every run). Results are taken in task order, and tasks started but never taken
 * (the campaign stopped at a violation) are awaited and dropped, errors included: what one at a
 * time would never have run changes nothing.
 */
import type { EngineFactory } from '../engine/contract.js';

export class Lanes<Item, Result> {
  private readonly started: Promise<Result>[] = [];

  constructor(
    private readonly lanes: readonly EngineFactory[],
    private readonly items: readonly Item[],
    private readonly run: (lane: EngineFactory, item: Item) => Promise<Result>,
  ) {}

  /** The result of item `i`; items are taken in order, 0 first, each once. */
  take(i: number): Promise<Result> {
    const ahead = Math.min(this.items.length, i + this.lanes.length);
    while (this.started.length < ahead) {
      const n = this.started.length;
      const task = this.run(this.lanes[n % this.lanes.length]!, this.items[n]!);
      // Taken later, or never: its rejection is not unhandled meanwhile.
      task.catch(() => undefined);
      this.started.push(task);
    }
    return this.started[i]!;
  }

  /** Once the campaign is done taking: every task started has ended (its engine instance disposed). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.started);
  }
}
