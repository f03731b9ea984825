/**
 * Which engine a command runs against, from `--engine NAME|PATH` or `--engine-cmd "COMMAND"`:
 *
 * - `--engine reference` (the default): the reference engine;
 * - `--engine mutant:NAME`: a bundled buggy engine (`prestore mutants` lists them);
 * - `--engine ./path/to/module.js`: a vendor's in-process engine, a module exporting an
 *   `EngineFactory` as `default` or `engine`, or a function `createEngine()` returning one;
 * - `--engine-cmd "COMMAND"`: a vendor's out-of-process engine speaking the stdio protocol, with
 *   `--engine-timeout MS` bounding every wait on its processes.
 *
 * The result carries `engineArgs`, the same choice as shell-quoted flags, which every replay line
 * repeats so that it re-runs the case against the same engine, and `--call-timeout`, the bound on
 * each engine call, in process or not (../harness/engine-guard.ts).
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EngineFactory } from '../engine/contract.js';
import { checkFactory, DEFAULT_CALL_TIMEOUT_MS, MAX_CALL_TIMEOUT_MS } from '../harness/engine-guard.js';
import { UNNAMED_ENGINE } from '../harness/replay-line.js';
import { DEFAULT_AUDIT_RATE } from '../protocol/audit.js';
import { DEFAULT_LANES, DEFAULT_TIMEOUT_MS, MAX_LANES } from '../protocol/stdio-engine.js';
import { integerFlag, shellQuote } from './args.js';
import { InputError, UsageError } from './command.js';
import type { EngineModules } from './seams.js';

export interface EngineChoice {
  readonly factory: EngineFactory;
  /** The flags that name this engine, for replay lines: `--engine mutant:clone-write`. */
  readonly engineArgs: string;
  /** How reports name it: `reference`, `mutant:clone-write`, `./my-engine.js`, `cmd: python3 x.py`. */
  readonly label: string;
  /** `--call-timeout`: how long one engine call may take before the run ends as a hang. */
  readonly callTimeoutMs: number;
}

export interface EngineFlags {
  readonly engine?: string;
  readonly 'engine-cmd'?: string;
  readonly 'engine-timeout'?: string;
  readonly 'call-timeout'?: string;
  readonly 'audit-rate'?: string;
  readonly 'engine-lanes'?: string;
}

/** The flag definitions every engine-taking command shares, for `parse`. */
export const ENGINE_OPTIONS = {
  engine: { type: 'string' },
  'engine-cmd': { type: 'string' },
  'engine-timeout': { type: 'string' },
  'call-timeout': { type: 'string' },
  'audit-rate': { type: 'string' },
  'engine-lanes': { type: 'string' },
} as const;

export const ENGINE_HELP = `Engine (default: --engine reference):
  --engine reference        the reference engine
  --engine mutant:NAME      a bundled buggy engine (see prestore mutants)
  --engine PATH             a module (./my-engine.js) exporting an EngineFactory as
                            \`default\` or \`engine\`, or \`createEngine()\` returning one
  --engine-cmd "COMMAND"    an engine process speaking the stdio protocol; the harness
                            serves its device I/O and kills it to simulate power loss
  --engine-timeout MS       with --engine-cmd: how long the engine process may stay silent
                            while the harness waits for it (its handshake, each answer)
                            before the run ends with exit 2 (default ${DEFAULT_TIMEOUT_MS})
  --call-timeout MS         how long one engine call, in process or not, may take before the
                            run ends as a hang, exit 2, naming the call (default ${DEFAULT_CALL_TIMEOUT_MS})

  --audit-rate R            with --engine-cmd, for an engine that declares "stateless"
                            (one process for many instances): the share of instances, 0 to
                            1, run again in a fresh process to check it keeps nothing
                            across a crash (default ${DEFAULT_AUDIT_RATE})
  --engine-lanes N          with --engine-cmd: how many engine processes exhaust keeps busy
                            at once, each checking crash states of its own, the results taken
                            in order: the same verdict as 1, sooner (default ${DEFAULT_LANES})`;

