/**
 * Whether the crashes a case lists fit the run it got. A replay line or a counterexample file
 * lists, for every crash that fired and every power loss reached, exactly which cached writes (and
 * which of their sectors) survived. Against the engine that produced it, the replay is the same
 * run, so each listed crash fires again and each survivor names a write that was in a cache at that
 * moment. One that does not (a crash point past the end of the run, a survivor that is a read, a
 * sector past the end of its write) cannot have come from that engine: the case was edited, and
 * running it would say "the violation did not happen" about a case nobody found.
 *
 * Against another engine the run differs and so may the fit: that is a note, not an error.
 */
import type { SurvivalChoice, TraceEntry } from '../devices/fault-layer.js';
import type { Case, HostOp } from './case.js';

/** What a run did that the fit is judged against (a `CaseRun` has it). */
export interface RunRecord {
  readonly trace: readonly TraceEntry[];
  /** The I/O point at which each workload operation began (and, last, the finish). */
  readonly opStarts: readonly number[];
}

/** One power loss with listed survivors, and the I/O points whose writes could have survived it. */
interface Loss {
  readonly field: string;
  readonly choice: SurvivalChoice;
  /** Writes issued from `from` (after the loss before it emptied every cache) up to before `to`. */
  readonly from: number;
  readonly to: number;
  readonly what: string;
}

interface Judged {
  readonly problems: string[];
  /** Crash plans with survivors that never fired, by index. */
  readonly unfired: ReadonlySet<number>;
  /** Each loss's survivors as they fit: unfit ones dropped, unfit sectors dropped. */
  readonly fitting: Map<string, SurvivalChoice>;
}

function judge(c: Case, run: RunRecord): Judged {
  const entries = new Map(run.trace.map((e) => [e.point, e]));
  const last = run.trace.length === 0 ? undefined : run.trace[run.trace.length - 1]!.point;
  const problems: string[] = [];
  const unfired = new Set<number>();
  // Every loss in the order it happened, keyed by the first I/O point after it: a crash at point p
  // comes before a power loss between operations that begins at p + 1.
  const events: { key: number; field: string; choice: SurvivalChoice | undefined; what: string }[] = [];
  c.crashes.forEach((p, i) => {
    if (entries.get(p.point)?.outcome === 'crash') events.push({ key: p.point + 1, field: `crashes[${i}]`, choice: p.choice, what: `the crash at I/O point ${p.point}` });
    else if (p.choice !== undefined) {
      unfired.add(i);
      problems.push(`crashes[${i}].point: the crash at I/O point ${p.point} never happened (the run ${last === undefined ? 'did no I/O' : `had I/O points 0..${last}`})`);
    }
  });
  c.workload.forEach((op, i) => {
    if (op.op !== 'powerLoss') return;
    const at = run.opStarts[i];
    if (at !== undefined) events.push({ key: at, field: `workload[${i}]`, choice: op.choice, what: `the power loss of workload[${i}]` });
    else if (op.choice !== undefined) problems.push(`workload[${i}]: the power loss was never reached: the run stopped before it`);
  });
  events.sort((a, b) => a.key - b.key || (a.field.startsWith('crashes') ? -1 : 1));
  const losses: Loss[] = events.flatMap((e, k) => (e.choice === undefined ? [] : [{ field: e.field, choice: e.choice, from: k === 0 ? 0 : events[k - 1]!.key, to: e.key, what: e.what }]));
  const fitting = new Map<string, SurvivalChoice>();
  for (const loss of losses) {
    const survivors: SurvivalChoice['survivors'][number][] = [];
    loss.choice.survivors.forEach((s, k) => {
      const at = `${loss.field}.choice.survivors[${k}]`;
      const problem = survivorProblem(s.point, loss, entries);
      if (problem !== undefined) {
        problems.push(`${at}.point: ${problem}`);
        return;
      }
      const sectors = entries.get(s.point)!.length / c.geometry.sectorSize;
      const outside = (s.sectors ?? []).flatMap((x, j) => (x < sectors ? [] : [j]));
      for (const j of outside) problems.push(`${at}.sectors[${j}]: ${s.sectors![j]} is past the end of the write at I/O point ${s.point} (${sectors} sector${sectors === 1 ? '' : 's'})`);
      const kept = s.sectors?.filter((x) => x < sectors);
      if (kept === undefined) survivors.push({ point: s.point });
      else if (kept.length > 0) survivors.push({ point: s.point, sectors: kept });
    });
    fitting.set(loss.field, { mode: loss.choice.mode, survivors });
  }
  return { problems, unfired, fitting };
}

function survivorProblem(point: number, loss: Loss, entries: ReadonlyMap<number, TraceEntry>): string | undefined {
  if (point >= loss.to) return `${point} had not been issued at ${loss.what}`;
  if (point < loss.from) return `${point} was issued before an earlier crash or power loss, which emptied every cache before ${loss.what}`;
  const e = entries.get(point);
  if (e === undefined || e.op !== 'write') return `I/O point ${point} is ${e === undefined ? 'not in the run' : `a ${e.device} ${e.op}`}, not a write`;
  if (e.outcome === 'eio') return `the write at I/O point ${point} failed with an I/O error: nothing of it was cached`;
  if (e.fua && e.outcome === 'ok') return `the write at I/O point ${point} was a FUA write: durable, so never listed among the survivors`;
  return undefined;
}

/** Every way the listed crashes do not fit the run, one line each (`field: problem`); none when they fit. */
export function unfitCrashes(c: Case, run: RunRecord): string[] {
  return judge(c, run).problems;
}

/**
 * The case with what did not fit its own run taken out: crash plans that never fired, operations
 * never begun, survivors and sectors that named nothing. The engine's run is unchanged by it (none
 * of these had any effect), and the case then fits that engine's run exactly.
 */
export function fitted(c: Case, run: RunRecord): Case {
  const { unfired, fitting } = judge(c, run);
  // Every listed choice left has a fitting: it belongs to a loss that happened.
  return {
    ...c,
    workload: c.workload.slice(0, run.opStarts.length).map((op, i): HostOp => (op.op === 'powerLoss' && op.choice !== undefined ? { ...op, choice: fitting.get(`workload[${i}]`)! } : op)),
    crashes: c.crashes.flatMap((p, i) => (unfired.has(i) ? [] : [p.choice === undefined ? p : { ...p, choice: fitting.get(`crashes[${i}]`)! }])),
  };
}
