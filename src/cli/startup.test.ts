/**
 * Start-up: `prestore --version` and `prestore <command> --help` load only what they need. The
 * binary's static imports (the ones loaded before any line runs) must stay clear of the harness,
 * the engines, the image code and the heavy packages; each command's modules are loaded when it
 * runs. How long start-up takes is measured by `npm run bench` (section `startup`), not here.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CommandIo } from './command.js';
import { REGISTRY } from './commands/index.js';
import { runCli } from './dispatch.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The modules a file loads before it runs: value imports and re-exports, not `import type` or `import()`. */
function staticImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+'([^']+)'/g)].filter((m) => m[2] === undefined).map((m) => m[3]!);
}

/** Every module `entry` loads statically, transitively: our files by path, packages by name. */
export function loadedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(relative(ROOT, normalize(join(ROOT, dirname(file), spec.replace(/\.js$/, '.ts')))));
      else if (!spec.startsWith('node:')) seen.add(spec);
    }
  };
  visit(entry);
  return seen;
}

function sink() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as CommandIo['stdout'], text: () => text };
}

describe('start-up', () => {
  it('the binary loads no command, harness, engine or heavy package before it runs', () => {
    const loaded = [...loadedBy('src/cli/main.ts')];
    expect(loaded).toContain('src/cli/dispatch.ts');
    const heavy = loaded.filter((m) => /^src\/(cli\/commands\/(?!index)|harness\/(?!package-root|case|oracle\/rules|campaign)|engine|images|protocol|mutants|devices)/.test(m) || /^(fast-check|ajv|memfs|cli-progress|seedrandom)/.test(m));
    expect(heavy).toEqual([]);
  });

  it('prestore status --help loads no image code, engine or memfs: status loads them when it runs', () => {
    const loaded = [...loadedBy('src/cli/commands/status.ts')];
    expect(loaded.filter((m) => /^src\/(images\/(?!sizes)|engine|harness\/(?!case|oracle\/rules))/.test(m) || /^(memfs|fast-check|ajv)$/.test(m))).toEqual([]);
  });

  it('finds a heavy import where there is one (the check itself)', () => {
    expect([...loadedBy('src/cli/campaign-run.ts')]).toEqual(expect.arrayContaining(['ajv', 'src/harness/exhaust.ts']));
  });

  it('--version and one command\'s --help load nothing, respectively only that command', async () => {
    const loads: string[] = [];
    const registry = Object.fromEntries(Object.entries(REGISTRY).map(([name, load]) => [name, () => (loads.push(name), load())]));
    const out = sink();
    const io: CommandIo = { stdout: out.stream, stderr: out.stream, env: {} };
    expect(await runCli(['--version'], io, registry)).toBe(0);
    expect(loads).toEqual([]);
    expect(await runCli(['status', '--help'], io, registry)).toBe(0);
    expect(loads).toEqual(['status']);
    expect(await runCli(['--help'], io, registry)).toBe(0);
    expect(loads.sort()).toEqual([...Object.keys(REGISTRY), 'status'].sort());
  });

  it('a registry entry that loads another command is prestore\'s bug: exit 3 naming it', async () => {
    const err = sink();
    const io: CommandIo = { stdout: sink().stream, stderr: err.stream, env: {} };
    expect(await runCli(['status', '--help'], io, { status: REGISTRY.init! })).toBe(3);
    expect(err.text()).toContain('"status" loads the command named "init"');
  });
});
