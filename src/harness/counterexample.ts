/**
 * Counterexample files: one minimal failing case as a self-contained JSON file with a published
 * schema (`scenarios/counterexample.schema.json`), written by `--save-failures DIR`, replayed by
 * `prestore replay FILE.json`, and, dropped into `scenarios/regressions/`, by `npm test`.
 *
 * A file is seed-free: every crash and every power loss carries its exact survivors, so a replay
 * draws nothing from a seed. `replayCounterexample` proves it on every replay by running the case
 * under two different seeds and comparing the traces. The initial images are not stored: they are
 * derived deterministically from `initial` (./sector-data.ts), and a digest of each pins that
 * derivation down, so a harness that derives them differently refuses the file instead of
 * silently replaying another case.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import { CACHE_MODES, type EioFault, type InFlightOptions, type SurvivalChoice } from '../devices/fault-layer.js';
import type { DeviceProfile } from '../devices/device-profile.js';
import { type EngineFactory, type EngineOptions, extentCount, type Geometry } from '../engine/contract.js';
import type { Case, CrashPlan, HostOp, InitialState, RuleName, Scenario, Violation } from './case.js';
import { caseProblems, counterexampleSchema } from './case-check.js';
import { unfitCrashes } from './case-fit.js';
import { assertDeterministic, traceParting } from './determinism.js';
import { guardEngine } from './engine-guard.js';
import type { ReplayOptions } from './replay.js';
import { readInputFile } from './input-file.js';
import { parseJson, schemaErrors } from './json-input.js';
import { decodeCase } from './replay-line.js';
import { runCase } from './run-case.js';
import { parseScenario } from './scenario-file.js';
import { initialImages } from './sector-data.js';
import { crashesInWords } from './shrink-crash.js';

export { counterexampleSchemaPath } from './case-check.js';

export const COUNTEREXAMPLE_FORMAT = 'prestore-counterexample';
export const COUNTEREXAMPLE_VERSION = 1;

/** The file as written: the case in the harness's own units (sectors), and what it broke. */
export interface CounterexampleFile {
  readonly $schema?: string;
  readonly format: typeof COUNTEREXAMPLE_FORMAT;
  readonly version: typeof COUNTEREXAMPLE_VERSION;
  readonly description?: string;
  readonly engine: { readonly args: string; readonly label?: string };
  readonly rule: RuleName;
  readonly message: string;
  readonly crash?: readonly string[];
  readonly geometry: Geometry;
  readonly initial: InitialState & { readonly images?: { readonly source: string; readonly clone: string } };
  readonly workload: readonly HostOp[];
  readonly crashes: readonly (CrashPlan & { readonly choice: SurvivalChoice })[];
  readonly eio: readonly EioFault[];
  readonly finish?: boolean;
  readonly inFlight?: InFlightOptions;
  readonly profile?: DeviceProfile;
  readonly engineOptions?: EngineOptions;
  readonly foundBy?: { readonly command?: string; readonly scenario?: string; readonly seed?: string; readonly replay?: string };
}

/** The first 16 hex digits of the SHA-256 of each image `initial` derives. */
export function imageDigests(geometry: Geometry, initial: InitialState): { source: string; clone: string } {
  const { source, clone } = initialImages(geometry, initial, extentCount(geometry));
  const d = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return { source: d(source), clone: d(clone) };
}

/**
 * The case without what only a seed could decide, and without what never ran: a crash plan with
 * no survivors listed never fired (every crash that fires gets its survivors in the resolved
 * case), and a power loss with none was never reached, so the run had stopped before it and the
 * operations from there on are dropped too. For the engine that failed, the run is unchanged.
 */
export function seedFreeCase(c: Case): Omit<Case, 'crashes'> & { readonly crashes: readonly (CrashPlan & { readonly choice: SurvivalChoice })[] } {
  const unreached = c.workload.findIndex((op) => op.op === 'powerLoss' && op.choice === undefined);
  return {
    ...c,
    workload: unreached < 0 ? c.workload : c.workload.slice(0, unreached),
    crashes: c.crashes.filter((p): p is CrashPlan & { choice: SurvivalChoice } => p.choice !== undefined),
  };
}

export interface Provenance {
  readonly engineArgs: string;
  readonly engineLabel?: string;
  readonly command?: string;
  readonly scenario?: string;
  readonly seed?: string;
  readonly $schema?: string;
}