const MUTANT_PREFIX = 'mutant:';

/** A module path rather than a name: it has a directory part or a script extension. */
function looksLikePath(spec: string): boolean {
  return spec.startsWith('.') || isAbsolute(spec) || /[\\/]/.test(spec) || /\.(m|c)?js$/.test(spec);
}

/** The longest `--engine-timeout` a timer can hold, and more than any engine needs. */
const MAX_TIMEOUT_MS = 86_400_000;

export async function resolveEngine(flags: EngineFlags, modules: EngineModules, cwd: string): Promise<EngineChoice> {
  const { engine, 'engine-cmd': command } = flags;
  const callTimeoutMs = integerFlag('call-timeout', flags['call-timeout'], DEFAULT_CALL_TIMEOUT_MS, 1, MAX_CALL_TIMEOUT_MS);
  if (engine !== undefined && command !== undefined) throw new UsageError('give --engine or --engine-cmd, not both');
  if (flags['engine-timeout'] !== undefined && command === undefined) throw new UsageError('--engine-timeout bounds the waits on an engine process: it goes with --engine-cmd');
  if (flags['audit-rate'] !== undefined && command === undefined) throw new UsageError('--audit-rate audits a persistent engine process: it goes with --engine-cmd');
  if (flags['engine-lanes'] !== undefined && command === undefined) throw new UsageError('--engine-lanes runs engine processes alongside each other: it goes with --engine-cmd');
  if (command !== undefined) {
    if (command.trim() === '') throw new UsageError('--engine-cmd needs a command to run');
    const timeoutMs = integerFlag('engine-timeout', flags['engine-timeout'], DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS);
    const mod = (await modules.stdio()) as { stdioEngine?: unknown };
    if (typeof mod.stdioEngine !== 'function') throw new Error('src/protocol/stdio-engine.js does not export stdioEngine()');
    const auditRate = rateFlag('audit-rate', flags['audit-rate'], DEFAULT_AUDIT_RATE);
    const lanes = integerFlag('engine-lanes', flags['engine-lanes'], DEFAULT_LANES, 1, MAX_LANES);
    const factory = (mod.stdioEngine as (command: string, options: { timeoutMs: number; auditRate: number; lanes: number }) => unknown)(command, { timeoutMs, auditRate, lanes });
    return { factory: checkFactory(factory, `--engine-cmd ${command}`), engineArgs: `--engine-cmd ${shellQuote(command)}`, label: `cmd: ${command}`, callTimeoutMs };
  }
  const spec = engine ?? 'reference';
  if (spec.trim() === '') throw new UsageError('--engine needs a name or a path');
  if (spec.startsWith(UNNAMED_ENGINE)) throw unnamedEngine(spec);
  const engineArgs = `--engine ${shellQuote(spec)}`;
  const chosen = (factory: EngineFactory, label: string): EngineChoice => ({ factory, engineArgs, label, callTimeoutMs });
  if (spec === 'reference') {
    const mod = (await modules.reference()) as { referenceEngine?: unknown };
    return chosen(checkFactory(mod.referenceEngine, 'the reference engine'), spec);
  }
  if (spec.startsWith(MUTANT_PREFIX)) {
    const name = spec.slice(MUTANT_PREFIX.length);
    const mod = (await modules.mutants()) as { mutants?: unknown };
    const list = Array.isArray(mod.mutants) ? (mod.mutants as { name?: unknown; factory?: unknown }[]) : [];
    const found = list.find((m) => m.name === name);
    if (found === undefined) {
      const names = list.map((m) => String(m.name));
      throw new InputError(`--engine ${spec}: no mutant named "${name}"${names.length > 0 ? `; the mutants are ${names.join(', ')}` : ''} (see prestore mutants)`);
    }
    return chosen(checkFactory(found.factory, `mutant ${name}`), spec);
  }
  if (!looksLikePath(spec)) {
    throw new InputError(`--engine ${spec}: unknown engine; use reference, mutant:NAME, or a module path such as ./${spec}.js`);
  }
  return chosen(await engineFromFile(spec, modules, cwd), spec);
}

