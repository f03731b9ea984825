/**
 * Scenario files: JSON a storage engineer writes by hand (byte units), validated against the
 * published schema (`scenarios/scenario.schema.json`) and then against what a schema cannot say
 * (alignment to the sector size, ranges within the volume, extent indices), and converted to a
 * `Scenario` (sector units). Every error names the file and the field:
 * `scenarios/bad.json: workload[3].offset: 700 must be a multiple of the sector size 512`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { InputError } from '../errors.js';
import { type DeviceProfile, profileByNameOrValue } from '../devices/device-profile.js';
import { CACHE_MODES, type CacheMode } from '../devices/fault-layer.js';
import { type EngineOptions, extentCount, type Geometry } from '../engine/contract.js';
import type { HostOp, InitialState, Scenario, Volume } from './case.js';
import { readInputFile } from './input-file.js';
import { parseJson, schemaErrors } from './json-input.js';
import { bundledScenariosDir } from './package-root.js';

export { bundledScenariosDir, packageRoot } from './package-root.js';

/** The file as written: byte units, optional fields still optional. */
export interface ScenarioFile {
  readonly $schema?: string;
  readonly name: string;
  readonly description: string;
  readonly geometry: { readonly volumeSize: number; readonly sectorSize?: number; readonly extentSectors: number };
  readonly initial: { readonly differ: 'all' | 'none' | readonly number[]; readonly delta?: 'exact' | 'all' };
  readonly workload: readonly FileOp[];
  readonly crash?: { readonly modes?: readonly CacheMode[]; readonly depth?: 1 | 2 };
  readonly inFlight?: { readonly orders?: number; readonly maxCandidates?: number };
  readonly deviceProfile?: string | object;
  readonly engineOptions?: EngineOptions;
}

export type FileOp =
  | { readonly op: 'write'; readonly volume: Volume; readonly offset: number; readonly length: number; readonly pattern: number; readonly alongside?: boolean }
  | { readonly op: 'read'; readonly volume: Volume; readonly offset: number; readonly length: number; readonly alongside?: boolean }
  | { readonly op: 'flush'; readonly volume: Volume; readonly alongside?: boolean }
  | { readonly op: 'startRestore'; readonly protect: boolean }
  | { readonly op: 'step'; readonly count?: number; readonly alongside?: boolean }
  | { readonly op: 'powerLoss'; readonly mode?: CacheMode };

const DEFAULT_SECTOR_SIZE = 512;

export function schemaPath(): string {
  return join(bundledScenariosDir(), 'scenario.schema.json');
}

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  if (validator === undefined) {
    const schema = JSON.parse(readFileSync(schemaPath(), 'utf8')) as object;
    const ajv = new Ajv({ allErrors: true, discriminator: true, verbose: true, strict: true });
    validator = ajv.compile(schema);
  }
  return validator;
}

/**
 * Reads, validates and converts one scenario file; bad input throws `InputError` naming the file
 * (as `name`, by default the path as given) and the field.
 */
export async function loadScenario(path: string, name: string = path): Promise<Scenario> {
  return parseScenario(await readInputFile(path, name, 'a scenario file'), name);
}

/** Validates and converts a scenario file's text; `file` names it in errors. */
export function parseScenario(text: string, file: string): Scenario {
  const data = parseJson(text, file);
  const check = validate();
  if (!check(data)) throw new InputError(schemaErrors(check.errors ?? [], file));
  const problems = semanticErrors(data as ScenarioFile);
  if (problems.length > 0) throw new InputError(problems.map((p) => `${file}: ${p}`).join('\n'));
  return toScenario(data as ScenarioFile);
}

// --- semantic checks -----------------------------------------------------------------------------

