/** Where a worker thread's compiled module is: beside this file when built, in dist/ when this runs from the sources (tests). */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function workerFile(name: string): string {
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  return existsSync(here) ? here : fileURLToPath(new URL(`../../dist/src/cli/${name}`, import.meta.url));
}
