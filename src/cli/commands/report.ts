/** `prestore report`: a run's `--json` result drawn as one self-contained HTML page. */
import { resolve } from 'node:path';
import { parse } from '../args.js';
import { readInputFile } from '../../harness/input-file.js';
import { type Command, UsageError } from '../command.js';
import { type EngineChoice, resolveEngine } from '../engine-arg.js';
import { campaignHtml, type EngineFor, mutantsHtml, parseResult } from '../html-report.js';
import { checkReportTarget, writeAtomically } from '../report.js';
import { seamsOf } from '../seams.js';
import { splitLine } from './replay.js';

const report: Command = {
  name: 'report',
  summary: 'draw a --json result (explore, exhaust, start, merge, mutants) as a self-contained HTML page',
  help: `Usage: prestore report RESULT.json -o REPORT.html

Draws the --json result of explore, exhaust, start or merge (or the kill matrix of prestore
mutants) as one HTML file that needs nothing else: open it from disk in any browser, or print it.

For each violation drawn (the first of each rule in each scenario, and a few more): a timeline
with a lane per device (source, clone, metadata) and one for the host's operations; reads,
writes (FUA flagged) and flushes (barriers); the crash as a line across the lanes; each cached
write, sector by sector, solid where it survived and hatched where it was lost; the recovery's
I/O; the rule that failed with the expected and actual bytes; the line that replays it. For the
run: the summary, and the coverage of each scenario as a heat map of I/O point by cache mode.

Each violation drawn is replayed here, in process, against the engine its replay line names, to
get its I/O as structured data; when that engine cannot be run here, or does not fail the same
way, the violation is drawn from the trace lines the result file kept, and the page says so.
Results written by older versions of prestore are read too, with less to draw.

Options:
  -o, --output FILE         the HTML file to write (- for standard output)
  -h, --help                this help

Exit status: 0 the report was written, 2 bad usage or a bad result file, 3 an internal error
(a bug in prestore: please report it).`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { output: { type: 'string', short: 'o' } }, { positionals: true });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'report needs the --json result file to draw' : `report draws one result file, not ${positionals.length}`);
    if (values.output === undefined) throw new UsageError('report needs -o FILE.html (or -o - for standard output)');
    const cwd = io.cwd ?? process.cwd();
    await checkReportTarget('output', values.output, cwd);
    const file = positionals[0]!;
    const parsed = parseResult(await readInputFile(resolve(cwd, file), file, 'a result file'), file);
    const engineFor = enginesOfLines(io, cwd);
    const html = parsed.kind === 'mutants' ? await mutantsHtml(parsed.rows, undefined, engineFor) : await campaignHtml(parsed.result, engineFor);
    if (values.output === '-') io.stdout.write(html);
    else {
      await writeAtomically(values.output, html, cwd);
      io.stdout.write(`report written: ${values.output}\n`);
    }
    return 0;
  },
};

/** The engine each replay line names, resolved once per engine; why not, when it cannot be. */
function enginesOfLines(io: Parameters<Command['run']>[1], cwd: string): EngineFor {
  const resolved = new Map<string, Promise<EngineChoice | { unavailable: string }>>();
  return async (line) => {
    let flags;
    try {
      flags = splitLine([line]).flags;
    } catch (e) {
      return { unavailable: `its replay line names no engine this prestore can run (${(e as Error).message})` };
    }
    const key = JSON.stringify(flags);
    if (!resolved.has(key)) {
      resolved.set(key, resolveEngine(flags, seamsOf(io).engineModules, cwd).catch((e: unknown) => ({ unavailable: `its engine cannot be run here: ${(e as Error).message}` })));
    }
    const choice = await resolved.get(key)!;
    return 'unavailable' in choice ? choice : choice.factory;
  };
}

export default report;
