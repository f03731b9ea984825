/**
 * The registry of `prestore` commands: each name with the loader of its module, so a command's
 * modules (the harness, fast-check, the image code) are loaded only when that command runs or
 * prints its help, and `prestore --version` loads none of them. Adding a command is one line
 * here: a module in this directory whose default export is a `Command` of the same name.
 * `prestore --help` lists them in alphabetical order.
 */
import type { Command } from '../command.js';

export type CommandLoader = () => Promise<{ readonly default: Command }>;

export const REGISTRY: Readonly<Record<string, CommandLoader>> = {
  exhaust: () => import('./exhaust.js'),
  explore: () => import('./explore.js'),
  init: () => import('./init.js'),
  merge: () => import('./merge.js'),
  mutants: () => import('./mutants.js'),
  replay: () => import('./replay.js'),
  report: () => import('./report.js'),
  restore: () => import('./restore.js'),
  resume: () => import('./resume.js'),
  serve: () => import('./serve.js'),
  start: () => import('./start.js'),
  status: () => import('./status.js'),
  verify: () => import('./verify.js'),
};
