/**
 * The built `prestore` binary, for tests that run it as a real process (killed mid-restore, two
 * processes at once, inside a mount namespace). `npm test` builds it first; a test run on its own
 * rebuilds it when some compiled source is older than its .ts, so it never runs a stale binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// From src/cli (ts, under vitest) or dist/src/cli (js): the repository is the folder with package.json.
const root = existsSync(join(repo, 'package.json')) ? repo : join(repo, '..');

function distIsStale(): boolean {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') ? [join(dir, d.name)] : []));
  return walk(join(root, 'src')).some((ts) => {
    const js = join(root, 'dist', relative(root, ts)).replace(/\.ts$/, '.js');
    return !existsSync(js) || statSync(js).mtimeMs < statSync(ts).mtimeMs;
  });
}

/** The path of `dist/src/cli/main.js`, built first if stale. */
export function builtBinary(): string {
  if (distIsStale()) execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  return join(root, 'dist', 'src', 'cli', 'main.js');
}
