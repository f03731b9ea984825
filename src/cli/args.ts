/**
 * Flag parsing for the commands: node's `util.parseArgs` in strict mode, with its errors turned
 * into `UsageError`s that read well, and checked conversions for the values flags carry.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CACHE_MODES, type CacheMode } from '../devices/fault-layer.js';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<O extends Options> {
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string };
  readonly positionals: string[];
}

/** Parses `argv` strictly: an unknown flag, a missing value or a stray argument is a UsageError. */
export function parse<O extends Options>(argv: readonly string[], options: O, { positionals = false } = {}): Parsed<O> {
  try {
    const { values, positionals: rest } = parseArgs({ args: negativeValuesAttached(argv, options), options, strict: true, allowPositionals: positionals });
    return { values: values as Parsed<O>['values'], positionals: rest };
  } catch (e) {
    throw usageFrom(e, options);
  }
}

/**
 * `--runs -1` as `--runs=-1`: parseArgs takes `-1` for a flag and reports the value missing, where
 * the person gave a value, a wrong one, that the flag's own check should name.
 */
function negativeValuesAttached(argv: readonly string[], options: Options): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = argv[i + 1];
    if (flag === '--') return [...args, ...argv.slice(i)];
    if (next !== undefined && /^-\d/.test(next) && flag.startsWith('--') && options[flag.slice(2)]?.type === 'string') {
      args.push(`${flag}=${next}`);
      i++;
    } else args.push(flag);
  }
  return args;
}

function usageFrom(e: unknown, options: Options): unknown {
  const code = (e as { code?: string }).code;
  const message = (e as Error).message ?? String(e);
  const quoted = /'([^']*)'/.exec(message)?.[1];
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = quoted ?? message;
      const near = closest(flag.replace(/^-+/, '').split('=')[0]!, Object.keys(options));
      return new UsageError(`unknown option ${flag}${near === undefined ? '' : ` (did you mean --${near}?)`}`);
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = /--([\w-]+)/.exec(message)?.[1];
      if (flag !== undefined && options[flag]?.type === 'boolean') return new UsageError(`option --${flag} takes no value`);
      return new UsageError(flag === undefined ? message : `option --${flag} needs a value`);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument ${quoted === undefined ? '' : `"${quoted}"`}`.trim());
    default:
      return e;
  }
}

/** The known name nearest to `name`, if it is near enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** A whole number in [min, max] from a flag's value. */
export function integerFlag(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`--${flag} ${JSON.stringify(value)}: must be a ${min === 1 ? 'positive ' : ''}whole number from ${min} to ${max}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${flag} ${value}: must be from ${min} to ${max}`);
  return n;
}

export function depthFlag(value: string | undefined): 1 | 2 | undefined {
  if (value === undefined) return undefined;
  if (value !== '1' && value !== '2') throw new UsageError(`--depth ${JSON.stringify(value)}: must be 1 (one crash per I/O point) or 2 (also a crash during each recovery)`);
  return value === '1' ? 1 : 2;
}

/** `drop,keep` → the cache modes, each known and once. */
export function modesFlag(value: string | undefined): CacheMode[] | undefined {
  if (value === undefined) return undefined;
  const modes = value.split(',').map((m) => m.trim());
  const seen = new Set<string>();
  for (const m of modes) {
    if (!(CACHE_MODES as readonly string[]).includes(m)) throw new UsageError(`--modes: unknown cache mode ${JSON.stringify(m)} (expected a comma-separated list of ${CACHE_MODES.join(', ')})`);
    if (seen.has(m)) throw new UsageError(`--modes: ${m} is listed twice`);
    seen.add(m);
  }
  return modes as CacheMode[];
}

export function seedFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError('--seed must not be empty');
  return value;
}

/** Quotes one word for a POSIX shell, only when it needs it. */
export function shellQuote(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Splits a command line into words as a POSIX shell would (quotes and backslashes, no expansion),
 * so a pasted replay line can be taken apart.
 */
export function shellSplit(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new UsageError('unterminated single quote in the replay line');
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      inWord = true;
      for (i++; ; i++) {
        if (i >= line.length) throw new UsageError('unterminated double quote in the replay line');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) word += line[++i];
        else word += d;
      }
    } else if (c === '\\' && i + 1 < line.length) {
      if (line[i + 1] !== '\n') word += line[i + 1];
      i++;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
