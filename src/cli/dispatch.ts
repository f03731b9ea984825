/**
 * `prestore <command> [args]`: finds the command, handles `--help` and `--version`, and turns
 * what a command throws into the exit codes every command shares:
 *
 *   0 every check held; 1 a violation was found; 2 bad usage (unknown command or flag, a missing
 *   argument) or bad input (a malformed scenario, a damaged replay line, corrupt metadata, a
 *   misbehaving engine process); 3 an internal error, which is a bug in prestore.
 */
import { packageVersion } from './campaign-run.js';
import { InputError, UsageError } from '../errors.js';
import type { Command, CommandIo } from './command.js';
import * as registry from './commands/index.js';
import { table } from './summary.js';
import { endRestingProcesses } from '../protocol/process-group.js';

/** Every command of the registry, checked, by name. */
export const COMMANDS: readonly Command[] = registered(registry as Record<string, unknown>);

function registered(modules: Record<string, unknown>): Command[] {
  const commands = Object.entries(modules).map(([key, c]) => {
    const cmd = c as Partial<Command> | undefined;
    if (typeof cmd?.name !== 'string' || typeof cmd.summary !== 'string' || typeof cmd.help !== 'string' || typeof cmd.run !== 'function') {
      throw new Error(`src/cli/commands/index.ts: the export "${key}" is not a Command (name, summary, help, run)`);
    }
    return cmd as Command;
  });
  const names = commands.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`src/cli/commands/index.ts: two commands are named "${twice}"`);
  return commands.sort((a, b) => a.name.localeCompare(b.name));
}

export function mainHelp(commands: readonly Command[] = COMMANDS): string {
  return [
    'Usage: prestore <command> [options]',
    '',
    'Protected restore: a reference engine, and a deterministic fault-injection harness that',
    'crashes any restore engine at every I/O point on simulated disks and judges the outcome.',
    '',
    'Commands:',
    ...table(commands.map((c) => [c.name, c.summary]), 2),
    '',
    'Options:',
    '  -h, --help      this help; prestore <command> --help for a command\'s',
    '  -v, --version   the version',
    '',
    'Exit status: 0 every check held, 1 a violation was found, 2 bad usage or bad input,',
    '3 an internal error (a bug in prestore: please report it with the command line and output).',
    '',
  ].join('\n');
}

/** Runs `prestore` with `argv` (the arguments after the program name); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CommandIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(mainHelp(commands));
    return 2;
  }
  if (first === '--help' || first === '-h') {
    io.stdout.write(mainHelp(commands));
    return 0;
  }
  if (first === '--version' || first === '-v' || first === '-V') {
    io.stdout.write(`prestore ${packageVersion()}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(mainHelp(commands));
      return 0;
    }
    const command = commands.find((c) => c.name === topic);
    if (command === undefined) return unknownCommand(topic, io, commands);
    io.stdout.write(withNewline(command.help));
    return 0;
  }
  if (first.startsWith('-')) {
    io.stderr.write(`prestore: unknown option ${first}\nsee prestore --help\n`);
    return 2;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) return unknownCommand(first, io, commands);
  if (wantsHelp(rest)) {
    io.stdout.write(withNewline(command.help));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    return failed(e, command.name, io);
  } finally {
    // Persistent engine processes outlive their instances, never the command.
    endRestingProcesses();
  }
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** `--help` or `-h` anywhere before a `--`. */
function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

function unknownCommand(name: string, io: CommandIo, commands: readonly Command[]): number {
  io.stderr.write(`prestore: unknown command "${name}" (the commands are ${commands.map((c) => c.name).join(', ')})\nsee prestore --help\n`);
  return 2;
}

/** The exit code and message for what a command threw. */
export function failed(e: unknown, command: string, io: CommandIo): number {
  if (e instanceof UsageError) {
    io.stderr.write(`prestore ${command}: ${e.message}\nsee prestore ${command} --help\n`);
    return 2;
  }
  if (e instanceof InputError) {
    io.stderr.write(`prestore ${command}: ${e.message}\n`);
    return 2;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  io.stderr.write(
    `prestore ${command}: internal error: ${err.message}\n${err.stack ?? ''}\n\n` +
      'This is a bug in prestore, not a finding about the engine. Please report it with the command line and this output.\n',
  );
  return 3;
}