/** What the schema cannot say: every returned line is `field: problem`. */
function semanticErrors(f: ScenarioFile): string[] {
  const problems: string[] = [];
  const sectorSize = f.geometry.sectorSize ?? DEFAULT_SECTOR_SIZE;
  const { volumeSize, extentSectors } = f.geometry;
  if (volumeSize % sectorSize !== 0) problems.push(`geometry.volumeSize: ${volumeSize} must be a multiple of the sector size ${sectorSize}`);
  if (extentSectors < 1) problems.push(`geometry.extentSectors: ${extentSectors} must be at least 1`);
  if (problems.length > 0) return problems;
  const geometry: Geometry = { volumeSize, sectorSize, extentSectors };
  const extents = extentCount(geometry);
  if (f.deviceProfile !== undefined) {
    try {
      const profile = profileByNameOrValue(f.deviceProfile, 'deviceProfile');
      if (profile.atomicWriteBytes % sectorSize !== 0) problems.push(`deviceProfile: atomicWriteBytes ${profile.atomicWriteBytes} must be a multiple of the sector size ${sectorSize}`);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      problems.push(e.message);
    }
  }
  if (Array.isArray(f.initial.differ)) {
    f.initial.differ.forEach((index, i) => {
      if (index >= extents) problems.push(`initial.differ[${i}]: extent ${index} is out of range: the volume has ${extents} extent${extents === 1 ? '' : 's'} (0..${extents - 1})`);
    });
  }
  f.workload.forEach((op, i) => {
    if (op.op !== 'write' && op.op !== 'read') return;
    const field = `workload[${i}]`;
    let aligned = true;
    for (const key of ['offset', 'length'] as const) {
      if (op[key] % sectorSize !== 0) {
        problems.push(`${field}.${key}: ${op[key]} must be a multiple of ${sectorSize} (the sector size)`);
        aligned = false;
      }
    }
    if (aligned && op.offset >= volumeSize) problems.push(`${field}.offset: ${op.offset} is past the end of the volume (volumeSize ${volumeSize})`);
    else if (aligned && op.offset + op.length > volumeSize) problems.push(`${field}.length: ${op.offset} + ${op.length} = ${op.offset + op.length} is past the end of the volume (volumeSize ${volumeSize})`);
  });
  return problems;
}

function toScenario(f: ScenarioFile): Scenario {
  const sectorSize = f.geometry.sectorSize ?? DEFAULT_SECTOR_SIZE;
  const geometry: Geometry = { volumeSize: f.geometry.volumeSize, sectorSize, extentSectors: f.geometry.extentSectors };
  const initial: InitialState = { differ: Array.isArray(f.initial.differ) ? [...f.initial.differ] : (f.initial.differ as 'all' | 'none'), delta: f.initial.delta ?? 'exact' };
  const workload = f.workload.map((op): HostOp => {
    const alongside = 'alongside' in op && op.alongside === true ? { alongside: true } : {};
    switch (op.op) {
      case 'write':
        return { op: 'write', volume: op.volume, sector: op.offset / sectorSize, sectors: op.length / sectorSize, pattern: op.pattern, ...alongside };
      case 'read':
        return { op: 'read', volume: op.volume, sector: op.offset / sectorSize, sectors: op.length / sectorSize, ...alongside };
      case 'flush':
        return { op: 'flush', volume: op.volume, ...alongside };
      case 'startRestore':
        return { op: 'startRestore', protect: op.protect };
      case 'step':
        return { op: 'step', count: op.count ?? 1, ...alongside };
      case 'powerLoss':
        return { op: 'powerLoss', mode: op.mode ?? 'torn' };
    }
  });
  return {
    name: f.name,
    description: f.description,
    geometry,
    initial,
    workload,
    modes: f.crash?.modes !== undefined ? [...f.crash.modes] : [...CACHE_MODES],
    depth: f.crash?.depth ?? 1,
    ...(f.inFlight === undefined ? {} : { inFlight: { orders: f.inFlight.orders ?? 16, maxCandidates: f.inFlight.maxCandidates ?? 4 } }),
    ...(f.deviceProfile === undefined ? {} : { profile: profileByNameOrValue(f.deviceProfile, 'deviceProfile') satisfies DeviceProfile }),
    ...(f.engineOptions === undefined ? {} : { engineOptions: { ...f.engineOptions } }),
  };
}
