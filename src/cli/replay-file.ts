/**
 * `prestore replay FILE.json`: replays a counterexample file (./save-failures.ts writes them) in
 * process. No seed is involved: the file lists every crash's survivors, and the replay checks
 * that two seeds give the same run. Exit 1 when the case breaks a rule (normally the one the file
 * records), 0 when every check holds, 2 for a bad file or an engine that does not repeat itself.
 * The file may choose the reference engine or a mutant; any other engine must be typed.
 */
import { resolve } from 'node:path';
import type { DeviceProfile } from '../devices/device-profile.js';
import { loadCounterexample, REPLAY_SEEDS, replayCounterexample } from '../harness/counterexample.js';
import { parse, shellQuote, shellSplit } from './args.js';
import { type CommandIo, InputError } from './command.js';
import { ENGINE_OPTIONS, type EngineFlags, replayEngineFlags, resolveEngine } from './engine-arg.js';
import { replayHtml } from './html-report.js';
import { fitNote, sameEngine } from './replay-fit.js';
import { RULE_NUMBER, writeAtomically } from './report.js';
import { seamsOf } from './seams.js';
import { formatViolation } from './summary.js';
import { threadGuard } from './watchdog.js';

/** A replay argument naming a file rather than a line: a c1.… token never ends in `.json`. */
export function isCounterexamplePath(arg: string): boolean {
  return /\.json$/i.test(arg.trim());
}

/** The engine flags a file records (`engine.args`), parsed as the command line would. */
export function engineFlagsOf(args: string, where: string): EngineFlags {
  let parsed: { values: EngineFlags; positionals: string[] };
  try {
    parsed = parse(shellSplit(args), ENGINE_OPTIONS, { positionals: true });
  } catch (e) {
    throw new InputError(`${where}: ${(e as Error).message}`);
  }
  if (parsed.positionals.length > 0) throw new InputError(`${where}: unexpected ${JSON.stringify(parsed.positionals[0])}: only --engine or --engine-cmd belong here`);
  return parsed.values;
}

/** `html`: also draw the case, to this file (or - for standard output, the transcript then going to standard error). */
export async function replayFile(arg: string, flags: EngineFlags & { readonly html?: string }, io: CommandIo, profile?: DeviceProfile): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const loaded = await loadCounterexample(resolve(cwd, arg), arg);
  const { file } = loaded;
  // --device-profile: the file's case on other devices.
  const c = profile === undefined ? loaded.case : { ...loaded.case, profile };
  const recordedFlags = engineFlagsOf(file.engine.args, `${arg}: engine.args`);
  const chosen = replayEngineFlags(flags, recordedFlags, arg, (engineArgs) => `prestore replay ${engineArgs} ${shellQuote(arg)}`);
  const engine = await resolveEngine(chosen, seamsOf(io).engineModules, cwd);
  const result = await replayCounterexample(engine.factory, c, { engineArgs: engine.engineArgs, ...threadGuard(engine.callTimeoutMs) });
  const note = fitNote(result.unfit, sameEngine(flags, recordedFlags), arg, engine.label, `prestore exhaust ${shellQuote(arg)} crashes its workload at every I/O point of the engine as it is now`);
  const recorded = `rule ${RULE_NUMBER[file.rule]} (${file.rule})`;
  const out = [
    `prestore replay: engine ${engine.label}, counterexample ${arg} (seed-free: every crash lists its survivors)`,
    `recorded: ${recorded} against ${file.engine.label ?? file.engine.args}: ${file.message}`,
    ...(file.crash ?? []).map((line) => `  ${line}`),
    '',
    ...result.transcript,
    ...note,
  ];
  const v = result.violations[0];
  if (v === undefined) out.push('', `the recorded violation of ${recorded} did not happen against ${engine.label}: every check held`);
  else {
    out.push('', ...formatViolation(v));
    if (v.rule !== file.rule) out.push(`note: the file records a violation of ${recorded}; this replay broke rule ${RULE_NUMBER[v.rule]} (${v.rule})`);
  }
  (flags.html === '-' ? io.stderr : io.stdout).write(out.join('\n') + '\n');
  if (flags.html !== undefined) {
    const html = await replayHtml(engine, c, REPLAY_SEEDS[0], `counterexample ${arg}`);
    if (flags.html === '-') io.stdout.write(html);
    else await writeAtomically(flags.html, html, cwd);
  }
  return v === undefined ? 0 : 1;
}
