/**
 * What a violation's picture is drawn from: the run's I/O per device, the host's operations and
 * the harness's steps, and at each crash the cached writes with what survived of each, sector by
 * sector. Built from a replayed run's structured trace (`fromRun`), or, when the engine cannot be
 * run here, from the trace lines a result file kept (`fromText`), which shows less.
 */
import { type CacheMode, type DeviceName, type SurvivalChoice, type TraceEntry } from '../devices/fault-layer.js';
import type { Case } from '../harness/case.js';

/** One device I/O, in sectors. */
export interface Io {
  readonly point: number;
  readonly device: DeviceName;
  readonly op: 'read' | 'write' | 'flush';
  readonly sector: number;
  readonly sectors: number;
  readonly fua: boolean;
  readonly outcome: 'ok' | 'eio' | 'crash';
}

/** A write sitting in a volatile cache when power was lost, and which of its sectors survived. */
export interface CachedWrite {
  readonly device: DeviceName;
  readonly point: number;
  readonly sector: number;
  readonly sectors: number;
  /** The write issued at the crash point itself, never acknowledged. */
  readonly inFlight: boolean;
  /** Indices (within the write) of the sectors that reached the medium. */
  readonly survived: readonly number[];
}

export interface Crash {
  /** The I/O point that never completed; undefined for a power loss between two operations. */
  readonly point?: number;
  /** Where it is drawn: at `point`, or just before the I/O point `at` for a loss between operations. */
  readonly at: number;
  readonly mode: CacheMode;
  readonly cached: readonly CachedWrite[];
}

export type StepKind = 'open' | 'host' | 'step' | 'power' | 'recovery' | 'check' | 'event';

/** A stretch of the run the harness named: a host operation, engine steps, a recovery, a check. */
export interface Step {
  /** The first I/O point of the step, and the first one after it. */
  readonly from: number;
  readonly to: number;
  readonly kind: StepKind;
  readonly text: string;
  /** Consecutive engine steps are drawn as one: how many. */
  readonly count: number;
}

export interface Timeline {
  /** Each device's size in sectors, for the sector axis of its lane. */
  readonly sectors: Readonly<Record<DeviceName, number>>;
  readonly ios: readonly Io[];
  readonly steps: readonly Step[];
  readonly crashes: readonly Crash[];
  /** The I/O point after the last I/O: where the run stopped. */
  readonly end: number;
  /** Set when drawn from a result file's text instead of a replay: why, and so what is missing. */
  readonly partial?: string;
}

/** What `runCase` gives back that a picture needs. */
export interface RunRecord {
  readonly trace: readonly TraceEntry[];
  readonly transcript: readonly string[];
  /** The case with every crash's survivors filled in. */
  readonly resolved: Case;
  /** The I/O point at which each workload operation began. */
  readonly opStarts: readonly number[];
}

export function fromRun(run: RunRecord): Timeline {
  const { sectorSize, volumeSize } = run.resolved.geometry;
  const ios = run.trace.map((e) => ioOf(e, sectorSize));
  const end = ios.length === 0 ? 0 : ios[ios.length - 1]!.point + 1;
  return { sectors: deviceSectors(ios, volumeSize / sectorSize), ios, steps: stepsOf(notesOf(run.transcript, end), end), crashes: crashesOf(run.trace, run.resolved, run.opStarts), end };
}

function ioOf(e: TraceEntry, sectorSize: number): Io {
  return { point: e.point, device: e.device, op: e.op, sector: Math.floor(e.offset / sectorSize), sectors: Math.ceil(e.length / sectorSize), fua: e.fua, outcome: e.outcome === 'unfinished' ? 'crash' : e.outcome };
}

/** Source and clone are the volume; the metadata device is drawn as far as it was used. */
function deviceSectors(ios: readonly Io[], volumeSectors: number): Record<DeviceName, number> {
  const used = (d: DeviceName) => Math.max(1, ...ios.filter((io) => io.device === d).map((io) => io.sector + io.sectors));
  return { source: Math.max(volumeSectors, used('source')), clone: Math.max(volumeSectors, used('clone')), meta: used('meta') };
}

/**
 * Every crash of the run with the writes cached at it. The caches are rebuilt from the trace as
 * the fault layer keeps them: an acknowledged write is cached until its device is flushed (FUA
 * writes are durable at once and never at risk), the write at the crash point is cached in
 * flight, an I/O error leaves nothing, and a power loss empties every cache.
 */
export function crashesOf(trace: readonly TraceEntry[], resolved: Case, opStarts: readonly number[]): Crash[] {
  const sectorSize = resolved.geometry.sectorSize;
  const plans = new Map(resolved.crashes.map((p) => [p.point, p]));
  const losses = resolved.workload.flatMap((op, i) => (op.op === 'powerLoss' && op.choice !== undefined && opStarts[i] !== undefined ? [{ at: opStarts[i]!, choice: op.choice }] : []));
  let cached: { device: DeviceName; point: number; offset: number; length: number; inFlight: boolean }[] = [];
  const crashes: Crash[] = [];
  const lose = (point: number | undefined, at: number, choice: SurvivalChoice) => {
    const chosen = new Map(choice.survivors.map((s) => [s.point, s.sectors]));
    crashes.push({
      ...(point === undefined ? {} : { point }),
      at,
      mode: choice.mode,
      cached: cached.map((w) => {
        const sectors = Math.ceil(w.length / sectorSize);
        const all = Array.from({ length: sectors }, (_, s) => s);
        const survived = !chosen.has(w.point) ? [] : (chosen.get(w.point) ?? all).filter((s) => s >= 0 && s < sectors);
        return { device: w.device, point: w.point, sector: Math.floor(w.offset / sectorSize), sectors, inFlight: w.inFlight, survived };
      }),
    });
    cached = [];
  };
  const loseBetween = (before: number) => {
    while (losses.length > 0 && losses[0]!.at <= before) {
      const loss = losses.shift()!;
      lose(undefined, loss.at, loss.choice);
    }
  };
  for (const e of trace) {
    loseBetween(e.point);
    if (e.outcome === 'crash') {
      if (e.op === 'write') cached.push({ device: e.device, point: e.point, offset: e.offset, length: e.length, inFlight: true });
      const plan = plans.get(e.point);
      lose(e.point, e.point, plan?.choice ?? { mode: plan?.mode ?? 'torn', survivors: [] });
    } else if (e.outcome === 'ok' && e.op === 'write' && !e.fua) {
      cached.push({ device: e.device, point: e.point, offset: e.offset, length: e.length, inFlight: false });
    } else if (e.outcome === 'ok' && e.op === 'flush') {
      cached = cached.filter((w) => w.device !== e.device);
    }
  }
  loseBetween(Infinity);
  return crashes;
}