/** The file for one violation, its case taken from the violation's replay line. */
export function counterexampleOf(violation: Violation, provenance: Provenance): CounterexampleFile {
  const token = violation.replay.trim().split(/\s+/).pop() ?? '';
  const c = seedFreeCase(decodeCase(token).case);
  return {
    ...(provenance.$schema === undefined ? {} : { $schema: provenance.$schema }),
    format: COUNTEREXAMPLE_FORMAT,
    version: COUNTEREXAMPLE_VERSION,
    engine: { args: provenance.engineArgs, ...(provenance.engineLabel === undefined ? {} : { label: provenance.engineLabel }) },
    rule: violation.rule,
    message: violation.message,
    ...(violation.crash === undefined ? {} : { crash: violation.crash }),
    geometry: { volumeSize: c.geometry.volumeSize, sectorSize: c.geometry.sectorSize, extentSectors: c.geometry.extentSectors },
    initial: { differ: c.initial.differ, delta: c.initial.delta, images: imageDigests(c.geometry, c.initial) },
    workload: c.workload,
    crashes: c.crashes.map((p) => ({ point: p.point, mode: p.mode, choice: p.choice })),
    eio: c.eio,
    ...(c.finish === undefined ? {} : { finish: c.finish }),
    ...(c.inFlight === undefined ? {} : { inFlight: c.inFlight }),
    ...(c.profile === undefined ? {} : { profile: c.profile }),
    ...(c.engineOptions === undefined ? {} : { engineOptions: c.engineOptions }),
    foundBy: {
      ...(provenance.command === undefined ? {} : { command: provenance.command }),
      ...(provenance.scenario === undefined ? {} : { scenario: provenance.scenario }),
      ...(provenance.seed === undefined ? {} : { seed: provenance.seed }),
      replay: violation.replay,
    },
  };
}

/** The case a file describes. */
export function caseOf(file: CounterexampleFile): Case {
  return {
    geometry: file.geometry,
    initial: { differ: file.initial.differ, delta: file.initial.delta },
    workload: file.workload,
    crashes: file.crashes,
    eio: file.eio,
    ...(file.finish === undefined ? {} : { finish: file.finish }),
    ...(file.inFlight === undefined ? {} : { inFlight: file.inFlight }),
    ...(file.profile === undefined ? {} : { profile: file.profile }),
    ...(file.engineOptions === undefined ? {} : { engineOptions: file.engineOptions }),
  };
}

/** A stable name: the engine, the rule and a digest of the case, so saving twice is idempotent. */
export function counterexampleFileName(file: CounterexampleFile): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'engine';
  const hash = createHash('sha256').update(JSON.stringify([file.engine.args, caseOf(file)])).digest('hex').slice(0, 10);
  return `${slug(file.engine.label ?? file.engine.args.replace(/^--engine(-cmd)?[ =]/, ''))}-${file.rule}-${hash}.json`;
}

/** JSON a person can read: any value whose one-line form is short stays on one line. */
export function formatCounterexample(file: CounterexampleFile): string {
  const pretty = (value: unknown, indent: string): string => {
    const flat = JSON.stringify(value);
    if (typeof value !== 'object' || value === null || flat.length + indent.length <= 100) return flat;
    const inner = indent + '  ';
    if (Array.isArray(value)) return `[\n${value.map((v) => inner + pretty(v, inner)).join(',\n')}\n${indent}]`;
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, inner)}`).join(',\n')}\n${indent}}`;
  };
  return pretty(file, '') + '\n';
}

// --- reading -------------------------------------------------------------------------------------

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, discriminator: true, verbose: true, strict: true }).compile(counterexampleSchema());
  return validator;
}

/** Reads and validates a counterexample file; bad input throws `InputError` naming `name` and the field. */
export async function loadCounterexample(path: string, name: string = path): Promise<{ file: CounterexampleFile; case: Case }> {
  return parseCounterexample(await readInputFile(path, name, 'a counterexample file'), name);
}

export function parseCounterexample(text: string, name: string): { file: CounterexampleFile; case: Case } {
  const data = parseJson(text, name);
  const format = (data as { format?: unknown } | null)?.format;
  // A scenario file given by mistake: say what it is rather than list every field it lacks.
  if (typeof data === 'object' && data !== null && format === undefined && 'name' in data && 'workload' in data) {
    throw new InputError(`${name}: this is a scenario file, not a counterexample: run it with prestore exhaust ${name}`);
  }
  const check = validate();
  if (!check(data)) throw new InputError(schemaErrors(check.errors ?? [], name));
  const file = data as CounterexampleFile;
  const problems = semanticErrors(file);
  if (problems.length > 0) throw new InputError(problems.map((p) => `${name}: ${p}`).join('\n'));
  return { file, case: caseOf(file) };
}

