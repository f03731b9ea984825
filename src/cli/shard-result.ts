/**
 * A shard's `--json` result, read back by `prestore merge`: a regular file, JSON of the shape
 * ./report.ts writes, with counts that are counts and totals that add up, and a shard `i/n`.
 * Anything else is bad input naming the file and the field; a merge never adds up what it read
 * without knowing what it is.
 */
import { resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { CACHE_MODES } from '../devices/fault-layer.js';
import type { CoverageRow } from '../harness/campaign.js';
import { RULES, type Violation } from '../harness/case.js';
import { readInputFile } from '../harness/input-file.js';
import { parseJson, schemaErrors } from '../harness/json-input.js';
import { parseShard, type Shard } from '../harness/shard.js';
import { InputError } from './command.js';
import type { RunIdentity, RunReport } from './report.js';

/** The fields of a `--json` result that merging reads. */
export interface ShardResult extends Omit<RunReport, 'parts' | 'shard'> {
  readonly shard: string;
  readonly cases: number;
  readonly crashStates: number;
  /** Exhaust's only: explore folds no crash states. */
  readonly distinctCrashStates?: number;
  readonly violations: readonly (Violation & { readonly scenario?: string })[];
  readonly parts: readonly { kind: 'explore' | 'exhaust'; name: string; file?: string; runs?: number; cases: number; crashStates: number; distinctCrashStates?: number; elapsedMs: number }[];
  readonly coverage: readonly CoverageRow[];
}

const count = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const text = { type: 'string' };
const texts = { type: 'array', items: text };
const counts = { type: 'array', items: count };
const ms = { type: 'number', minimum: 0 };
const object = (required: readonly string[], properties: Record<string, object>, closed = false) => ({ type: 'object', required, properties, ...(closed ? { additionalProperties: false } : {}) });

/** The fields merging reads, as ./report.ts `jsonReport` writes them; other fields pass. */
const SCHEMA = object(['command', 'version', 'engine', 'engineName', 'engineArgs', 'seed', 'run', 'cases', 'crashStates', 'violations', 'parts', 'coverage', 'elapsedMs'], {
  command: { type: 'string', enum: ['explore', 'exhaust', 'start'] },
  version: text,
  engine: text,
  engineName: text,
  engineArgs: text,
  seed: text,
  shard: text,
  run: object(
    [],
    {
      runs: count,
      scenarios: { type: 'array', items: object(['name', 'digest'], { name: text, digest: text }, true) },
      depth: { type: 'integer', enum: [1, 2] },
      modes: { type: 'array', items: { type: 'string', enum: CACHE_MODES } },
      stopOnFirst: { type: 'boolean' },
      eio: { type: 'boolean' },
    },
    true,
  ),
  cases: count,
  crashStates: count,
  distinctCrashStates: count,
  violations: {
    type: 'array',
    items: object(['rule', 'message', 'replay', 'trace'], { rule: { type: 'string', enum: Object.values(RULES) }, message: text, replay: text, scenario: text, trace: texts, crash: texts, sector: count, extent: count, expected: text, actual: text }),
  },
  parts: {
    type: 'array',
    minItems: 1,
    items: object(['kind', 'name', 'cases', 'crashStates', 'elapsedMs'], { kind: { type: 'string', enum: ['explore', 'exhaust'] }, name: text, file: text, runs: count, cases: count, crashStates: count, distinctCrashStates: count, elapsedMs: ms }),
  },
  coverage: {
    type: 'array',
    items: object(['scenario', 'mode', 'ioPoints', 'crashStates', 'distinctCrashStates', 'enumeratedPoints', 'sampledPoints', 'secondCrashStates'], {
      scenario: text,
      mode: { type: 'string', enum: CACHE_MODES },
      ioPoints: count,
      crashStates: count,
      distinctCrashStates: count,
      enumeratedPoints: count,
      sampledPoints: count,
      secondCrashStates: count,
      points: object(['crashStates', 'distinct', 'violations', 'sampled'], { crashStates: counts, distinct: counts, violations: counts, sampled: counts }, true),
      completionOrders: object(['tried', 'all'], { tried: count, all: { type: 'boolean' } }, true),
    }),
  },
  elapsedMs: ms,
});

let validator: ValidateFunction | undefined;

/** Reads and checks one shard's result; `file` as given names it in errors. */
export async function loadShardResult(file: string, cwd: string): Promise<{ result: ShardResult; shard: Shard }> {
  const data = parseJson(await readInputFile(resolve(cwd, file), file, 'a prestore --json result'), file);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InputError(`${file}: not a prestore --json result (it holds ${data === null ? 'null' : Array.isArray(data) ? 'an array' : `a ${typeof data}`}, not an object)`);
  if ((data as { shard?: unknown }).shard === undefined) throw new InputError(`${file}: a result of a whole run, not of a shard (no "shard"; run with --shard i/n)`);
  if ((data as { run?: unknown }).run === undefined && typeof (data as { command?: unknown }).command === 'string') {
    throw new InputError(`${file}: no "run": written by an older prestore, whose results do not say enough to tell shards of one run apart; run the shards again`);
  }
  validator ??= new Ajv({ allErrors: true, verbose: true, strict: true }).compile(SCHEMA);
  if (!validator(data)) throw new InputError(schemaErrors(validator.errors ?? [], file));
  const result = data as ShardResult;
  let shard: Shard;
  try {
    shard = parseShard(result.shard);
  } catch {
    throw new InputError(`${file}: shard: ${JSON.stringify(result.shard)} is not i/n, such as 2/4, with i from 1 to n`);
  }
  // The totals are the parts' sums: a result whose numbers disagree was edited.
  for (const field of ['cases', 'crashStates', 'distinctCrashStates'] as const) {
    // distinctCrashStates: in the total only when every part counted it (explore folds none).
    if (result[field] === undefined && result.parts.some((p) => p[field] === undefined)) continue;
    const sum = result.parts.reduce((t, p) => t + (p[field] ?? Number.NaN), 0);
    if (sum !== result[field]) throw new InputError(`${file}: ${field}: ${result[field]}, but its parts add up to ${sum}: the file was edited`);
  }
  return { result, shard };
}

/** What must be equal in every shard of one run, `run.*` field by field. */
export function identityOf(r: ShardResult): [string, unknown][] {
  const run: RunIdentity = r.run;
  return [
    ['command', r.command],
    ['engine', r.engine],
    ['engineArgs', r.engineArgs],
    ['seed', r.seed],
    ['version', r.version],
    ...(['runs', 'scenarios', 'depth', 'modes', 'stopOnFirst', 'deviceProfile'] as const).map((k): [string, unknown] => [`run.${k}`, run[k]]),
  ];
}
