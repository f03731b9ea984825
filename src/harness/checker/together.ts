/**
 * Host operations issued alongside each other (a workload's `alongside`): reads, writes, flushes
 * and steps all called on the engine before any is awaited, as a host with a queue issues them
 * while the copier works, and then judged together:
 *
 * - a read may see, in each sector, what the model allowed before the group or what any write
 *   of the group puts there (nothing orders a read and a write in flight together);
 * - two writes of the group to one sector may land in either order: the sector may end with either;
 * - a flush covers only what was acknowledged before it was issued: no write of its group;
 * - a step has no effect a host can see (its I/O is judged by rules 1 and 5 as ever).
 *
 * The group is one engine call for the port (so a recorded run replays it as one event); a crash
 * that strikes it is one power loss, and an injected fault in any of its I/O excuses each failure.
 */
import { sectorValue, type SectorValue } from '../../../model/volume-model.js';
import type { HostOp, Volume } from '../case.js';
import { engineFailed } from '../oracle/engine-failed.js';
import { hostWriteData } from '../sector-data.js';
import { type Checker, Stop } from './checker.js';
import { failedOutcome, type Outcome } from './engine-port.js';
import { flushLane, type Lane, readLane, writeLane } from './host-ops.js';
import { restoreEnded } from './restore.js';

type Groupable = Extract<HostOp, { op: 'read' | 'write' | 'flush' | 'step' }>;

function groupable(op: HostOp | undefined): op is Groupable {
  return op !== undefined && (op.op === 'read' || op.op === 'write' || op.op === 'flush' || op.op === 'step');
}

/** The operations issued together from `workload[at]`: it, and each next one marked `alongside`. */
export function groupAt(workload: readonly HostOp[], at: number): readonly HostOp[] {
  const first = workload[at]!;
  if (!groupable(first)) return [first];
  let end = at + 1;
  for (let next = workload[end]; groupable(next) && next.alongside === true; next = workload[++end]);
  return workload.slice(at, end);
}

/** Conclusion order: reads against the model as it was; a flush before the writes it does not cover; the writes last. */
const CONCLUDE_ORDER: readonly Groupable['op'][] = ['read', 'flush', 'step', 'write'];

export async function applyTogether(checker: Checker, ops: readonly HostOp[]): Promise<void> {
  const group = ops.filter(groupable);
  const written = writtenValues(checker, group);
  const seen = new Map<Volume, Set<number>>([
    ['source', new Set()],
    ['clone', new Set()],
  ]);
  const lanes: { op: Groupable['op']; lane: Lane }[] = [];
  for (const op of group) {
    if (op.op === 'write') {
      const earlier = new Set(seen.get(op.volume));
      for (let s = op.sector; s < op.sector + op.sectors; s++) seen.get(op.volume)!.add(s);
      lanes.push({ op: op.op, lane: writeLane(checker, op, (sector) => !earlier.has(sector)) });
    } else if (op.op === 'read') {
      const values = written.get(op.volume)!;
      lanes.push({ op: op.op, lane: readLane(checker, op, (sector) => values.get(sector)) });
    } else if (op.op === 'flush') lanes.push({ op: op.op, lane: flushLane(checker, op) });
    else {
      const lane = stepLane(checker, op.count ?? 1);
      if (lane !== undefined) lanes.push({ op: op.op, lane });
    }
  }
  const traceFrom = checker.layer.trace.length;
  const out = await checker.call(async () => {
    // Each call is made before any is awaited; an engine method that throws at once rejects its own lane only.
    const settled = await Promise.allSettled(lanes.map(({ lane }) => (async () => lane.call())()));
    return settled.map((r): Outcome<unknown> => (r.status === 'fulfilled' ? { ok: true, value: r.value } : failedOutcome(checker.layer, traceFrom, r.reason)));
  });
  // A crash replayed from a recorded run fails the group as a whole: each call as interrupted.
  const outcomes = out.ok ? out.value : lanes.map(() => out);
  const settle = new Array<boolean>(lanes.length);
  for (const kind of CONCLUDE_ORDER) lanes.forEach(({ op, lane }, i) => op === kind && (settle[i] = lane.conclude(outcomes[i]!)));
  checker.checkRestoreTrace();
  if (outcomes.some((o) => !o.ok && o.crashed)) return checker.powerLost();
  lanes.forEach(({ lane }, i) => {
    const o = outcomes[i]!;
    if (settle[i] && !o.ok && !o.faulted) throw new Stop(engineFailed(lane.what, o.error, lane.rule), true);
  });
}

/** Per volume and sector, the values the group's writes put there (a mirrored source write on the clone too). */
function writtenValues(checker: Checker, group: readonly Groupable[]): Map<Volume, Map<number, Set<SectorValue>>> {
  const { sectorSize, state } = checker;
  const out = new Map<Volume, Map<number, Set<SectorValue>>>([
    ['source', new Map()],
    ['clone', new Map()],
  ]);
  const mirrored = state.phase === 'restoring' && !state.protect;
  for (const op of group) {
    if (op.op !== 'write') continue;
    const data = hostWriteData(op.pattern, op.sector, op.sectors, sectorSize);
    const volumes: Volume[] = op.volume === 'source' && mirrored ? ['source', 'clone'] : [op.volume];
    for (let i = 0; i < op.sectors; i++) {
      const value = sectorValue(data.subarray(i * sectorSize, (i + 1) * sectorSize));
      for (const v of volumes) {
        const sectors = out.get(v)!;
        if (!sectors.has(op.sector + i)) sectors.set(op.sector + i, new Set());
        sectors.get(op.sector + i)!.add(value);
      }
    }
  }
  return out;
}

/** `count` steps in a row, alongside the group's host I/O; skipped, as a step op is, while fractured. */
function stepLane(checker: Checker, count: number): Lane | undefined {
  if (checker.state.phase !== 'restoring') return undefined;
  checker.note(`engine: step${count === 1 ? '' : ` ×${count}`} alongside`);
  return {
    what: 'step',
    rule: 'progress',
    call: async () => {
      for (let i = 0; i < count; i++) if ((await checker.engine!.step()).done) return true;
      return false;
    },
    conclude(out) {
      if (out.ok && out.value === true) {
        checker.note('the restore completed');
        restoreEnded(checker);
      }
      return true;
    },
  };
}
