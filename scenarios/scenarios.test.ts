/**
 * The bundled scenarios and the scenario loader: every bundled file validates and is small enough
 * to exhaust; every kind of malformed file gets an InputError naming the file and the field.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../src/cli/command.js';
import { jsonSyntaxError } from '../src/harness/json-input.js';
import { counterexampleSchema, MAX_VOLUME_SIZE } from '../src/harness/case-check.js';
import { loadScenario, parseScenario } from '../src/harness/scenario-file.js';
import { EXTENTS_PER_MAP_SECTOR } from '../src/harness/arbitraries.js';
import { extentCount } from '../src/engine/contract.js';

const here = join(process.cwd(), 'scenarios');
const bundled = readdirSync(here).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).sort();
const schema = JSON.parse(readFileSync(join(here, 'scenario.schema.json'), 'utf8')) as Record<string, unknown>;

describe('the schema', () => {
  it('is a valid JSON Schema (draft-07) that ajv compiles in strict mode', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ strict: true, discriminator: true });
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('describes every field', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      for (const [key, sub] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof sub.description !== 'string' && typeof sub.$ref !== 'string') missing.push(`${path}.${key}`);
        walk(sub, `${path}.${key}`);
      }
      for (const key of ['items', 'definitions', 'oneOf'] as const) {
        const child = n[key];
        if (Array.isArray(child)) child.forEach((c, i) => walk(c, `${path}.${key}[${i}]`));
        else if (key === 'definitions' && typeof child === 'object' && child !== null) {
          for (const [name, def] of Object.entries(child as Record<string, Record<string, unknown>>)) {
            if (typeof def.description !== 'string') missing.push(`definitions.${name}`);
            walk(def, `definitions.${name}`);
          }
        } else walk(child, `${path}.${key}`);
      }
    };
    walk(schema, '');
    expect(missing).toEqual([]);
  });
});

describe('the bound on the simulated volume', () => {
  it('is the same in both schemas as in the harness (MAX_VOLUME_SIZE), and bounds extents too', () => {
    for (const published of [schema, counterexampleSchema()]) {
      const geometry = (published.properties as Record<string, { properties: Record<string, { maximum?: number }> }>).geometry!.properties;
      expect(geometry.volumeSize!.maximum).toBe(MAX_VOLUME_SIZE);
      expect(geometry.extentSectors!.maximum).toBe(MAX_VOLUME_SIZE / 512);
    }
  });
});

describe('the bundled scenarios', () => {
  it('are at least seven', () => {
    expect(bundled.length).toBeGreaterThanOrEqual(7);
  });

  it.each(bundled)('%s validates, is named after its file, and is small enough to exhaust', async (file) => {
    const scenario = await loadScenario(join(here, file));
    expect(`${scenario.name}.json`).toBe(file);
    expect(scenario.description.length).toBeGreaterThan(40);
    const sectors = scenario.geometry.volumeSize / scenario.geometry.sectorSize;
    expect(sectors).toBeGreaterThanOrEqual(8);
    expect(scenario.geometry.extentSectors).toBeGreaterThanOrEqual(1);
    expect(scenario.geometry.extentSectors).toBeLessThanOrEqual(4);
    if (extentCount(scenario.geometry) > EXTENTS_PER_MAP_SECTOR) {
      // Maps of several sectors need thousands of extents; every crash state checks every sector,
      // so such a scenario is kept to three map sectors (the fewest with a run of map sectors that
      // is not contiguous), one-sector extents and a short workload.
      expect(extentCount(scenario.geometry)).toBeLessThanOrEqual(2 * EXTENTS_PER_MAP_SECTOR + 64);
      expect(scenario.workload.length).toBeGreaterThanOrEqual(2);
      expect(scenario.workload.length).toBeLessThanOrEqual(5);
      expect(Array.isArray(scenario.initial.differ) && scenario.initial.differ.length <= 8).toBe(true);
    } else {
      expect(sectors).toBeLessThanOrEqual(32);
      expect(scenario.workload.length).toBeGreaterThanOrEqual(3);
      expect(scenario.workload.length).toBeLessThanOrEqual(16);
    }
    const text = JSON.parse(readFileSync(join(here, file), 'utf8')) as { $schema?: string };
    expect(text.$schema).toBe('./scenario.schema.json');
  });

  it('cover what a storage engineer would want', async () => {
    const all = await Promise.all(bundled.map((f) => loadScenario(join(here, f))));
    const restores = all.flatMap((s) => s.workload.filter((op) => op.op === 'startRestore'));
    expect(restores.some((op) => op.op === 'startRestore' && op.protect)).toBe(true);
    expect(restores.some((op) => op.op === 'startRestore' && !op.protect)).toBe(true);
    expect(all.some((s) => s.depth === 2)).toBe(true);
    expect(all.some((s) => s.initial.differ === 'all')).toBe(true);
    expect(all.some((s) => Array.isArray(s.initial.differ) && s.initial.differ.length === 1)).toBe(true);
    // A short last extent: the volume is not a whole number of extents.
    expect(all.some((s) => (s.geometry.volumeSize / s.geometry.sectorSize) % s.geometry.extentSectors !== 0)).toBe(true);
    // The copier as it ships tuned: batches of several extents, contiguous extents coalesced into
    // one copy I/O, several copy I/Os in flight; and maps of several sectors.
    const options = all.map((s) => s.engineOptions ?? {});
    expect(options.some((o) => (o.copyBatch ?? 1) > 1)).toBe(true);
    expect(all.some((s) => (s.engineOptions?.maxIoBytes ?? 0) >= 2 * s.geometry.extentSectors * s.geometry.sectorSize && (s.engineOptions?.copyBatch ?? 1) > 1)).toBe(true);
    expect(options.some((o) => (o.queueDepth ?? 1) > 1)).toBe(true);
    expect(all.some((s) => extentCount(s.geometry) > EXTENTS_PER_MAP_SECTOR)).toBe(true);
    // A host write spanning two extents during a restore.
    expect(
      all.some((s) => {
        let restoring = false;
        return s.workload.some((op) => {
          if (op.op === 'startRestore') restoring = true;
          return restoring && op.op === 'write' && Math.floor(op.sector / s.geometry.extentSectors) !== Math.floor((op.sector + op.sectors - 1) / s.geometry.extentSectors);
        });
      }),
    ).toBe(true);
  });

  it('convert byte units to sectors', async () => {
    const s = await loadScenario(join(here, 'protected-restore.json'));
    expect(s.geometry).toEqual({ volumeSize: 8192, sectorSize: 512, extentSectors: 2 });
    expect(s.initial).toEqual({ differ: [1, 3, 4, 6], delta: 'exact' });
    expect(s.workload[3]).toEqual({ op: 'write', volume: 'source', sector: 12, sectors: 1, pattern: 1 });
    expect(s.workload[2]).toEqual({ op: 'step', count: 1 });
    expect(s.modes).toEqual(['drop', 'keep', 'subset', 'torn']);
    expect(s.depth).toBe(1);
  });
});

describe('malformed scenario files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-scenarios-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const good = () => ({
    $schema: './scenario.schema.json',
    name: 'ok',
    description: 'fine',
    geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
    initial: { differ: [1, 2], delta: 'exact' },
    workload: [
      { op: 'startRestore', protect: true },
      { op: 'write', volume: 'source', offset: 1024, length: 512, pattern: 1 },
      { op: 'step', count: 2 },
      { op: 'read', volume: 'source', offset: 0, length: 8192 },
      { op: 'powerLoss', mode: 'torn' },
    ],
    crash: { modes: ['drop', 'torn'], depth: 1 },
  });
  type Good = ReturnType<typeof good> & Record<string, unknown>;

  async function errorOf(name: string, content: string): Promise<string> {
    const file = join(dir, name);
    writeFileSync(file, content);
    const error = await loadScenario(file, `scenarios/${name}`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    return (error as Error).message;
  }

  function edited(edit: (s: Good) => void): string {
    const s = good() as Good;
    edit(s);
    return JSON.stringify(s, null, 2);
  }

  it('engine options load as given', () => {
    const options = { copyBatch: 4, maxIoBytes: 2048, queueDepth: 2 };
    expect(parseScenario(edited((s) => Object.assign(s, { engineOptions: options })), 'tuned.json').engineOptions).toEqual(options);
    expect(parseScenario(edited(() => {}), 'plain.json').engineOptions).toBeUndefined();
  });

  it('a good file loads, with defaults filled in', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, edited((s) => {
      delete (s.geometry as Record<string, unknown>).sectorSize;
      delete (s.initial as Record<string, unknown>).delta;
      delete (s as Record<string, unknown>).crash;
      s.workload[2] = { op: 'step' } as never;
      s.workload[4] = { op: 'powerLoss' } as never;
    }));
    const scenario = await loadScenario(file);
    expect(scenario.geometry.sectorSize).toBe(512);
    expect(scenario.initial.delta).toBe('exact');
    expect(scenario.modes).toEqual(['drop', 'keep', 'subset', 'torn']);
    expect(scenario.depth).toBe(1);
    expect(scenario.workload[2]).toEqual({ op: 'step', count: 1 });
    expect(scenario.workload[4]).toEqual({ op: 'powerLoss', mode: 'torn' });
  });

  it.each<[string, (s: Good) => void, string]>([
    ['wrong type', (s) => ((s.geometry as Record<string, unknown>).volumeSize = '8192'), 'scenarios/bad.json: geometry.volumeSize: must be an integer, not a string ("8192")'],
    ['wrong type in an op', (s) => ((s.workload[1] as Record<string, unknown>).offset = 1.5), 'scenarios/bad.json: workload[1].offset: must be an integer'],
    ['missing field', (s) => delete (s as Record<string, unknown>).workload, 'scenarios/bad.json: workload: missing (required)'],
    ['missing field in an op', (s) => delete (s.workload[1] as Record<string, unknown>).pattern, 'scenarios/bad.json: workload[1].pattern: missing (required)'],
    ['unknown field', (s) => ((s.geometry as Record<string, unknown>).extentSize = 4), 'scenarios/bad.json: geometry.extentSize: unknown field (expected one of volumeSize, sectorSize, extentSectors)'],
    ['unaligned offset', (s) => ((s.workload[1] as Record<string, unknown>).offset = 700), 'scenarios/bad.json: workload[1].offset: 700 must be a multiple of 512 (the sector size)'],
    ['unaligned length', (s) => ((s.workload[3] as Record<string, unknown>).length = 1000), 'scenarios/bad.json: workload[3].length: 1000 must be a multiple of 512'],
    ['offset past the end', (s) => ((s.workload[1] as Record<string, unknown>).offset = 8192), 'scenarios/bad.json: workload[1].offset: 8192 is past the end of the volume (volumeSize 8192)'],
    ['length past the end', (s) => ((s.workload[3] as Record<string, unknown>).offset = 512), 'scenarios/bad.json: workload[3].length: 512 + 8192 = 8704 is past the end of the volume (volumeSize 8192)'],
    ['unknown op', (s) => (s.workload[2] = { op: 'trim', volume: 'source' } as never), 'scenarios/bad.json: workload[2].op: unknown op "trim" (expected one of write, read, flush, startRestore, step, powerLoss)'],
    ['op missing', (s) => (s.workload[2] = { count: 2 } as never), 'scenarios/bad.json: workload[2].op: missing (required)'],
    ['bad crash mode', (s) => (s.crash.modes = ['drop', 'shred']), 'scenarios/bad.json: crash.modes[1]: "shred" must be one of "drop", "keep", "subset", "torn"'],
    ['bad power-loss mode', (s) => (s.workload[4] = { op: 'powerLoss', mode: 'half' } as never), 'scenarios/bad.json: workload[4].mode: "half" must be one of "drop", "keep", "subset", "torn"'],
    ['bad depth', (s) => (s.crash.depth = 3), 'scenarios/bad.json: crash.depth: 3 must be one of 1, 2'],
    ['differ index out of range', (s) => (s.initial.differ = [1, 8]), 'scenarios/bad.json: initial.differ[1]: extent 8 is out of range: the volume has 8 extents (0..7)'],
    ['differ of a wrong form', (s) => ((s.initial as Record<string, unknown>).differ = 'some'), 'scenarios/bad.json: initial.differ: "some" must be "all" or "none", or an array of extent indices'],
    ['differ with a negative index', (s) => (s.initial.differ = [-1]), 'scenarios/bad.json: initial.differ[0]: -1 must be >= 0'],
    ['volume not whole sectors', (s) => (s.geometry.volumeSize = 8000), 'scenarios/bad.json: geometry.volumeSize: 8000 must be a multiple of the sector size 512'],
    ['sector size not a multiple of 512', (s) => (s.geometry.sectorSize = 1000), 'scenarios/bad.json: geometry.sectorSize: 1000 must be multiple of 512'],
    ['extent of no sectors', (s) => (s.geometry.extentSectors = 0), 'scenarios/bad.json: geometry.extentSectors: 0 must be >= 1'],
    ['volume past the largest simulated one', (s) => (s.geometry.volumeSize = 2 ** 24 + 512), 'scenarios/bad.json: geometry.volumeSize: 16777728 must be <= 16777216'],
    ['volume of 2^53 bytes', (s) => (s.geometry.volumeSize = 2 ** 53), 'scenarios/bad.json: geometry.volumeSize: 9007199254740992 must be <= 16777216'],
    ['bad name', (s) => (s.name = 'My Scenario'), 'scenarios/bad.json: name: "My Scenario" must match'],
    ['empty workload', (s) => (s.workload = []), 'scenarios/bad.json: workload: must have at least 1 item'],
    ['not an object', (s) => Object.assign(s, { name: 5 }), 'scenarios/bad.json: name: must be a string, not an integer (5)'],
    ['engine option not a whole number', (s) => Object.assign(s, { engineOptions: { copyBatch: 1.5 } }), 'scenarios/bad.json: engineOptions.copyBatch: must be an integer'],
    ['engine option of a bad name', (s) => Object.assign(s, { engineOptions: { 'copy batch': 2 } }), 'scenarios/bad.json: engineOptions'],
  ])('%s', async (_, edit, message) => {
    expect(await errorOf('bad.json', edited(edit))).toContain(message);
  });

  it('a volume of exactly the largest size loads', () => {
    expect(parseScenario(edited((s) => (s.geometry.volumeSize = MAX_VOLUME_SIZE)), 'max.json').geometry.volumeSize).toBe(MAX_VOLUME_SIZE);
  });

  it('JSON nested too deep is refused where it gets too deep, before anything walks it', async () => {
    expect(await errorOf('deep.json', '['.repeat(200_000) + ']'.repeat(200_000))).toBe('scenarios/deep.json: nested more than 64 levels deep at line 1, column 65 (position 64): no prestore input nests that deep');
    // Brackets inside strings are text, not nesting.
    expect(await errorOf('brackets.json', JSON.stringify({ name: '['.repeat(100) }))).not.toContain('nested');
  });

  it('a FIFO or a device is refused by its kind, never read', async () => {
    const fifo = join(dir, 'pipe.json');
    execFileSync('mkfifo', [fifo]);
    const error = await loadScenario(fifo, 'scenarios/pipe.json').catch((e: unknown) => e);
    expect((error as Error).message).toBe('scenarios/pipe.json: is a FIFO (named pipe), not a scenario file');
    expect(((await loadScenario('/dev/zero').catch((e: unknown) => e)) as Error).message).toBe('/dev/zero: is a character device, not a scenario file');
  });

  it('reports every problem at once', async () => {
    const message = await errorOf('bad.json', edited((s) => {
      (s.workload[1] as Record<string, unknown>).offset = 700;
      s.initial.differ = [9];
    }));
    expect(message.split('\n')).toEqual([
      'scenarios/bad.json: initial.differ[0]: extent 9 is out of range: the volume has 8 extents (0..7)',
      'scenarios/bad.json: workload[1].offset: 700 must be a multiple of 512 (the sector size)',
    ]);
  });

  it('invalid JSON names the line, column and position', async () => {
    const text = '{\n  "name": "x",\n  "geometry": { "volumeSize": 8192, }\n}';
    expect(await errorOf('broken.json', text)).toBe(`scenarios/broken.json: invalid JSON at line 3, column 37 (position 53): expected a property name in double quotes, found "}"`);
    expect(await errorOf('cut.json', '{ "name": "x"')).toBe(`scenarios/cut.json: invalid JSON at line 1, column 14 (position 13): expected ',' or '}' after a property value, found the end of the file`);
    expect(await errorOf('empty.json', '')).toContain('scenarios/empty.json: invalid JSON at line 1, column 1');
  });

  it('a missing file is named', async () => {
    const error = await loadScenario(join(dir, 'nope.json'), 'scenarios/nope.json').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe('scenarios/nope.json: no such file');
  });

  it('the JSON scanner agrees with JSON.parse', () => {
    for (const text of ['{}', '[1, -2.5e3, "a\\u00e9\\n", true, false, null]', ' {"a": {"b": []}} ']) expect(jsonSyntaxError(text)).toBeUndefined();
    for (const text of ['{', '[1,]', '{"a" 1}', '01', '"\t"', 'tru', '{} x', "{'a': 1}"]) {
      expect(() => JSON.parse(text)).toThrow();
      expect(jsonSyntaxError(text)).toBeDefined();
    }
  });
});
