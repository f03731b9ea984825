/** Replay: re-run the one case of a replay line and tell its story, I/O by I/O. */
import type { EngineFactory } from '../engine/contract.js';
import { knownOptions } from '../errors.js';
import type { Violation } from './case.js';
import { unfitCrashes } from './case-fit.js';
import { assertDeterministic } from './determinism.js';
import { guardEngine, type GuardOptions } from './engine-guard.js';
import { decodeCase } from './replay-line.js';
import { runCase } from './run-case.js';

export interface ReplayOptions extends GuardOptions {
  /** How the replay line names the engine; without it, the line says the engine is unnamed. */
  readonly engineArgs?: string;
}

export async function replay(untrusted: EngineFactory, line: string, options: ReplayOptions = {}): Promise<{ readonly violations: readonly Violation[]; readonly transcript: readonly string[]; readonly unfit: readonly string[] }> {
  knownOptions('replay', options, ['engineArgs', 'callTimeoutMs', 'callMonitor']);
  const engine = guardEngine(untrusted, options);
  const token = line.trim().split(/\s+/).pop() ?? '';
  const { case: c, seed } = decodeCase(token);
  const { engineArgs } = options;
  const run = await runCase(engine, c, { seed, engineArgs, transcript: true });
  // A story told once may be a story the engine never tells again: run it twice and compare.
  assertDeterministic(run, await runCase(engine, c, { seed, engineArgs }));
  const verdict = run.violations.length === 0 ? ['every check held'] : run.violations.map((v) => `VIOLATION of rule ${v.rule}: ${v.message}`);
  return { violations: run.violations, transcript: [...run.transcript, ...verdict], unfit: unfitCrashes(c, run) };
}
