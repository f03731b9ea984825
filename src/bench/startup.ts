/**
 * How long `prestore` takes to start: `prestore --version` and `prestore status --help` as fresh
 * processes, beside a bare `node -e 0`, alternating, median of the rounds. What a command costs
 * beyond node itself is the modules it loads, so these commands, which need almost none, show
 * whether the command line loads only what a command needs.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface StartupBench {
  nodeMs: number;
  versionMs: number;
  statusHelpMs: number;
  /** Time beyond a bare node: what prestore's own loading costs. */
  versionOverNodeMs: number;
  statusHelpOverNodeMs: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(args: readonly string[]): number {
  const started = performance.now();
  const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - started;
  if (run.status !== 0) throw new Error(`node ${args.join(' ')} exited ${run.status}: ${run.stderr.toString()}`);
  return ms;
}

export function benchStartup(rounds = 9): StartupBench {
  const runs = { node: ['-e', '0'], version: [MAIN, '--version'], statusHelp: [MAIN, 'status', '--help'] } as const;
  const times: Record<keyof typeof runs, number[]> = { node: [], version: [], statusHelp: [] };
  // One untimed round first: the first start of each reads its files from disk.
  for (const args of Object.values(runs)) timed(args);
  for (let r = 0; r < rounds; r++) for (const [name, args] of Object.entries(runs)) times[name as keyof typeof runs].push(timed(args));
  const nodeMs = median(times.node);
  const versionMs = median(times.version);
  const statusHelpMs = median(times.statusHelp);
  return { nodeMs, versionMs, statusHelpMs, versionOverNodeMs: versionMs - nodeMs, statusHelpOverNodeMs: statusHelpMs - nodeMs };
}