/**
 * The harness's notes with the I/O point each was made at. In a transcript a note comes before
 * the I/O it led to, and I/O points count up one by one, so a note's point is that of the next
 * I/O line after it (or the end, when no I/O followed).
 */
export function notesOf(transcript: readonly string[], end: number): { point: number; text: string }[] {
  const notes: { point: number; text: string }[] = [];
  let waiting: string[] = [];
  for (const line of transcript) {
    const io = /^\s+#(\d+) /.exec(line);
    if (io === null) {
      waiting.push(line);
      continue;
    }
    for (const text of waiting) notes.push({ point: Number(io[1]), text });
    waiting = [];
  }
  for (const text of waiting) notes.push({ point: end, text });
  return notes;
}

function kindOf(text: string): StepKind {
  if (text.startsWith('open the engine')) return 'open';
  if (text.startsWith('host: power loss') || text.startsWith('POWER LOSS')) return 'power';
  if (text.startsWith('host: ')) return 'host';
  if (text.startsWith('engine: step') || text.startsWith('copier: step')) return 'step';
  // The checker's status and reads after a recovery belong to the recovery's stretch.
  if (text.startsWith('check: the engine\'s status')) return 'event';
  if (text.startsWith('recovery: ')) return 'recovery';
  if (text.startsWith('check: ')) return 'check';
  return 'event';
}

/**
 * Notes as stretches of the timeline: each runs to the next note that begins something. Events
 * (the restore completed, an interrupted start decided) mark a moment and end nothing, so a
 * recovery runs on through them; consecutive engine steps make one stretch.
 */
export function stepsOf(notes: readonly { point: number; text: string }[], end: number): Step[] {
  const steps: Step[] = [];
  notes.forEach((note, i) => {
    const kind = kindOf(note.text);
    const next = notes.slice(i + 1).find((n) => kindOf(n.text) !== 'event');
    const to = kind === 'event' ? note.point : Math.max(note.point, next?.point ?? end);
    const last = steps[steps.length - 1];
    if (kind === 'step' && last?.kind === 'step' && last.to === note.point) steps[steps.length - 1] = { ...last, to, count: last.count + 1 };
    else steps.push({ from: note.point, to, kind, text: note.text, count: 1 });
  });
  return steps;
}

const TRACE_LINE = /^#(\d+) (source|clone|meta) (read|write|flush)(?: (\d+)\+(\d+))?( fua)?(?: [0-9a-f]+)?(?: (EIO|CRASH))?$/;

/**
 * What a result file's trace lines show: the last I/O before the violation, and the crashes
 * among them. The case (decoded from the replay line) gives the geometry and what each crash
 * kept; writes cached before the first line shown are not known, nor are the host's operations.
 */
export function fromText(lines: readonly string[], c: Case | undefined, why: string): Timeline {
  const sectorSize = c?.geometry.sectorSize ?? 512;
  const ios: Io[] = lines.flatMap((line) => {
    const m = TRACE_LINE.exec(line.trim());
    if (m === null) return [];
    const [, point, device, op, offset, length, fua, outcome] = m;
    return [{ point: Number(point), device: device as DeviceName, op: op as Io['op'], sector: Math.floor(Number(offset ?? 0) / sectorSize), sectors: Math.ceil(Number(length ?? 0) / sectorSize), fua: fua !== undefined, outcome: outcome === 'CRASH' ? 'crash' : outcome === 'EIO' ? 'eio' : 'ok' }];
  });
  const end = ios.length === 0 ? 0 : ios[ios.length - 1]!.point + 1;
  const plans = new Map((c?.crashes ?? []).map((p) => [p.point, p]));
  const crashes: Crash[] = ios
    .filter((io) => io.outcome === 'crash')
    .map((io) => {
      const plan = plans.get(io.point);
      const chosen = new Map((plan?.choice?.survivors ?? []).map((s) => [s.point, s.sectors]));
      // Only writes shown and named as survivors, and the write in flight, are known to have been cached.
      const cached = ios
        .filter((w) => w.op === 'write' && w.point <= io.point && (chosen.has(w.point) || w.point === io.point))
        .map((w) => {
          const all = Array.from({ length: w.sectors }, (_, s) => s);
          return { device: w.device, point: w.point, sector: w.sector, sectors: w.sectors, inFlight: w.point === io.point, survived: chosen.has(w.point) ? (chosen.get(w.point) ?? all) : [] };
        });
      return { point: io.point, at: io.point, mode: plan?.choice?.mode ?? plan?.mode ?? 'torn', cached };
    });
  const volume = c === undefined ? 1 : c.geometry.volumeSize / sectorSize;
  return { sectors: deviceSectors(ios, volume), ios, steps: [], crashes, end, partial: why };
}
