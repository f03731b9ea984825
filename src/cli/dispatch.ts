/**
 * `prestore <command> [args]`: finds the command, handles `--help` and `--version`, and turns
 * what a command throws into the exit codes every command shares:
 *
 *   0 every check held; 1 a violation was found; 2 bad usage (unknown command or flag, a missing
 *   argument) or bad input (a malformed scenario, a damaged replay line, corrupt metadata, a
 *   misbehaving engine process); 3 an internal error, which is a bug in prestore.
 */
import { InputError, UsageError } from '../errors.js';
import type { Command, CommandIo } from './command.js';
import { type CommandLoader, REGISTRY } from './commands/index.js';
import { table } from './summary.js';
import { packageVersion } from './version.js';

/** Command names and the loaders of their modules: `REGISTRY`, or a test's own. */
export type Registry = Readonly<Record<string, CommandLoader>>;

/** One command's module, loaded and checked to be the command it is registered as. */
export async function loadCommand(name: string, registry: Registry = REGISTRY): Promise<Command> {
  const cmd = (await registry[name]!()).default as Partial<Command> | undefined;
  if (typeof cmd?.name !== 'string' || typeof cmd.summary !== 'string' || typeof cmd.help !== 'string' || typeof cmd.run !== 'function') {
    throw new Error(`src/cli/commands/index.ts: the module of "${name}" does not export a Command (name, summary, help, run) as default`);
  }
  if (cmd.name !== name) throw new Error(`src/cli/commands/index.ts: "${name}" loads the command named "${cmd.name}"`);
  return cmd as Command;
}

/** Every command of the registry, loaded and checked, by name: what the main help lists. */
export async function loadCommands(registry: Registry = REGISTRY): Promise<Command[]> {
  const commands = await Promise.all(Object.keys(registry).map((name) => loadCommand(name, registry)));
  return commands.sort((a, b) => a.name.localeCompare(b.name));
}

export function mainHelp(commands: readonly Command[]): string {
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
export async function runCli(argv: readonly string[], io: CommandIo, registry: Registry = REGISTRY): Promise<number> {
  try {
    return await dispatch(argv, io, registry);
  } catch (e) {
    // What a command throws, or a command module that does not load (prestore's own bug).
    return failed(e, argv[0] ?? 'prestore', io);
  }
}

async function dispatch(argv: readonly string[], io: CommandIo, registry: Registry): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(mainHelp(await loadCommands(registry)));
    return 2;
  }
  if (first === '--help' || first === '-h') {
    io.stdout.write(mainHelp(await loadCommands(registry)));
    return 0;
  }
  if (first === '--version' || first === '-v' || first === '-V') {
    io.stdout.write(`prestore ${packageVersion()}\n`);
    return 0;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.stdout.write(mainHelp(await loadCommands(registry)));
      return 0;
    }
    if (!Object.hasOwn(registry, topic)) return unknownCommand(topic, io, registry);
    io.stdout.write(withNewline((await loadCommand(topic, registry)).help));
    return 0;
  }
  if (first.startsWith('-')) {
    io.stderr.write(`prestore: unknown option ${first}\nsee prestore --help\n`);
    return 2;
  }
  if (!Object.hasOwn(registry, first)) return unknownCommand(first, io, registry);
  const command = await loadCommand(first, registry);
  if (wantsHelp(rest)) {
    io.stdout.write(withNewline(command.help));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } finally {
    // Persistent engine processes outlive their instances, never the command.
    (await import('../protocol/process-group.js')).endRestingProcesses();
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

function unknownCommand(name: string, io: CommandIo, registry: Registry): number {
  io.stderr.write(`prestore: unknown command "${name}" (the commands are ${Object.keys(registry).sort().join(', ')})\nsee prestore --help\n`);
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
