/**
 * The stdio protocol: the Python example engine passes the harness over it, one of its bugs is
 * caught, and each way a process can misbehave ends in a clear EngineProtocolError (exit 2 on the
 * command line) with no process left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli/dispatch.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { referenceEngine } from '../engine/reference/index.js';
import type { Case } from '../harness/case.js';
import { runCase } from '../harness/run-case.js';
import { allProcessesEnded, endRestingProcesses, liveProcesses, stdioEngine } from './stdio-engine.js';

const PYTHON = 'python3 examples/python_engine.py';
const GEOMETRY = { sectorSize: 512, extentSectors: 2, volumeSize: 5 * 512 };

/** Opening `engine` on an empty case fails with a protocol error saying `message`. */
async function expectProtocolError(engine: ReturnType<typeof stdioEngine>, message: RegExp): Promise<void> {
  const c: Case = { geometry: GEOMETRY, initial: { differ: 'all', delta: 'exact' }, workload: [], crashes: [], eio: [] };
  const error = await runCase(engine, c, { seed: 'x' }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(error?.name).toBe('EngineProtocolError');
  expect(error?.message).toMatch(message);
}

/** A protected restore with a partial host write, crashed in the copier, plus an unprotected one. */
const CASES: Case[] = [
  {
    geometry: GEOMETRY,
    initial: { differ: 'all', delta: 'exact' },
    workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 2, sectors: 1, pattern: 1 }, { op: 'step', count: 2 }],
    crashes: [{ point: 14, mode: 'torn' }],
    eio: [],
  },
  {
    geometry: GEOMETRY,
    initial: { differ: [0, 2], delta: 'exact' },
    workload: [{ op: 'write', volume: 'clone', sector: 4, sectors: 1, pattern: 2 }, { op: 'startRestore', protect: false }, { op: 'write', volume: 'source', sector: 0, sectors: 2, pattern: 3 }, { op: 'flush', volume: 'source' }],
    crashes: [{ point: 9, mode: 'subset' }, { point: 20, mode: 'drop' }],
    eio: [{ point: 12, sticky: false }],
  },
];

const dir = mkdtempSync(join(tmpdir(), 'prestore-protocol-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** Processes whose parent is this test process, as the system lists them (ps itself aside). */
function children(): string[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,comm='], { encoding: 'utf8' }).split('\n');
  return rows.map((r) => r.trim().split(/\s+/)).filter(([, ppid, comm]) => Number(ppid) === process.pid && comm !== 'ps').map((r) => r.join(' '));
}

afterEach(async () => {
  endRestingProcesses();
  await allProcessesEnded();
  expect(liveProcesses()).toBe(0);
  expect(children()).toEqual([]);
});

describe('the Python example over the protocol', () => {
  it.each(CASES.map((c, i) => [i, c] as const))('passes case %i, crashes and EIO included, as the reference engine does', { timeout: 30_000 }, async (_, c) => {
    const python = await runCase(stdioEngine(PYTHON), c, { seed: 'protocol' });
    const reference = await runCase(referenceEngine, c, { seed: 'protocol' });
    expect(python.violations).toEqual([]);
    expect(reference.violations).toEqual([]);
    expect(python.crashStates).toBeGreaterThan(0);
  });

  it('is caught when its copier clears D before the copy is durable', { timeout: 30_000 }, async () => {
    const c: Case = { geometry: GEOMETRY, initial: { differ: 'all', delta: 'exact' }, workload: [{ op: 'startRestore', protect: true }, { op: 'step' }], crashes: [{ point: 11, mode: 'drop' }], eio: [] };
    const found = await runCase(stdioEngine(`${PYTHON} --bug no-flush-before-clear`), c, { seed: 'protocol' });
    expect(found.violations.map((v) => v.rule)).toEqual(['reads-right']);
    expect((await runCase(stdioEngine(PYTHON), c, { seed: 'protocol' })).violations).toEqual([]);
  });

  it('is caught when it reads extents not yet copied from the source', { timeout: 30_000 }, async () => {
    const c: Case = { geometry: GEOMETRY, initial: { differ: [1], delta: 'exact' }, workload: [{ op: 'startRestore', protect: true }, { op: 'read', volume: 'source', sector: 2, sectors: 2 }], crashes: [], eio: [] };
    const found = await runCase(stdioEngine(`${PYTHON} --bug read-source`), c, { seed: 'protocol' });
    expect(found.violations.map((v) => v.rule)).toEqual(['reads-right']);
    expect((await runCase(stdioEngine(PYTHON), c, { seed: 'protocol' })).violations).toEqual([]);
  });

  it('holds under prestore explore on the command line', { timeout: 60_000 }, async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) !== 0 } as unknown as NodeJS.WritableStream;
    const code = await runCli(['explore', '--runs', '4', '--seed', '3', '--engine-cmd', PYTHON], { stdout: sink, stderr: sink, env: {} });
    expect(out.join('')).toMatch(/every check held/);
    expect(code).toBe(0);
  });
});

