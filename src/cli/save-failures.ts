/**
 * `--save-failures DIR`: each minimal failure of a campaign, written as a counterexample file
 * (../harness/counterexample.ts) that `prestore replay FILE.json` replays without a seed and that,
 * dropped into scenarios/regressions/, `npm test` replays on every run.
 *
 * One file per distinct failure, the ones the report prints (./failures.ts): explore's one, and
 * exhaust's first of each rule per scenario, each shrunk to a minimal case (they carry `crash`).
 * The others are the same failure from other crash states.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { counterexampleFileName, counterexampleOf, counterexampleSchemaPath, formatCounterexample } from '../harness/counterexample.js';
import { packageRoot } from '../harness/scenario-file.js';
import { InputError, UsageError } from './command.js';
import { distinctFailures } from './failures.js';
import { cannotCreateIn, type RunReport, writeAtomically } from './report.js';

export const SAVE_FAILURES_HELP = `  --save-failures DIR       write each distinct failure, shrunk, to DIR as a counterexample file
                            (JSON, see scenarios/counterexample.schema.json in the package);
                            prestore replay FILE replays it without a seed`;

/**
 * Checks before a long run that DIR could hold the files: a directory that takes new files, or
 * absent (it is created) below one.
 */
export async function checkSaveTarget(dir: string | undefined, cwd: string): Promise<void> {
  if (dir === undefined) return;
  if (dir === '') throw new UsageError('--save-failures needs a directory');
  const target = resolve(cwd, dir);
  let existing = target;
  for (let s = await stat(existing).catch(() => undefined); s === undefined; s = await stat(existing).catch(() => undefined)) existing = dirname(existing);
  if (!(await stat(existing)).isDirectory()) {
    throw new UsageError(existing === target ? `--save-failures ${dir}: is a file, not a directory` : `--save-failures ${dir}: ${existing} is a file, not a directory`);
  }
  const cannot = await cannotCreateIn(existing);
  if (cannot !== undefined) throw new UsageError(`--save-failures ${dir}: cannot ${existing === target ? 'write in' : 'create a directory in'} ${existing}: ${cannot}`);
}

/** The `$schema` a file in `target` should carry: relative, when both live in this package. */
function schemaRef(target: string): string | undefined {
  const schema = counterexampleSchemaPath();
  const inside = relative(packageRoot(), target);
  if (inside.startsWith('..') || isAbsolute(inside)) return undefined;
  return relative(target, schema).split(sep).join('/');
}

/** Writes the minimal failures of `report` to `dir`; returns the files written, as reports name them. */
export async function saveFailures(dir: string, report: RunReport, cwd: string): Promise<string[]> {
  const target = resolve(cwd, dir);
  const parts = report.parts.map((p) => ({ name: p.name, violations: p.result.violations }));
  const minimal = distinctFailures(parts)
    .filter((f) => f.violation.crash !== undefined)
    .map((f) => ({ v: f.violation, p: report.parts.find((p) => p.name === f.where[0])! }));
  if (minimal.length === 0) return [];
  try {
    await mkdir(target, { recursive: true });
  } catch (e) {
    throw new InputError(`--save-failures ${dir}: cannot create the directory: ${(e as Error).message}`);
  }
  const $schema = schemaRef(target);
  const written: string[] = [];
  for (const { v, p } of minimal) {
    const file = counterexampleOf(v, {
      engineArgs: report.engineArgs,
      engineLabel: report.engine,
      command: report.command,
      ...(p.kind === 'exhaust' ? { scenario: p.name } : {}),
      seed: report.seed,
      ...($schema === undefined ? {} : { $schema }),
    });
    const name = join(dir, counterexampleFileName(file));
    await writeAtomically(name, formatCounterexample(file), cwd);
    written.push(name);
  }
  return written;
}
