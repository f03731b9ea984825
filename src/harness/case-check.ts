/**
 * Whether a case that came from outside can be run: a replay line's case, a counterexample file's.
 * Both arrive as JSON anyone may have edited, so both are checked before the harness sees them,
 * against the published counterexample schema (./counterexample.ts) and then against what a schema
 * cannot say: ranges within the volume, and crashes whose listed survivors could have survived.
 * Every problem is one line, `field: problem`, the field named from the case's root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import { parseDeviceProfile } from '../devices/device-profile.js';
import type { SurvivalChoice } from '../devices/fault-layer.js';
import { extentCount } from '../engine/contract.js';
import type { Case } from './case.js';
import { schemaErrors } from './json-input.js';
import { bundledScenariosDir } from './package-root.js';

/**
 * The largest simulated volume: 16 MiB. The harness holds source, clone and metadata in memory and
 * checks every sector against its model at every crash, so a case's volumes are meant to be a few
 * kilobytes (a 1 MiB volume already takes seconds a case); past this bound a case would exhaust
 * memory or never end. Both schemas carry the same bound (a test keeps them equal).
 */
export const MAX_VOLUME_SIZE = 16 * 2 ** 20;

export function counterexampleSchemaPath(): string {
  return join(bundledScenariosDir(), 'counterexample.schema.json');
}

type Json = Record<string, any>;

let schema: Json | undefined;

/** The published counterexample schema, read once. */
export function counterexampleSchema(): Json {
  schema ??= JSON.parse(readFileSync(counterexampleSchemaPath(), 'utf8')) as Json;
  return schema;
}

function compile(s: object): ValidateFunction {
  return new Ajv({ allErrors: true, discriminator: true, verbose: true, strict: true }).compile(s);
}

let lineValidator: ValidateFunction | undefined;

/**
 * A replay line carries the harness's own case, which is a counterexample file's case with two
 * differences: no image digests, and survivors are optional, since a line keeps crashes that never
 * fired and leaves to its seed what survived the rest. Its schema is the published one, so adapted.
 */
function lineCaseValidator(): ValidateFunction {
  if (lineValidator === undefined) {
    const cx = counterexampleSchema();
    const definitions = structuredClone(cx.definitions) as Json;
    const powerLoss = (definitions.operation.oneOf as Json[]).find((b) => b.title === 'powerLoss')!;
    powerLoss.required = (powerLoss.required as string[]).filter((k) => k !== 'choice');
    const crashes = structuredClone(cx.properties.crashes) as Json;
    crashes.items.required = (crashes.items.required as string[]).filter((k) => k !== 'choice');
    const initial = structuredClone(cx.properties.initial) as Json;
    delete initial.properties.images;
    const { geometry, workload, eio, finish, inFlight, profile, engineOptions } = cx.properties as Json;
    lineValidator = compile({
      type: 'object',
      additionalProperties: false,
      required: ['geometry', 'initial', 'workload', 'crashes', 'eio'],
      properties: { geometry, initial, workload, crashes, eio, finish, inFlight, profile, engineOptions },
      definitions,
    });
  }
  return lineValidator;
}

/** A replay line's case, checked whole; `where` names the line in errors. */
export function checkLineCase(data: unknown, where: string): Case {
  const check = lineCaseValidator();
  if (!check(data)) throw new InputError(schemaErrors(check.errors ?? [], where));
  const problems = caseProblems(data as Case);
  if (problems.length > 0) throw new InputError(problems.map((p) => `${where}: ${p}`).join('\n'));
  return data as Case;
}

/**
 * What the schema cannot say about a case whose shape it checked: the volume is whole sectors,
 * extents and host I/O lie within it, and every crash lists survivors it could have had.
 */