/** What the schema cannot say: the case's own problems, then whether its images are derived alike. */
function semanticErrors(f: CounterexampleFile): string[] {
  const problems = caseProblems(caseOf(f));
  if (problems.length > 0 || f.initial.images === undefined) return problems;
  const derived = imageDigests(f.geometry, f.initial);
  return (['source', 'clone'] as const).flatMap((image) =>
    derived[image] === f.initial.images![image] ? [] : [`initial.images.${image}: the file records ${f.initial.images![image]}, but this harness derives an image with digest ${derived[image]} from initial.differ: it was written by a harness that derives images differently`],
  );
}

// --- as a scenario -------------------------------------------------------------------------------

/**
 * A counterexample's workload as a scenario, for `exhaust`. The crashes, survivors and I/O errors
 * the file records name I/O points of the engine that failed; once that engine changes they name
 * other operations, so they are left out and the workload is crashed at every I/O point of the
 * engine as it is now, in every cache mode: wherever the crash the file was saved for has moved,
 * it is among them.
 */
export function scenarioOf(file: CounterexampleFile, name: string): Scenario {
  return {
    name,
    description: `the workload of a counterexample that broke rule ${file.rule}: ${file.message}`,
    geometry: file.geometry,
    initial: { differ: file.initial.differ, delta: file.initial.delta },
    workload: file.workload.map((op): HostOp => (op.op === 'powerLoss' ? { op: 'powerLoss', mode: op.mode } : op)),
    modes: CACHE_MODES,
    depth: 1,
    ...(file.profile === undefined ? {} : { profile: file.profile }),
    ...(file.engineOptions === undefined ? {} : { engineOptions: file.engineOptions }),
  };
}

/** Whether JSON text is a counterexample file (by its `format`), without judging it further. */
function isCounterexample(text: string): boolean {
  try {
    return (JSON.parse(text) as { format?: unknown } | null)?.format === COUNTEREXAMPLE_FORMAT;
  } catch {
    return false;
  }
}

/** What `exhaust` reads: a scenario file, or a counterexample file as the scenario of its workload. */
export async function loadScenarioOrCounterexample(path: string, name: string = path): Promise<Scenario> {
  const text = await readInputFile(path, name, 'a scenario file');
  if (isCounterexample(text)) return scenarioOf(parseCounterexample(text, name).file, basename(name).replace(/\.json$/, ''));
  return parseScenario(text, name);
}

// --- replaying -----------------------------------------------------------------------------------

/** Two seeds no other run uses: a seed-free case must not care which it gets. */
export const REPLAY_SEEDS = ['counterexample-seed-1', 'counterexample-seed-2'] as const;

export interface CounterexampleReplay {
  readonly violations: readonly Violation[];
  readonly transcript: readonly string[];
  /** How the listed crashes do not fit this engine's run (./case-fit.ts); empty when they fit. */
  readonly unfit: readonly string[];
}

/**
 * Replays a seed-free case: under two different seeds it must do the same I/O and reach the same
 * verdict. When the two part, a third run with the first seed says why: if it parts from the
 * first as well, the engine does not repeat itself; if not, the case leaves something to the seed.
 */
export async function replayCounterexample(untrusted: EngineFactory, c: Case, replayOptions: ReplayOptions = {}): Promise<CounterexampleReplay> {
  const engine = guardEngine(untrusted, replayOptions);
  const { engineArgs } = replayOptions;
  const options = (seed: string) => ({ seed, ...(engineArgs === undefined ? {} : { engineArgs }) });
  const first = await runCase(engine, c, { ...options(REPLAY_SEEDS[0]), transcript: true });
  const second = await runCase(engine, c, options(REPLAY_SEEDS[1]));
  try {
    assertDeterministic(first, second);
  } catch {
    assertDeterministic(first, await runCase(engine, c, options(REPLAY_SEEDS[0])));
    const at = traceParting(first.trace, second.trace);
    throw new InputError(
      'the counterexample is not seed-free: two seeds give two runs' +
        (at === undefined ? ' with different verdicts' : `, parting at I/O point ${at.point}: ${at.first} vs ${at.second}`) +
        ': a crash or power loss without its survivors listed fired here',
    );
  }
  const verdict = first.violations.length === 0 ? ['every check held'] : first.violations.map((v) => `VIOLATION of rule ${v.rule}: ${v.message}`);
  const crash = crashesInWords(first.transcript);
  return { violations: first.violations.map((v) => ({ ...v, crash })), transcript: [...first.transcript, ...verdict], unfit: unfitCrashes(c, first) };
}
