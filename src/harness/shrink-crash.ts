/**
 * Shrinking the crash itself. fast-check shrinks a failing case's workload, crash plans and I/O
 * errors, but what survives each crash is drawn from the seed, so the case it settles on may crash
 * later than it needs to, keep cached writes that play no part, and tear sectors for no reason.
 * A reader wants the smallest crash that still breaks the engine, so after fast-check is done the
 * crash is minimised in the order that matters to that reader:
 *
 *   1. fewer crashes: what never ran goes first (crash plans that never fired, which only make
 *      a case depend on the seed, and operations after the one that failed), then each crash
 *      that did fire, if the rule still fails without it;
 *   1b. fewer operations: each host operation, last first, if the rule still fails without it
 *      (a write repeated with the same data, a power loss with nothing cached, a read that
 *      checks nothing new), the crashes after it moved back by the I/O points it took;
 *   2. the earliest crash point: for each crash, every earlier I/O point, first with nothing
 *      cached surviving, then with only the write in flight there, then with the survivors it
 *      had that were already issued there;
 *   3. the fewest surviving cached writes: survivors dropped one at a time;
 *   4. the fewest torn sectors: each surviving write's sectors dropped one at a time;
 *   3 and 4 repeat until neither shrinks, so no single survivor or sector can go.
 *
 * Every candidate is a full run of the case with explicit survival choices, kept only if the same
 * rule still fails; the number of runs is bounded. The result carries the survivors in words
 * ("torn: write at meta@41 survived, source@43 was lost") and replays without the seed's help.
 */
import type { CacheMode, SurvivalChoice, TraceEntry } from '../devices/fault-layer.js';
import type { EngineFactory } from '../engine/contract.js';
import type { Case, CrashPlan, HostOp, Violation } from './case.js';
import { fitted } from './case-fit.js';
import { decodeCase } from './replay-line.js';
import { type CaseRun, runCase } from './run-case.js';

/** Runs of the engine one shrink may spend. Each is one case, typically a millisecond or two. */
export const DEFAULT_CRASH_SHRINK_ATTEMPTS = 300;

/** Step 2 scans up to this share of the budget, so steps 3 and 4 always get runs too. */
const POINT_SHARE = 0.6;

export interface CrashShrinkOptions {
  /** Runs one shrink may spend (0: none, the violation comes back as it was, described). */
  readonly maxAttempts?: number;
}

export interface CrashShrink {
  /** The violation of the minimal case: its replay line, and its crashes in words (`crash`). */
  readonly violation: Violation;
  /** The minimal case, every crash with its exact survivors. */
  readonly case: Case;
  readonly seed: string;
  /** How the replay line names the engine. */
  readonly engineArgs: string;
  /** The crashes before and after shrinking, in words, in the order they happened. */
  readonly before: readonly string[];
  readonly after: readonly string[];
  /** Runs spent, the first (re-running the case as found) included. */
  readonly attempts: number;
  /** False when nothing could be shrunk (or the case did not fail again). */
  readonly shrunk: boolean;
}

/** The minimal violation, for callers that want only that: `found = await shrinkCrash(...)`. */
export async function shrinkCrash(engine: EngineFactory, violation: Violation, options: CrashShrinkOptions = {}): Promise<Violation> {
  return (await crashShrink(engine, violation, options))?.violation ?? violation;
}

/**
 * Shrinks the first violation of each rule (the ones reports show first) and leaves the others:
 * an exhaustive search can find hundreds of crash states breaking one rule for one reason.
 */
export async function shrinkFirstOfEachRule(engine: EngineFactory, violations: readonly Violation[], options: CrashShrinkOptions = {}): Promise<Violation[]> {
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const v of violations) {
    out.push(seen.has(v.rule) ? v : await shrinkCrash(engine, v, options));
    seen.add(v.rule);
  }
  return out;
}

