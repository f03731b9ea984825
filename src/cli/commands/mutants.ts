/** `prestore mutants`: the harness against every bundled buggy engine, and the kill matrix. */
import type { Mutant } from '../../mutants/catalogue.js';
import { hunt } from '../../mutants/hunt.js';
import { referenceEngine } from '../../engine/reference/index.js';
import { integerFlag, parse, seedFlag } from '../args.js';
import { DEVICE_PROFILE_HELP, DEVICE_PROFILE_OPTION, deviceProfileFlag } from '../device-profile-arg.js';
import { type Command, InputError } from '../command.js';
import type { Violation } from '../../harness/case.js';
import { engineArgsOf } from '../../report-html/picture.js';
import { checkStdoutReports, HTML_HELP, type KillRow, mutantsHtml } from '../html-report.js';
import { checkReportTarget, writeAtomically, xmlEscape } from '../report.js';
import { loadScenarios, scenarioArgs } from '../scenario-args.js';
import { seamsOf } from '../seams.js';
import { formatMs, table } from '../summary.js';

export const MUTANTS_SEED = 'prestore-mutants';
export const MUTANT_RUNS = 200;

const mutantsCommand: Command = {
  name: 'mutants',
  summary: 'run the harness against every bundled buggy engine and print the kill matrix',
  help: `Usage: prestore mutants [NAME...] [--runs N] [--seed S] [--device-profile P] [--json FILE] [--junit FILE] [--html FILE]

Each mutant is the reference engine with one realistic bug (a map bit cleared before its data is
durable, a read served from the wrong device, ...). For each, the harness exhausts every bundled
scenario, stopping at the first violation, then fails every I/O point of each with an I/O error
(as exhaust --eio, at depth 1), then explores random cases. A mutant is killed when a
violation is found; the matrix shows which rule caught it, after how many cases and how long.
A mutant that survives means the harness has a blind spot.

  NAME...                   only these mutants (default: all; --list shows them)
  --list                    list the mutants, their bugs and the rule expected to catch each
  --runs N                  random cases per mutant after the scenarios (default ${MUTANT_RUNS})
  --seed S                  the seed (default ${MUTANTS_SEED})
${DEVICE_PROFILE_HELP}
                            The kill matrix on those devices; the reference engine is hunted
                            first, as the control: a kill means little where it fails too.
  --json FILE               the matrix as JSON, an array of { mutant, description, killed,
                            casesToKill, elapsedMs, rule } (- for standard output)
  --junit FILE              a JUnit report, one testcase per mutant (- for standard output)
${HTML_HELP}
  -h, --help                this help

Exit status: 0 every mutant was killed, 1 a mutant survived, 2 bad usage or bad input,
3 an internal error (a bug in prestore: please report it).`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...DEVICE_PROFILE_OPTION, runs: { type: 'string' }, seed: { type: 'string' }, json: { type: 'string' }, junit: { type: 'string' }, html: { type: 'string' }, list: { type: 'boolean' } }, { positionals: true });
    const cwd = io.cwd ?? process.cwd();
    const seams = seamsOf(io);
    const all = ((await seams.engineModules.mutants()) as { mutants: readonly Mutant[] }).mutants;
    if (values.list === true) {
      io.stdout.write(table([['mutant', 'expected rule', 'bug'], ...all.map((m) => [m.name, m.rule, m.description])], 3).join('\n') + '\n');
      return 0;
    }
    const unknown = positionals.filter((n) => !all.some((m) => m.name === n));
    if (unknown.length > 0) throw new InputError(`no mutant named ${unknown.join(', ')}; the mutants are ${all.map((m) => m.name).join(', ')}`);
    const chosen = positionals.length === 0 ? all : all.filter((m) => positionals.includes(m.name));
    const runs = integerFlag('runs', values.runs, MUTANT_RUNS, 0, 10_000_000);
    const seed = seedFlag(values.seed) ?? MUTANTS_SEED;
    const profile = await deviceProfileFlag(values['device-profile'], cwd);
    checkStdoutReports({ json: values.json, junit: values.junit, html: values.html });
    await checkReportTarget('json', values.json, cwd);
    await checkReportTarget('junit', values.junit, cwd);
    await checkReportTarget('html', values.html, cwd);
    const dir = seams.bundledScenarios();
    const scenarios = (await loadScenarios(await scenarioArgs([dir], cwd, dir), seams)).map((s) => s.scenario);
    const toStdout = [values.json, values.junit, values.html].includes('-');
    const say = (line: string) => (toStdout ? io.stderr : io.stdout).write(line + '\n');

    const heading = `prestore mutants: engines ${chosen.map((m) => `mutant:${m.name}`).join(', ')}, seed ${seed}${profile === undefined ? '' : `, device profile ${profile.name}`}`;
    say(heading);
    const onDevices = profile === undefined ? {} : { profile };
    if (profile !== undefined) {
      const control = await hunt(referenceEngine, seams.harness, { seed, scenarios, runs, engineArgs: '--engine reference', ...onDevices });
      say(`  control: the reference engine ${control.killed ? `FAILS on ${profile.name} (${control.violation!.rule} after ${control.cases} cases): a kill below may be the device's doing` : `passes on ${profile.name} (${control.cases} cases)`}`);
    }
    const rows: KillRow[] = [];
    const found = new Map<string, Violation>();
    for (const m of chosen) {
      const started = seams.now();
      const engineArgs = `--engine mutant:${m.name}`;
      const result = await hunt(m.factory, seams.harness, { seed, scenarios, runs, engineArgs, ...onDevices });
      const row: KillRow = {
        mutant: m.name,
        description: m.description,
        killed: result.killed,
        casesToKill: result.killed ? result.cases : null,
        elapsedMs: Math.round(seams.now() - started),
        rule: result.violation?.rule ?? null,
        expectedRule: m.rule,
        replay: result.violation?.replay ?? null,
      };
      rows.push(row);
      if (result.violation !== undefined) found.set(m.name, result.violation);
      say(`  ${row.killed ? 'killed  ' : 'SURVIVED'} ${m.name}${row.killed ? ` by ${row.rule} after ${row.casesToKill} cases` : ` ${result.cases} cases`} (${formatMs(row.elapsedMs)})`);
    }

    const killed = rows.filter((r) => r.killed).length;
    const lines = [
      '',
      `prestore mutants: seed ${seed}${profile === undefined ? '' : `, device profile ${profile.name}`}, ${rows.length} mutants, ${killed} killed`,
      ...table([
        ['mutant', 'killed', 'rule', 'expected', 'cases', 'time'],
        ...rows.map((r) => [r.mutant, r.killed ? 'yes' : 'NO', r.rule ?? '-', r.expectedRule, r.casesToKill === null ? '-' : String(r.casesToKill), formatMs(r.elapsedMs)]),
      ], 4),
      '',
      killed === rows.length ? 'every mutant was killed' : `${rows.length - killed} mutant(s) survived: the harness has a blind spot`,
    ];
    for (const line of lines) say(line);
    if (values.json !== undefined) await emit(values.json, JSON.stringify(rows, null, 2) + '\n');
    if (values.junit !== undefined) await emit(values.junit, junit(rows, seed, heading));
    if (values.html !== undefined) {
      const engines = new Map(chosen.map((m) => [`--engine mutant:${m.name}`, m.factory]));
      await emit(values.html, await mutantsHtml(rows, seed, async (line) => engines.get(engineArgsOf(line)) ?? { unavailable: 'it names no mutant of this run' }, found));
    }
    return killed === rows.length ? 0 : 1;

    async function emit(target: string, text: string): Promise<void> {
      if (target === '-') io.stdout.write(text);
      else await writeAtomically(target, text, cwd);
    }
  },
};

/** `headline` names the engines tested; it goes on the first line, as in every report. */
function junit(rows: readonly KillRow[], seed: string, headline: string): string {
  const survived = rows.filter((r) => !r.killed).length;
  const total = rows.reduce((t, r) => t + r.elapsedMs, 0) / 1000;
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?><testsuites name="${xmlEscape(headline)}" tests="${rows.length}" failures="${survived}" errors="0" time="${total.toFixed(3)}">`,
    `  <testsuite name="prestore mutants (seed ${xmlEscape(seed)})" tests="${rows.length}" failures="${survived}" errors="0" skipped="0" time="${total.toFixed(3)}">`,
  ];
  for (const r of rows) {
    const open = `    <testcase classname="prestore.mutants" name="${xmlEscape(r.mutant)}" time="${(r.elapsedMs / 1000).toFixed(3)}"`;
    if (r.killed) lines.push(`${open}/>`);
    else lines.push(`${open}>`, `      <failure message="${xmlEscape(`survived: ${r.description}`)}" type="survived"/>`, '    </testcase>');
  }
  lines.push('  </testsuite>', '</testsuites>');
  return lines.join('\n') + '\n';
}

export default mutantsCommand;
