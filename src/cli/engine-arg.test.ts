/** Engine resolution: names, mutants, stdio commands, and vendor modules with every mistake named. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError, UsageError } from './command.js';
import { checkFactory } from '../harness/engine-guard.js';
import { resolveEngine } from './engine-arg.js';
import type { EngineModules } from './seams.js';

const factory = { name: 'ref', metadataSize: () => 512, format: async () => {}, open: async () => ({}) };
const modules: EngineModules = {
  reference: async () => ({ referenceEngine: factory }),
  mutants: async () => ({ mutants: [{ name: 'skip-flush', description: '', rule: 'progress', factory: { ...factory, name: 'skip-flush' } }] }),
  stdio: async () => ({ stdioEngine: (command: string) => ({ ...factory, name: `stdio:${command}` }) }),
  file: (url) => import(url),
};

const dir = mkdtempSync(join(tmpdir(), 'prestore-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function moduleFile(source: string): string {
  const file = join(dir, `engine-${n++}.mjs`);
  writeFileSync(file, source);
  return file;
}
const SHAPE = `{ name: 'vendor', metadataSize: () => 512, format: async () => {}, open: async () => ({}) }`;

describe('resolveEngine', () => {
  it('defaults to the reference engine', async () => {
    const choice = await resolveEngine({}, modules, dir);
    expect(choice).toMatchObject({ factory, engineArgs: '--engine reference', label: 'reference' });
  });

  it('finds a mutant by name', async () => {
    const choice = await resolveEngine({ engine: 'mutant:skip-flush' }, modules, dir);
    expect(choice.factory.name).toBe('skip-flush');
    expect(choice.engineArgs).toBe('--engine mutant:skip-flush');
  });

  it('wraps a command in the stdio engine, quoted for the shell', async () => {
    const choice = await resolveEngine({ 'engine-cmd': 'node engine.js --fast' }, modules, dir);
    expect(choice.factory.name).toBe('stdio:node engine.js --fast');
    expect(choice.engineArgs).toBe(`--engine-cmd 'node engine.js --fast'`);
  });

  /** Modules whose stdio engine records the options each `--engine-cmd` resolution passes it. */
  function stdioSpy(): { seen: unknown[]; spy: EngineModules } {
    const seen: unknown[] = [];
    const spy: EngineModules = { ...modules, stdio: async () => ({ stdioEngine: (command: string, options: unknown) => (seen.push(options), { ...factory, name: command }) }) };
    return { seen, spy };
  }

  it('passes --audit-rate to the stdio engine (default 0.02), and refuses one outside 0..1 or without --engine-cmd', async () => {
    const { seen, spy } = stdioSpy();
    await resolveEngine({ 'engine-cmd': 'x' }, spy, dir);
    await resolveEngine({ 'engine-cmd': 'x', 'audit-rate': '0.25' }, spy, dir);
    await resolveEngine({ 'engine-cmd': 'x', 'audit-rate': '1' }, spy, dir);
    expect(seen.map((o) => (o as { auditRate: number }).auditRate)).toEqual([0.02, 0.25, 1]);
    for (const bad of ['1.5', '-0.1', 'half', '']) await expect(resolveEngine({ 'engine-cmd': 'x', 'audit-rate': bad }, spy, dir)).rejects.toThrow(/--audit-rate .*must be a number from 0 to 1/);
    await expect(resolveEngine({ 'audit-rate': '0.5' }, spy, dir)).rejects.toBeInstanceOf(UsageError);
  });

  it('passes --engine-lanes to the stdio engine (default 4), and refuses one not from 1 to 64 or without --engine-cmd', async () => {
    const { seen, spy } = stdioSpy();
    await resolveEngine({ 'engine-cmd': 'x' }, spy, dir);
    await resolveEngine({ 'engine-cmd': 'x', 'engine-lanes': '1' }, spy, dir);
    await resolveEngine({ 'engine-cmd': 'x', 'engine-lanes': '64' }, spy, dir);
    expect(seen.map((o) => (o as { lanes: number }).lanes)).toEqual([4, 1, 64]);
    for (const bad of ['0', '65', 'two', '1.5', '']) await expect(resolveEngine({ 'engine-cmd': 'x', 'engine-lanes': bad }, spy, dir)).rejects.toThrow(/--engine-lanes/);
    await expect(resolveEngine({ 'engine-lanes': '2' }, spy, dir)).rejects.toBeInstanceOf(UsageError);
  });

  it.each([
    ['default', `export default ${SHAPE};`],
    ['engine', `export const engine = ${SHAPE};`],
    ['createEngine()', `export function createEngine() { return ${SHAPE}; }`],
    ['async createEngine()', `export async function createEngine() { return ${SHAPE}; }`],
  ])('loads a module exporting %s', async (_, source) => {
    const file = moduleFile(source);
    const choice = await resolveEngine({ engine: file }, modules, '/');
    expect(choice.factory.name).toBe('vendor');
    expect(choice.engineArgs).toBe(`--engine ${file}`);
  });

  it.each([
    ['a module without an engine', `export const other = 1;`, 'the module exports no engine: it must export an EngineFactory as `default` or `engine`, or a function `createEngine()` returning one (it exports other)'],
    ['an incomplete factory', `export const engine = { name: 'x', format() {} };`, "the export `engine` is not an EngineFactory: it lacks metadataSize() (a function), open() (a function)"],
    ['a default that is not an object', `export default 42;`, 'the default export is not an EngineFactory: it is number, not an object'],
    ['a throwing createEngine', `export function createEngine() { throw new Error('no licence'); }`, 'createEngine() threw: no licence'],
    ['a syntax error', `export const = ;`, 'the module failed to load'],
  ])('names what is wrong with %s', async (_, source, message) => {
    const file = moduleFile(source);
    const error = await resolveEngine({ engine: file }, modules, '/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain(`--engine ${file}: `);
    expect((error as Error).message).toContain(message);
  });

  it('a missing file is bad input', async () => {
    const error = await resolveEngine({ engine: './nope.js' }, modules, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(`--engine ./nope.js: no such file ${join(dir, 'nope.js')}`);
  });

  it('both flags, or empty ones, are bad usage', async () => {
    await expect(resolveEngine({ engine: 'reference', 'engine-cmd': 'x' }, modules, dir)).rejects.toBeInstanceOf(UsageError);
    await expect(resolveEngine({ 'engine-cmd': ' ' }, modules, dir)).rejects.toBeInstanceOf(UsageError);
    await expect(resolveEngine({ engine: '' }, modules, dir)).rejects.toBeInstanceOf(UsageError);
  });

  it('checkFactory names every missing member', () => {
    expect(() => checkFactory({ open() {} }, 'x')).toThrow('x is not an EngineFactory: it lacks name (a non-empty string), metadataSize() (a function), format() (a function)');
    expect(checkFactory(factory, 'x')).toBe(factory);
  });
});