export function caseProblems(c: Case): string[] {
  const { volumeSize, sectorSize } = c.geometry;
  if (volumeSize % sectorSize !== 0) return [`geometry.volumeSize: ${volumeSize} must be a multiple of the sector size ${sectorSize}`];
  const problems: string[] = [];
  if (c.profile !== undefined) {
    try {
      const profile = parseDeviceProfile(c.profile, 'profile');
      if (profile.atomicWriteBytes % sectorSize !== 0) problems.push(`profile.atomicWriteBytes: ${profile.atomicWriteBytes} must be a multiple of the sector size ${sectorSize}`);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(e.message);
    }
  }
  const extents = extentCount(c.geometry);
  const sectors = volumeSize / sectorSize;
  if (Array.isArray(c.initial.differ)) {
    c.initial.differ.forEach((index, i) => {
      if (index >= extents) problems.push(`initial.differ[${i}]: extent ${index} is out of range: the volume has ${extents} extent${extents === 1 ? '' : 's'} (0..${extents - 1})`);
    });
  }
  c.workload.forEach((op, i) => {
    if ((op.op === 'write' || op.op === 'read') && op.sector + op.sectors > sectors) {
      problems.push(`workload[${i}].${op.sector >= sectors ? 'sector' : 'sectors'}: sectors ${op.sector}..${op.sector + op.sectors - 1} pass the end of the volume (${sectors} sectors)`);
    }
    if (op.op === 'powerLoss' && op.choice !== undefined) problems.push(...choiceProblems(op.choice, op.mode, `workload[${i}]`));
  });
  const points = new Map<number, number>();
  c.crashes.forEach((p, i) => {
    const twice = points.get(p.point);
    if (twice !== undefined) problems.push(`crashes[${i}].point: ${p.point} is also crashes[${twice}].point: one crash per I/O point`);
    points.set(p.point, i);
  });
  // A crash empties every cache: what survives a crash was issued after the one before it.
  const byPoint = c.crashes.map((p, i) => ({ p, i })).sort((a, b) => a.p.point - b.p.point);
  byPoint.forEach(({ p, i }, k) => {
    if (p.choice === undefined) return;
    const before = k === 0 ? undefined : byPoint[k - 1]!;
    problems.push(...choiceProblems(p.choice, p.mode, `crashes[${i}]`, { point: p.point, ...(before === undefined ? {} : { after: before.p.point, afterField: `crashes[${before.i}]` }) }));
  });
  return problems;
}

/**
 * A choice that no crash of its mode makes: survivors in a `drop`, sectors in a `subset` or `keep`,
 * the write in flight in a `keep`, a torn write with no sector, a write listed twice, a write issued
 * after the crash or before the crash before it.
 */
function choiceProblems(choice: SurvivalChoice, mode: string, field: string, crash?: { point: number; after?: number; afterField?: string }): string[] {
  const problems: string[] = [];
  if (choice.mode !== mode) problems.push(`${field}.choice.mode: "${choice.mode}", but ${field}.mode is "${mode}": one crash has one cache mode`);
  if (choice.mode === 'drop' && choice.survivors.length > 0) problems.push(`${field}.choice.survivors: a drop crash keeps no cached write, yet ${choice.survivors.length} ${choice.survivors.length === 1 ? 'is' : 'are'} listed`);
  const seen = new Map<number, number>();
  choice.survivors.forEach((s, k) => {
    const at = `${field}.choice.survivors[${k}]`;
    const twice = seen.get(s.point);
    if (twice !== undefined) problems.push(`${at}.point: ${s.point} is listed twice (also survivors[${twice}])`);
    seen.set(s.point, k);
    if (s.sectors !== undefined && (choice.mode === 'subset' || choice.mode === 'keep')) problems.push(`${at}.sectors: a ${choice.mode} crash keeps whole writes: sectors are listed only when torn`);
    if (s.sectors !== undefined && s.sectors.length === 0) problems.push(`${at}.sectors: empty: a write none of whose sectors survived is not listed`);
    if (crash === undefined) return;
    if (s.point > crash.point) problems.push(`${at}.point: ${s.point} comes after the crash at I/O point ${crash.point}: only writes issued by then can survive it`);
    else if (s.point === crash.point && choice.mode === 'keep') problems.push(`${at}.point: ${s.point} is the write in flight at the crash, which a keep crash loses`);
    if (crash.after !== undefined && s.point <= crash.after) problems.push(`${at}.point: ${s.point} was issued before the crash at I/O point ${crash.after} (${crash.afterField}), which emptied every cache`);
  });
  return problems;
}