/** Splits a replay line into its engine flags and its case; undefined if it is not one. */
function fromReplayLine(line: string): { engineArgs: string; case: Case; seed: string } | undefined {
  const trimmed = line.trim();
  const token = trimmed.split(/\s+/).pop() ?? '';
  const prefix = 'prestore replay ';
  if (!trimmed.startsWith(prefix)) return undefined;
  try {
    const { case: c, seed } = decodeCase(token);
    return { engineArgs: trimmed.slice(prefix.length, trimmed.length - token.length).trim(), case: c, seed };
  } catch {
    return undefined;
  }
}

/** The power losses of a run as the transcript tells them, in the words reports use. */
export function crashesInWords(transcript: readonly string[]): string[] {
  return transcript.flatMap((line) => {
    const at = /^POWER LOSS at (I\/O point \d+): (.*)$/.exec(line);
    if (at !== null) return [`crash at ${at[1]}: ${at[2]}`];
    const between = /^POWER LOSS: (.*)$/.exec(line);
    return between === null ? [] : [`power loss between operations: ${between[1]}`];
  });
}

/** A crash whose survivors can be shrunk: a crash plan, or a power loss of the workload. */
type Slot = { readonly kind: 'plan'; readonly index: number } | { readonly kind: 'op'; readonly index: number };

function choiceAt(c: Case, slot: Slot): SurvivalChoice | undefined {
  if (slot.kind === 'plan') return c.crashes[slot.index]?.choice;
  const op = c.workload[slot.index];
  return op?.op === 'powerLoss' ? op.choice : undefined;
}

function withChoice(c: Case, slot: Slot, choice: SurvivalChoice): Case {
  if (slot.kind === 'plan') return { ...c, crashes: c.crashes.map((p, i) => (i === slot.index ? { ...p, mode: choice.mode, choice } : p)) };
  return { ...c, workload: c.workload.map((op, i): HostOp => (i === slot.index && op.op === 'powerLoss' ? { ...op, mode: choice.mode, choice } : op)) };
}

/**
 * The mode that names a shrunk choice truthfully: nothing left is `drop`, listed sectors are
 * `torn`, and whole writes (not all of them, or it would not have shrunk) are a `subset`.
 */
function relabel(choice: { readonly survivors: SurvivalChoice['survivors'] }): SurvivalChoice {
  const mode: CacheMode = choice.survivors.length === 0 ? 'drop' : choice.survivors.some((s) => s.sectors !== undefined) ? 'torn' : 'subset';
  return { mode, survivors: choice.survivors };
}

/**
 * The case without workload operation `index`, whose I/O took the points from `opStarts[index]`
 * up to the next operation's start: crashes and I/O errors after it move back by that many
 * points, survivors written inside it are gone. Undefined when a crash fired inside it (that
 * crash is what the operation is for).
 */
function withoutOp(c: Case, index: number, opStarts: readonly number[]): Case | undefined {
  const from = opStarts[index]!;
  const to = opStarts[index + 1]!;
  if (c.crashes.some((p) => p.point >= from && p.point < to)) return undefined;
  const moved = (point: number) => (point >= to ? point - (to - from) : point);
  const inside = (point: number) => point >= from && point < to;
  const choice = (ch: SurvivalChoice): SurvivalChoice => ({ mode: ch.mode, survivors: ch.survivors.filter((s) => !inside(s.point)).map((s) => ({ ...s, point: moved(s.point) })) });
  return {
    ...c,
    workload: c.workload.filter((_, i) => i !== index).map((op): HostOp => (op.op === 'powerLoss' && op.choice !== undefined ? { ...op, choice: choice(op.choice) } : op)),
    crashes: c.crashes.map((p) => ({ ...p, point: moved(p.point), ...(p.choice === undefined ? {} : { choice: choice(p.choice) }) })),
    eio: c.eio.filter((f) => !inside(f.point)).map((f) => ({ ...f, point: moved(f.point) })),
  };
}

function firedPoints(run: CaseRun): Set<number> {
  return new Set(run.trace.filter((e) => e.outcome === 'crash').map((e) => e.point));
}

