/**
 * Where the package's own files are, wherever it is installed: the package root (the nearest
 * directory above this module whose package.json is ours) and the bundled scenarios in it. Kept
 * apart from the scenario loader so that finding them loads nothing else.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root: the nearest directory above this module holding our package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'protected-restore') return dir;
    } catch {
      // not here: keep climbing
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the protected-restore package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Where the bundled scenario files and their schemas live (`scenarios/` in the package). */
export function bundledScenariosDir(): string {
  return join(packageRoot(), 'scenarios');
}
