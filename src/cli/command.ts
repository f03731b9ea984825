import type { Seams } from './seams.js';

/**
 * One `prestore` subcommand. Each lives in `src/cli/commands/NAME.ts` and is listed in
 * `src/cli/commands/index.ts`; `main.ts` dispatches by name and owns exit codes:
 * 0 every check held, 1 a violation was found, 2 bad usage or bad input (`UsageError`, `InputError`,
 * and errors named `EngineProtocolError` or `MetadataError`), 3 an internal error (a bug).
 *
 * Adding a command is one line in `src/cli/commands/index.ts`, `NAME: () => import('./NAME.js'),`,
 * where the module's default export is a `Command` named NAME; it is loaded only when it runs.
 */
export interface Command {
  readonly name: string;
  /** One line for `prestore --help`. */
  readonly summary: string;
  /** The full text of `prestore NAME --help`. */
  readonly help: string;
  /** Runs with the arguments after the subcommand name; resolves to the exit code. */
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

/** Where a command writes; tests pass buffers, the binary passes the process streams. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** The directory relative paths resolve against (`process.cwd()` when absent). */
  readonly cwd?: string;
  /**
   * Test seams: stand-ins for what a command reaches outside itself (the harness, the engine
   * modules, the clock). The binary passes none and every command falls back to the real ones;
   * a command with other dependencies worth faking adds its own optional field to `Seams`.
   */
  readonly seams?: Partial<Seams>;
}

export { InputError, UsageError } from '../errors.js';