/**
 * The whole story of one shrink: the minimal case and violation, the crashes before and after in
 * words, the runs spent. Undefined when the violation carries no replay line to start from.
 */
export async function crashShrink(engine: EngineFactory, violation: Violation, options: CrashShrinkOptions = {}): Promise<CrashShrink | undefined> {
  const found = fromReplayLine(violation.replay);
  if (found === undefined) return undefined;
  const { seed, engineArgs } = found;
  const maxAttempts = options.maxAttempts ?? DEFAULT_CRASH_SHRINK_ATTEMPTS;
  const rule = violation.rule;
  const runOptions = { seed, engineArgs };

  const first = await runCase(engine, found.case, { ...runOptions, transcript: true });
  const before = crashesInWords(first.transcript);
  const unchanged = (attempts: number): CrashShrink => ({ violation: { ...violation, crash: before }, case: found.case, seed, engineArgs, before, after: before, attempts, shrunk: false });
  // Not failing the same way again means the engine (or the harness) does not repeat itself:
  // nothing can be shrunk, and the violation stands as it was found.
  if (first.violations[0]?.rule !== rule) return unchanged(1);

  let attempts = 1;
  let current: Case = first.resolved;
  let currentRun: CaseRun = first;
  let shrunk = false;
  const attempt = async (candidate: Case, limit = maxAttempts): Promise<boolean> => {
    if (attempts >= limit) return false;
    attempts++;
    const run = await runCase(engine, candidate, runOptions);
    if (run.violations[0]?.rule !== rule) return false;
    current = run.resolved;
    currentRun = run;
    shrunk = true;
    return true;
  };

  // 1. Fewer crashes. First what never ran, which leaves the run as it was: crash plans that never
  // fired, and the operations after the one that failed (`opStarts` has one entry per operation
  // begun, and one more once the finish began).
  const fired = firedPoints(currentRun);
  const begun = currentRun.opStarts.length;
  if (current.crashes.some((p) => !fired.has(p.point)) || begun < current.workload.length) {
    await attempt({ ...current, workload: current.workload.slice(0, begun), crashes: current.crashes.filter((p) => fired.has(p.point)) });
  }
  for (let i = current.crashes.length - 1; i >= 0; i--) {
    if (attempts >= maxAttempts) break;
    await attempt({ ...current, crashes: current.crashes.filter((_, k) => k !== i) });
  }

  // 1b. Fewer operations: what a reader must follow, one operation at a time, last first (taking
  // one out leaves the I/O points of those before it where they were).
  for (let i = currentRun.opStarts.length - 2; i >= 0 && attempts < maxAttempts; i--) {
    const candidate = withoutOp(current, i, currentRun.opStarts);
    if (candidate !== undefined) await attempt(candidate);
  }

  // 2. The earliest crash point, plan by plan in the order they fire.
  const pointBudget = Math.max(attempts, Math.floor(maxAttempts * POINT_SHARE));
  for (const plan of [...current.crashes].sort((a, b) => a.point - b.point)) {
    const index = current.crashes.findIndex((p) => p.point === plan.point);
    if (index < 0 || !firedPoints(currentRun).has(plan.point)) continue;
    const ops = new Map<number, TraceEntry>(currentRun.trace.map((e) => [e.point, e]));
    const taken = new Set(current.crashes.map((p) => p.point));
    for (let p = 0; p < plan.point && attempts < pointBudget; p++) {
      // The engine does the same up to p whichever later point crashes: a crash at the second of
      // two reads leaves the state a crash at the first leaves, and the first is earlier.
      if (taken.has(p) || (ops.get(p)?.op === 'read' && ops.get(p - 1)?.op === 'read')) continue;
      const moved = (choice: SurvivalChoice): Case => ({ ...current, crashes: current.crashes.map((q, i): CrashPlan => (i === index ? { point: p, mode: choice.mode, choice } : q)) });
      if (await attempt(moved({ mode: 'drop', survivors: [] }), pointBudget)) break;
      // Only the write in flight at p reaching the medium: the other simplest crash at a write.
      if (ops.get(p)?.op === 'write' && (await attempt(moved({ mode: 'subset', survivors: [{ point: p }] }), pointBudget))) break;
      const had = plan.choice?.survivors ?? [];
      const issued = had.filter((s) => s.point < p);
      if (issued.length > 0 && (await attempt(moved(relabel({ survivors: issued })), pointBudget))) break;
    }
  }

  // 3 and 4 work on every crash that fired, and on every power loss the workload asks for.
  const slots = (): Slot[] => {
    const fire = firedPoints(currentRun);
    return [
      ...current.crashes.flatMap((p, index): Slot[] => (fire.has(p.point) ? [{ kind: 'plan', index }] : [])),
      ...current.workload.flatMap((op, index): Slot[] => (op.op === 'powerLoss' ? [{ kind: 'op', index }] : [])),
    ];
  };

  // 3 and 4 again until neither shrinks: dropping one survivor or sector can make another
  // droppable, and a minimal crash is one where no single survivor or sector can go.
  const sectorSize = current.geometry.sectorSize;
  for (let changed = true; changed && attempts < maxAttempts; ) {
    changed = false;
    // 3. The fewest surviving cached writes.
    for (const slot of slots()) {
      for (let i = (choiceAt(current, slot)?.survivors.length ?? 0) - 1; i >= 0 && attempts < maxAttempts; i--) {
        const now = choiceAt(current, slot)!;
        if (await attempt(withChoice(current, slot, relabel({ survivors: now.survivors.filter((_, k) => k !== i) })))) changed = true;
      }
    }
    // 4. The fewest torn sectors: a whole survivor is spelled out sector by sector to drop some.
    for (const slot of slots()) {
      for (let i = 0; i < (choiceAt(current, slot)?.survivors.length ?? 0) && attempts < maxAttempts; i++) {
        const write = currentRun.trace.find((e) => e.point === choiceAt(current, slot)!.survivors[i]!.point && e.op === 'write');
        if (write === undefined) continue;
        const all = Array.from({ length: write.length / sectorSize }, (_, s) => s);
        for (const drop of all) {
          if (attempts >= maxAttempts) break;
          const now = choiceAt(current, slot)!;
          const listed = now.survivors[i]!.sectors ?? all;
          if (listed.length <= 1 || !listed.includes(drop)) continue;
          const survivors = now.survivors.map((s, k) => (k === i ? { point: s.point, sectors: listed.filter((x) => x !== drop) } : s));
          if (await attempt(withChoice(current, slot, relabel({ survivors })))) changed = true;
        }
      }
    }
  }

  for (const slot of maxAttempts > 0 ? slots() : []) {
    // Every sector of a write listed is the whole write, and reads better as one. The same bytes
    // survive either way, so no run is spent on it (the final run checks the case all the same).
    const now = choiceAt(current, slot);
    if (now === undefined) continue;
    const whole = now.survivors.map((s) => {
      const write = currentRun.trace.find((e) => e.point === s.point && e.op === 'write');
      return s.sectors !== undefined && write !== undefined && s.sectors.length === write.length / sectorSize ? { point: s.point } : s;
    });
    if (whole.some((s, k) => s !== now.survivors[k])) {
      current = withChoice(current, slot, relabel({ survivors: whole }));
      shrunk = true;
    }
  }

  if (!shrunk) return unchanged(attempts);
  // Moving one crash earlier can leave another that no longer fires, or survivors another crash
  // now empties first: they change nothing, but a replay against this engine would refuse them.
  current = fitted(current, currentRun);
  const last = await runCase(engine, current, { ...runOptions, transcript: true });
  const v = last.violations[0];
  // The same case ran a moment ago and failed: not failing now is the engine parting from itself.
  if (v?.rule !== rule) return unchanged(attempts);
  const after = crashesInWords(last.transcript);
  return { violation: { ...v, crash: after }, case: last.resolved, seed, engineArgs, before, after, attempts, shrunk: true };
}