/** A share from 0 to 1, as a decimal number. */
function rateFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const rate = /^(0|1|0?\.\d+|1\.0*)$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(rate >= 0 && rate <= 1)) throw new UsageError(`--${name} ${JSON.stringify(value)}: must be a number from 0 to 1 (a share: 0.05 is one in twenty)`);
  return rate;
}

/** An engine a campaign run from code could not name (../harness/replay-line.ts): nothing to load, so nothing runs. */
function unnamedEngine(spec: string): InputError {
  return new InputError(
    `--engine ${spec}: this line comes from a campaign run from code that did not say how to load its engine ` +
      `"${spec.slice(UNNAMED_ENGINE.length)}" (no engineArgs); replay it with --engine PATH or --engine-cmd "COMMAND" naming that engine`,
  );
}

/** Whether `flags` name an engine of this package (reference, a mutant): one that runs no outside code. */
export function namesBundledEngine(flags: EngineFlags): boolean {
  const { engine, 'engine-cmd': command } = flags;
  return command === undefined && (engine === undefined || engine === 'reference' || engine.startsWith(MUTANT_PREFIX));
}

/**
 * The engine flags a replay runs with: those typed on its command line, else those the replay line
 * or counterexample file names (`recorded`), if they name an engine of this package. A module path
 * or a command read from a line or a file would run code the person never typed, so it is refused
 * with the command to type: `retype` gives it for the engine flags.
 */
export function replayEngineFlags(typed: EngineFlags, recorded: EngineFlags, where: string, retype: (engineArgs: string) => string): EngineFlags {
  if (typed.engine !== undefined || typed['engine-cmd'] !== undefined) return typed;
  if (recorded.engine?.startsWith(UNNAMED_ENGINE) === true) throw unnamedEngine(recorded.engine);
  if (namesBundledEngine(recorded)) return { ...typed, ...(recorded.engine === undefined ? {} : { engine: recorded.engine }) };
  const args = recorded['engine-cmd'] !== undefined ? `--engine-cmd ${shellQuote(recorded['engine-cmd'])}` : `--engine ${shellQuote(recorded.engine!)}`;
  throw new InputError(
    `${where} names the engine ${args}; replay runs an engine module or command only when you type it yourself, never one read from a line or a file. ` +
      `If you trust it, run:\n  ${retype(args)}`,
  );
}

async function engineFromFile(spec: string, modules: EngineModules, cwd: string): Promise<EngineFactory> {
  const path = resolve(cwd, spec);
  const what = `--engine ${spec}`;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new InputError(`${what}: ${path} is not a file`);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${what}: no such file ${path}`);
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await modules.file(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    throw new InputError(`${what}: the module failed to load: ${(e as Error).message ?? String(e)}`);
  }
  if (mod.default !== undefined) return checkFactory(mod.default, `${what}: the default export`);
  if (mod.engine !== undefined) return checkFactory(mod.engine, `${what}: the export \`engine\``);
  if (typeof mod.createEngine === 'function') {
    let made: unknown;
    try {
      made = await (mod.createEngine as () => unknown)();
    } catch (e) {
      throw new InputError(`${what}: createEngine() threw: ${(e as Error).message ?? String(e)}`);
    }
    return checkFactory(made, `${what}: the value createEngine() returned`);
  }
  const exported = Object.keys(mod);
  throw new InputError(
    `${what}: the module exports no engine: it must export an EngineFactory as \`default\` or \`engine\`, or a function \`createEngine()\` returning one` +
      ` (it exports ${exported.length === 0 ? 'nothing' : exported.join(', ')})`,
  );
}
