/**
 * Scenario arguments: a file, a directory of scenario files, or the name of a bundled scenario
 * (`prestore exhaust protected-restore`), which works from any directory.
 */
import { readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Scenario } from '../harness/case.js';
import { fsReason, kindOf } from '../harness/input-file.js';
import { InputError } from './command.js';
import type { Seams } from './seams.js';

export interface ScenarioArg {
  /** The file as reports name it: as given, or relative to the working directory. */
  readonly file: string;
  readonly path: string;
}

/** The scenario files in a directory, by name, without the schema; `shown` names it in errors. */
export async function scenarioFilesIn(dir: string, shown = dir): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new InputError(`${shown}: cannot list the directory: ${fsReason(e)}`);
  }
  return names.filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json')).sort();
}

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** What is at `path`: undefined when nothing is; any other failure is bad input naming `arg`. */
async function statOf(path: string, arg: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new InputError(`${arg}: ${fsReason(e)}`);
  }
}

/**
 * The scenario files the arguments name, each checked for its kind before anything opens it: a
 * directory is listed, a regular file taken, anything else (a FIFO would block the read forever)
 * refused. Files listed in a directory are checked by the loader, which reads regular files only.
 */
export async function scenarioArgs(args: readonly string[], cwd: string, bundledDir: string): Promise<ScenarioArg[]> {
  const out: ScenarioArg[] = [];
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const s = await statOf(path, arg);
    if (s?.isDirectory()) {
      const files = await scenarioFilesIn(path, arg);
      if (files.length === 0) throw new InputError(`${arg}: no scenario files (*.json) in this directory`);
      for (const f of files) out.push({ file: isAbsolute(arg) ? display(join(path, f), cwd) : join(arg, f), path: join(path, f) });
      continue;
    }
    if (s?.isFile()) {
      out.push({ file: arg, path });
      continue;
    }
    if (s !== undefined) throw new InputError(`${arg}: is ${kindOf(s)}: a scenario is a regular file, a directory of them, or the name of a bundled one`);
    if (/^[\w-]+$/.test(arg)) {
      const bundled = join(bundledDir, `${arg}.json`);
      if (await stat(bundled).catch(() => undefined)) {
        out.push({ file: display(bundled, cwd), path: bundled });
        continue;
      }
    }
    const known = await scenarioFilesIn(bundledDir).catch(() => [] as string[]);
    throw new InputError(`${arg}: no such scenario file or directory${known.length > 0 ? ` (nor a bundled scenario; those are ${known.map((k) => k.replace(/\.json$/, '')).join(', ')}, and --bundled runs them all)` : ''}`);
  }
  // A scenario named twice (a bundled one by name and again by --bundled) runs once.
  return out.filter((a, i) => out.findIndex((b) => b.path === a.path) === i);
}

export async function loadScenarios(args: readonly ScenarioArg[], seams: Seams): Promise<{ scenario: Scenario; file: string }[]> {
  const loaded = [];
  const problems: string[] = [];
  for (const a of args) {
    try {
      loaded.push({ scenario: await seams.loadScenario(a.path, a.file), file: a.file });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(e.message);
    }
  }
  // Every bad file at once, before anything runs.
  if (problems.length > 0) throw new InputError(problems.join('\n'));
  return loaded;
}
