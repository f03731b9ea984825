/** `prestore replay`: re-run one case from its replay line, with a readable trace. */
import { decodeCase, encodeCase } from '../../harness/replay-line.js';
import { parse, shellQuote, shellSplit } from '../args.js';
import { type Command, UsageError } from '../command.js';
import { DEVICE_PROFILE_HELP, DEVICE_PROFILE_OPTION, deviceProfileFlag } from '../device-profile-arg.js';
import { ENGINE_HELP, ENGINE_OPTIONS, type EngineFlags, replayEngineFlags, resolveEngine } from '../engine-arg.js';
import { HTML_HELP, replayHtml } from '../html-report.js';
import { isCounterexamplePath, replayFile } from '../replay-file.js';
import { checkReportTarget, writeAtomically } from '../report.js';
import { fitNote, sameEngine } from '../replay-fit.js';
import { seamsOf } from '../seams.js';
import { formatViolation } from '../summary.js';
import { threadGuard } from '../watchdog.js';

const TOKEN_PREFIX = 'c1.';

const replay: Command = {
  name: 'replay',
  summary: 're-run one case from its replay line, printing every host operation and device I/O',
  help: `Usage: prestore replay [ENGINE] LINE
       prestore replay [ENGINE] FILE.json

Re-runs the one case a replay line carries (its c1.… token holds the case and the seed) and
prints what happened: each host operation, every device I/O with its I/O point, each crash with
what survived it, each recovery, and the checks, ending with the verdict. The same engine, case
and seed give the same trace, byte for byte.

LINE is the replay line as printed (paste it whole, in quotes), or just its c1.… token. The
engine is the one given here with --engine or --engine-cmd; without them, the one the line
names if it is the reference engine or a mutant: replay a mutant's failure against another
engine with
  prestore replay --engine reference 'prestore replay --engine mutant:NAME c1.…'

FILE.json is a counterexample file (see scenarios/counterexample.schema.json), as
--save-failures writes them: it lists every crash's survivors, so no seed is involved (the
replay checks that two seeds give the same run). Its engine is chosen as a line's is.

Replay never runs an engine module or command that a line or a file names: it runs what you
type. A line or file naming one (--engine ./my-engine.js, --engine-cmd "...") exits 2 with
the command to type, the engine given on it.

A line or file is checked whole before it runs (geometry, ranges, crashes and their survivors).
Against the engine it names, every crash it lists must fire again and every survivor must name a
write that was cached then; if not, the case did not run as recorded (it was edited, or the
engine's I/O changed) and there is no verdict: exit 2 (after a fix, prestore exhaust FILE.json
crashes the file's workload at every I/O point of the engine as it is now). Against another
engine that is a note.

The line carries the device profile its case ran on; --device-profile replays the case on
other devices instead.

Options:
${HTML_HELP}
${DEVICE_PROFILE_HELP}
  -h, --help                this help

${ENGINE_HELP}

Exit status: 0 every check held, 1 the case violates a rule, 2 bad usage, a damaged line, a bad
file, or an engine that does not repeat its I/O for the same case, 3 an internal error (a bug in
prestore: please report it).`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...ENGINE_OPTIONS, ...DEVICE_PROFILE_OPTION, html: { type: 'string' } }, { positionals: true });
    if (positionals.length === 0) throw new UsageError('replay needs the replay line (or its c1.… token)');
    const cwd = io.cwd ?? process.cwd();
    await checkReportTarget('html', values.html, cwd);
    const profile = await deviceProfileFlag(values['device-profile'], cwd);
    if (positionals.length === 1 && isCounterexamplePath(positionals[0]!)) return replayFile(positionals[0]!, values, io, profile);
    const { flags: lineFlags, token: lineToken } = splitLine(positionals);
    const flags = replayEngineFlags(values, lineFlags, 'the replay line', (engineArgs) => `prestore replay ${engineArgs} ${shellQuote(lineToken)}`);
    const onLine = decodeCase(lineToken);
    const decoded = profile === undefined ? onLine : { ...onLine, case: { ...onLine.case, profile } };
    const token = profile === undefined ? lineToken : encodeCase(decoded.case, decoded.seed);
    const { seed } = decoded;
    const seams = seamsOf(io);
    const engine = await resolveEngine(flags, seams.engineModules, cwd);
    const result = await seams.harness.replay(engine.factory, token, { engineArgs: engine.engineArgs, ...threadGuard(engine.callTimeoutMs) });
    const note = fitNote(result.unfit, sameEngine(values, lineFlags), 'the replay line', engine.label);
    const out = [`prestore replay: engine ${engine.label}, seed ${seed}`, '', ...result.transcript, ...note];
    if (result.violations.length > 0) {
      out.push('');
      for (const v of result.violations) out.push(...formatViolation(v));
    }
    (values.html === '-' ? io.stderr : io.stdout).write(out.join('\n') + '\n');
    if (values.html !== undefined) {
      const html = await replayHtml(engine, decoded.case, seed, 'a replay line');
      if (values.html === '-') io.stdout.write(html);
      else await writeAtomically(values.html, html, cwd);
    }
    return result.violations.length > 0 ? 1 : 0;
  },
};

/** Takes apart a pasted replay line: `[npx] [prestore replay] [ENGINE FLAGS] c1.TOKEN`. */
export function splitLine(positionals: readonly string[]): { flags: EngineFlags; token: string } {
  const words = positionals.flatMap((p) => (/\s/.test(p.trim()) ? shellSplit(p) : [p.trim()]));
  while (words.length > 0 && ['npx', 'prestore', 'replay'].includes(words[0]!)) words.shift();
  const { values, positionals: rest } = parse(words, ENGINE_OPTIONS, { positionals: true });
  if (rest.length !== 1 || !rest[0]!.startsWith(TOKEN_PREFIX)) {
    const given = positionals.join(' ');
    throw new UsageError(
      rest.length === 0 ? 'the replay line has no c1.… token' : `${JSON.stringify(given.length > 80 ? `${given.slice(0, 80)}…` : given)} is not a replay line: a replay line ends in its c1.… token (prestore replay [ENGINE] c1.…), as a failure report prints it`,
    );
  }
  return { flags: values, token: rest[0]! };
}

export default replay;