describe('large messages', () => {
  it('carry a whole 4 MiB volume in one line each way', { timeout: 30_000 }, async () => {
    const geometry = { sectorSize: 512, extentSectors: 128, volumeSize: 4 << 20 };
    const engine = stdioEngine(PYTHON);
    const meta = MemoryDevice.zeroed(engine.metadataSize(geometry), 512, 'meta');
    const devices = { source: MemoryDevice.zeroed(geometry.volumeSize, 512, 'source'), clone: MemoryDevice.zeroed(geometry.volumeSize, 512, 'clone'), meta };
    await engine.format(devices, geometry, 'none');
    const open = await engine.open(devices, geometry);
    try {
      const data = new Uint8Array(geometry.volumeSize).map((_, i) => (i * 7) % 251);
      await open.writeSource(0, data);
      // Not toEqual: its element-by-element diff of 4 MiB takes seconds.
      expect(Buffer.from(await open.readSource(0, geometry.volumeSize)).equals(data)).toBe(true);
    } finally {
      await open.dispose?.();
    }
  });
});

describe('any in-process engine served over the protocol', () => {
  // `npm test` builds dist/ first; the served engine runs from there.
  it('runs the reference engine through the same I/O, crash for crash, as in process', { timeout: 30_000 }, async () => {
    for (const c of CASES) {
      const served = await runCase(stdioEngine('node dist/src/protocol/serve-reference.js'), c, { seed: 'protocol' });
      const local = await runCase(referenceEngine, c, { seed: 'protocol' });
      expect(served.trace.map((e) => `${e.point} ${e.device} ${e.op} ${e.offset} ${e.length} ${e.digest} ${e.outcome}`)).toEqual(local.trace.map((e) => `${e.point} ${e.device} ${e.op} ${e.offset} ${e.length} ${e.digest} ${e.outcome}`));
      expect(served.violations).toEqual([]);
    }
  });
});

describe('calls made alongside each other', () => {
  // A copy step, and a host write and read issued with it: the protocol serves one call at a time.
  const GROUP: Case = {
    geometry: GEOMETRY,
    initial: { differ: 'all', delta: 'exact' },
    workload: [
      { op: 'startRestore', protect: true },
      { op: 'step' },
      { op: 'write', volume: 'source', sector: 0, sectors: 2, pattern: 1, alongside: true },
      { op: 'read', volume: 'source', sector: 2, sectors: 2, alongside: true },
      { op: 'read', volume: 'source', sector: 0, sectors: 5 },
    ],
    crashes: [],
    eio: [],
  };

  it.each([true, false])('queued behind a power loss, fail with it unsent, as in process, never a hang (persistent process: %s)', { timeout: 30_000 }, async (persistent) => {
    const recorded = await runCase(referenceEngine, GROUP, { seed: 'group' });
    // The step's second I/O: the write and the read are still queued behind it.
    const crashed: Case = { ...GROUP, crashes: [{ point: recorded.opStarts[1]! + 1, mode: 'drop' }] };
    const served = await runCase(stdioEngine('node dist/src/protocol/serve-reference.js', { persistent, auditRate: 0, timeoutMs: 5_000 }), crashed, { seed: 'group' });
    const local = await runCase(referenceEngine, crashed, { seed: 'group' });
    expect(served.violations).toEqual([]);
    expect(served.crashStates).toBe(1);
    expect(served.trace.map((e) => `${e.point} ${e.device} ${e.op} ${e.offset} ${e.digest} ${e.outcome}`)).toEqual(local.trace.map((e) => `${e.point} ${e.device} ${e.op} ${e.offset} ${e.digest} ${e.outcome}`));
  });
});

