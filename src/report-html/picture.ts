/**
 * A violation's picture comes from running its case again: the replay line carries the case (the
 * shrunk one, for the violations a run shrinks) and the seed, and the same engine does the same
 * I/O, so the run replayed here in process is the run that failed, with its trace, crashes and
 * notes as structured data. When the engine cannot be run here, or does not fail the same way
 * again, the picture is drawn from the trace lines the result kept, and says so.
 */
import type { EngineFactory } from '../engine/contract.js';
import { type Case, RULES, type RuleName } from '../harness/case.js';
import { decodeCase, type ReplayToken } from '../harness/replay-line.js';
import { runCase } from '../harness/run-case.js';
import { crashesInWords } from '../harness/shrink-crash.js';
import { fromRun, fromText, type Timeline } from './timeline-data.js';

/** A violation as a result file or a campaign holds it. */
export interface RecordedViolation {
  readonly rule: RuleName;
  readonly message: string;
  readonly replay: string;
  readonly sector?: number;
  readonly extent?: number;
  readonly expected?: string;
  readonly actual?: string;
  /** What survived each crash, in words (set for shrunk violations). */
  readonly crash?: readonly string[];
  readonly trace: readonly string[];
}

export interface Picture {
  /** The rule the case broke, or none (a replay in which every check held). */
  readonly violation?: RecordedViolation;
  /** The scenario (or `explore`) it was found in, or the mutant it killed. */
  readonly where?: string;
  readonly replay: string;
  readonly timeline: Timeline;
  /** The crashes in words, in the order they happened. */
  readonly crashes: readonly string[];
  /** The replay's transcript, every step and I/O in words (empty when drawn from text). */
  readonly transcript: readonly string[];
}

export function ruleNumber(rule: RuleName): number {
  return Number(Object.entries(RULES).find(([, r]) => r === rule)?.[0] ?? 0);
}

function decoded(replay: string): ReplayToken | undefined {
  try {
    return decodeCase(replay.trim().split(/\s+/).pop() ?? '');
  } catch {
    return undefined;
  }
}

/** The engine flags of a replay line: what stands between `prestore replay` and the token. */
export function engineArgsOf(replay: string): string {
  const words = replay.trim().replace(/^(npx\s+)?prestore\s+replay\s+/, '');
  return words.slice(0, Math.max(0, words.lastIndexOf(' '))).trim();
}

function fromRecord(v: RecordedViolation, where: string | undefined, c: Case | undefined, why: string): Picture {
  return { violation: v, ...(where === undefined ? {} : { where }), replay: v.replay, timeline: fromText(v.trace, c, why), crashes: v.crash ?? [], transcript: [] };
}

/**
 * The picture of a recorded violation, replayed against `engine` (the engine its line names), or
 * drawn from its text when `engine` is a reason it cannot be run.
 */
export async function pictureOf(v: RecordedViolation, engine: EngineFactory | { readonly unavailable: string }, where?: string): Promise<Picture> {
  const token = decoded(v.replay);
  if (token === undefined) return fromRecord(v, where, undefined, 'its replay line does not decode');
  if ('unavailable' in engine) return fromRecord(v, where, token.case, engine.unavailable);
  let run;
  try {
    run = await runCase(engine, token.case, { seed: token.seed, engineArgs: engineArgsOf(v.replay), transcript: true });
  } catch (e) {
    return fromRecord(v, where, token.case, `replaying it here failed: ${(e as Error).message}`);
  }
  const again = run.violations[0];
  // A kill matrix row keeps the rule and the replay line but not the message (''): the rule must match.
  if (again?.rule !== v.rule || (v.message !== '' && again.message !== v.message)) {
    const what = again === undefined ? 'every check held' : `it broke rule ${ruleNumber(again.rule)} (${again.rule}): ${again.message}`;
    return fromRecord(v, where, token.case, `replayed here, the case did not fail the same way (${what})`);
  }
  return { violation: v.message === '' ? again : v, ...(where === undefined ? {} : { where }), replay: v.replay, timeline: fromRun(run), crashes: crashesInWords(run.transcript), transcript: run.transcript };
}

/** The picture of one case run here, failing or not: what `prestore replay --html` draws. */
export async function pictureOfCase(engine: EngineFactory, c: Case, seed: string, replay: string): Promise<Picture> {
  const run = await runCase(engine, c, { seed, engineArgs: engineArgsOf(replay), transcript: true });
  const v = run.violations[0];
  return { ...(v === undefined ? {} : { violation: v }), replay: v?.replay ?? replay, timeline: fromRun(run), crashes: crashesInWords(run.transcript), transcript: run.transcript };
}
