/**
 * Scenario arguments: a file, a directory of scenario files, or the name of a bundled scenario
 * (`prestore exhaust protected-restore`), which works from any directory.
 */
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Scenario } from '../harness/case.js';
import { InputError } from './command.js';
import type { Seams } from './seams.js';

export interface ScenarioArg {
  /** The file as reports name it: as given, or relative to the working directory. */
  readonly file: string;
  readonly path: string;
}

/** The scenario files in a directory, by name, without the schema. */
export async function scenarioFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json')).sort();
}

function display(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export async function scenarioArgs(args: readonly string[], cwd: string, bundledDir: string): Promise<ScenarioArg[]> {
  const out: ScenarioArg[] = [];
  for (const arg of args) {
    const path = resolve(cwd, arg);
    const s = await stat(path).catch(() => undefined);
    if (s?.isDirectory()) {
      const files = await scenarioFilesIn(path);
      if (files.length === 0) throw new InputError(`${arg}: no scenario files (*.json) in this directory`);
      for (const f of files) out.push({ file: isAbsolute(arg) ? display(join(path, f), cwd) : join(arg, f), path: join(path, f) });
      continue;
    }
    if (s !== undefined) {
      out.push({ file: arg, path });
      continue;
    }
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