/** A tiny engine in Node that misbehaves as told, after a proper handshake (unless told not to). */
function misbehaving(name: string, body: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
${body.includes('NO_HELLO') ? '' : `send({ type: 'hello', protocol: 'prestore-engine', version: 1, name: '${name}' });`}
createInterface({ input: process.stdin }).on('line', (line) => {
  const call = JSON.parse(line);
  if (call.method === 'metadataSize') return send({ type: 'result', id: call.id, value: 4096 });
  ${body.replace('NO_HELLO', '')}
});
`,
  );
  return `node ${file}`;
}

const BAD: [string, string, RegExp][] = [
  ['garbage', `process.stdout.write('hello, world\\n');`, /not a JSON object: "hello, world"/],
  ['unknown-message', `send({ type: 'gossip', id: call.id });`, /message of unknown type "gossip"/],
  ['wrong-id', `send({ type: 'result', id: call.id + 7 });`, /replied to call 8, but call 1 \(format\) was outstanding/],
  ['hang', `/* never answers */`, /sent nothing for 2000 ms while the harness waited for its answer to format/],
  ['exit', `process.stderr.write('Traceback (most recent call last):\\nKeyError: 7\\n'); process.exit(3);`, /exited with code 3 during format; its last standard error lines:\n {2}Traceback \(most recent call last\):\n {2}KeyError: 7$/],
  // One write, so both lines arrive before the harness can send its next call.
  ['io-after-answer', `process.stdout.write(JSON.stringify({ type: 'result', id: call.id, value: null }) + '\\n' + JSON.stringify({ type: 'io', id: 1, device: 'meta', op: 'flush' }) + '\\n');`, /asked for device I\/O .* while no call was outstanding/],
  ['length-mismatch', `send({ type: 'io', id: 1, device: 'source', op: 'write', offset: 0, length: 1024, data: Buffer.alloc(512).toString('base64') });`, /says length 1024 but carries 512 bytes/],
  ['outside', `send({ type: 'io', id: 1, device: 'meta', op: 'read', offset: 1 << 20, length: 512 });`, /I\/O outside the device: meta: read at offset 1048576, length 512/],
  ['unaligned', `send({ type: 'io', id: 1, device: 'source', op: 'write', offset: 100, length: 512, data: Buffer.alloc(512).toString('base64') });`, /outside the device: source: write at offset 100/],
  ['bad-base64', `send({ type: 'io', id: 1, device: 'source', op: 'write', offset: 0, length: 3, data: '%%%' });`, /write to source\): not base64/],
  ['bad-version', `NO_HELLO`, /speaks protocol version 9/],
];

describe('a misbehaving engine process', () => {
  it.each(BAD)('%s: a clear error, and no process left behind', async (name, body, message) => {
    const command = name === 'bad-version' ? misbehavingHello() : misbehaving(name, body);
    // Short where the process never ends by itself (metadataSize waits for its exit); long
    // elsewhere, so that a start-up slowed by a busy machine does not time out.
    const engine = stdioEngine(command, { timeoutMs: name === 'hang' || name === 'bad-version' ? 2000 : 20_000 });
    await expectProtocolError(engine, message);
  });

  it('ends the command line with exit 2 and the message', { timeout: 30_000 }, async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) !== 0 } as unknown as NodeJS.WritableStream;
    const code = await runCli(['explore', '--runs', '2', '--engine-cmd', misbehaving('garbage-cli', `process.stdout.write('oops\\n');`)], { stdout: sink, stderr: sink, env: {} });
    expect(code).toBe(2);
    expect(out.join('')).toMatch(/not a JSON object: "oops"/);
  });
});

function misbehavingHello(): string {
  const file = join(dir, 'bad-version.mjs');
  writeFileSync(file, `process.stdout.write(JSON.stringify({ type: 'hello', protocol: 'prestore-engine', version: 9 }) + '\\n'); setInterval(() => {}, 1000);\n`);
  return `node ${file}`;
}

/**
 * A tiny engine in Node that offers the binary framing and, once the harness accepts it, answers
 * its first call frame with `body` (which has `frame(type, id, ...bytes)` and `out` to write raw bytes).
 */
function binaryMisbehaving(name: string, body: string): string {
  const file = join(dir, `binary-${name}.mjs`);
  writeFileSync(
    file,
    `const out = (b) => process.stdout.write(b);
const frame = (type, id, body = Buffer.alloc(0)) => { const h = Buffer.alloc(9); h.writeUInt32LE(body.length + 5, 0); h.writeUInt8(type, 4); h.writeUInt32LE(id, 5); return Buffer.concat([h, body]); };
out(JSON.stringify({ type: 'hello', protocol: 'prestore-engine', version: 1, name: '${name}', capabilities: ['binary'] }) + '\\n');
let text = '';
let framed = false;
process.stdin.on('data', (chunk) => {
  if (!framed) {
    text += chunk.toString('latin1');
    const nl = text.indexOf('\\n');
    if (nl < 0) return;
    const first = JSON.parse(text.slice(0, nl));
    if (first.method === 'metadataSize') return out(JSON.stringify({ type: 'result', id: first.id, value: 4096 }) + '\\n');
    framed = true;
    chunk = Buffer.from(text.slice(nl + 1), 'latin1');
    if (chunk.length === 0) return;
  }
  const id = chunk.readUInt32LE(5);
  ${body}
});
`,
  );
  return `node ${file}`;
}

/** An io frame's fixed fields: device, op, fua, offset, length. */
const IO_FIELDS = (device: number, op: number, offset: number, length: number) => `(() => { const f = Buffer.alloc(16); f.writeUInt8(${device}, 0); f.writeUInt8(${op}, 1); f.writeBigUInt64LE(${offset}n, 4); f.writeUInt32LE(${length}, 12); return f; })()`;

const BAD_FRAMES: [string, string, RegExp, number][] = [
  ['truncated-exit', `out(frame(4, 1, Buffer.concat([${IO_FIELDS(0, 1, 0, 512)}, Buffer.alloc(512)])).subarray(0, 100)); setTimeout(() => process.exit(0), 50);`, /exited with code 0 during format; it left a 537-byte frame unfinished after 100 bytes/, 20_000],
  ['truncated-hang', `out(frame(4, 1, Buffer.concat([${IO_FIELDS(0, 1, 0, 512)}, Buffer.alloc(512)])).subarray(0, 100));`, /sent nothing for 2000 ms while the harness waited for its answer to format; it left a 537-byte frame unfinished after 100 bytes/, 2000],
  ['huge-length', `const h = Buffer.alloc(9); h.writeUInt32LE(0xfffffff0, 0); h.writeUInt8(2, 4); out(h);`, /frame header claiming 4294967284 bytes \(more than the largest frame/, 20_000],
  ['huge-write', `const f = frame(4, 1, ${IO_FIELDS(0, 1, 0, 1 << 29)}); f.writeUInt32LE(21 + (1 << 29), 0); out(f);`, /a write of 536870912 bytes to source, a device of 2560 bytes/, 20_000],
  ['garbage', `out('Traceback (most recent call last):\\n');`, /frame header claiming 1667330648 bytes .*"Traceback": not a frame \(text on standard output\?\)/, 20_000],
  ['unknown-type', `out(frame(9, id));`, /a frame of unknown type 9/, 20_000],
  ['harness-type', `out(frame(5, id));`, /sent a io-result frame, which only the harness sends/, 20_000],
  ['io-size-mismatch', `out(frame(4, 1, Buffer.concat([${IO_FIELDS(0, 1, 0, 512)}, Buffer.alloc(100)])));`, /a write of source says length 512, so its frame is 537 bytes, but its header says 125/, 20_000],
  ['unknown-device', `out(frame(4, 1, ${IO_FIELDS(7, 0, 0, 512)}));`, /unknown device code 7/, 20_000],
  ['bad-json-length', `const b = Buffer.alloc(8); b.writeUInt32LE(99, 0); out(frame(2, id, b));`, /its JSON length 99 runs past the end of its 8-byte body/, 20_000],
];

describe('a misbehaving engine process in binary frames', () => {
  it.each(BAD_FRAMES)('%s: a clear error, never a hang, and no process left behind', async (name, body, message, timeoutMs) => {
    const engine = stdioEngine(binaryMisbehaving(name, body), { timeoutMs });
    await expectProtocolError(engine, message);
  });

  it('ends the command line with exit 2 and the message', { timeout: 30_000 }, async () => {
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) !== 0 } as unknown as NodeJS.WritableStream;
    const code = await runCli(['explore', '--runs', '2', '--engine-cmd', binaryMisbehaving('huge-cli', `const h = Buffer.alloc(9); h.writeUInt32LE(0x7ffffff0, 0); h.writeUInt8(2, 4); out(h);`)], { stdout: sink, stderr: sink, env: {} });
    expect(code).toBe(2);
    expect(out.join('')).toMatch(/frame header claiming \d+ bytes/);
  });
});
