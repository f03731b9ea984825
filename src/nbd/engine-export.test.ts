/**
 * A restore engine's source as an NBD export, end to end in process: the reference engine on
 * memory devices, the server on a unix socket, the project's own client. During a restore the
 * export reads as the clone before anything is copied, host writes survive the copier, FUA and
 * FLUSH reach the engine, and the clone is never written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';
import { FaultLayer } from '../devices/fault-layer.js';
import { MemoryDevice } from '../devices/memory-device.js';
import type { Geometry, RestoreDevices } from '../engine/contract.js';
import { createReferenceEngine } from '../engine/reference/index.js';
import { NbdClient } from './client.js';
import { EngineExport } from './engine-export.js';
import { HostActivity } from './host-activity.js';
import { NbdServer } from './server.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-nbd-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECTOR = 512;
const EXTENT = 8 * SECTOR;
/** 3 MiB: a WRITE_ZEROES over most of it takes more than one of the export's 1 MiB writes. */
const GEOMETRY: Geometry = { sectorSize: SECTOR, extentSectors: 8, volumeSize: 3 << 20 };
const factory = createReferenceEngine({ copyBatch: 64 });

/** Records the device calls, so a test can say what reached the disk and in which order. */
class Recording implements BlockDevice {
  readonly log: string[] = [];
  constructor(private readonly inner: MemoryDevice) {}
  get size() {
    return this.inner.size;
  }
  get sectorSize() {
    return this.inner.sectorSize;
  }
  read(offset: number, length: number) {
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Uint8Array, options?: WriteOptions) {
    this.log.push(`write ${offset}+${data.length}`);
    return this.inner.write(offset, data, options);
  }
  flush() {
    this.log.push('flush');
    return this.inner.flush();
  }
}

/** Byte-for-byte equality, naming the first differing offset (toEqual is far too slow on MiBs). */
function same(actual: Uint8Array, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)) return;
  const at = actual.findIndex((b, i) => b !== expected[i]);
  expect(at, `${what}: first differing byte`).toBe(-1);
}

let n = 0;
async function served(readOnly = false) {
  const source = new MemoryDevice(new Uint8Array(GEOMETRY.volumeSize).fill(0x11), SECTOR, 'source');
  const cloneBytes = new Uint8Array(GEOMETRY.volumeSize);
  for (let sector = 0; sector < GEOMETRY.volumeSize / SECTOR; sector++) cloneBytes.fill((sector * 7 + 1) & 0xff, sector * SECTOR, (sector + 1) * SECTOR);
  const clone = new MemoryDevice(cloneBytes, SECTOR, 'clone');
  const cloneBefore = clone.bytes.slice();
  const meta = MemoryDevice.zeroed(factory.metadataSize(GEOMETRY), SECTOR, 'meta');
  await factory.format({ source, clone, meta }, GEOMETRY, 'all');
  const recorded = new Recording(source);
  const engine = await factory.open({ source: recorded, clone, meta }, GEOMETRY);
  await engine.startRestore({ protect: true });
  const activity = new HostActivity(() => 0);
  const server = new NbdServer(new EngineExport(engine, GEOMETRY, { name: 'vm', description: 'test', readOnly, activity }));
  const at = { socket: join(dir, `e${n++}.sock`) };
  await server.listen(at);
  server.open();
  const client = await NbdClient.connect(at);
  return { engine, source, clone, cloneBefore, recorded, server, client, activity };
}

describe('an engine\'s source as an NBD export', () => {
  it('reads as the clone at once, keeps host writes through the copy, and never writes the clone', async () => {
    const s = await served();
    same(await s.client.read(0, GEOMETRY.volumeSize), s.cloneBefore, 'the export before any copy');
    expect(s.source.bytes.every((b) => b === 0x11)).toBe(true);

    const partial = new Uint8Array(SECTOR).fill(0xa1);
    const whole = new Uint8Array(EXTENT).fill(0xb2);
    await s.client.write(3 * SECTOR, partial);
    await s.client.write(5 * EXTENT, whole);
    await s.client.flush();
    while (!(await s.engine.step()).done);
    const expected = s.cloneBefore.slice();
    expected.set(partial, 3 * SECTOR);
    expected.set(whole, 5 * EXTENT);
    same(await s.client.read(0, GEOMETRY.volumeSize), expected, 'the export after the copy');
    same(s.source.bytes, expected, 'the source device');
    same(s.clone.bytes, s.cloneBefore, 'the clone device');
    expect(s.activity.counts).toMatchObject({ reads: 2, writes: 2, flushes: 1, bytesWritten: SECTOR + EXTENT });
    await s.client.disconnect();
    await s.server.close();
  });

  it('a FUA write is flushed before it is answered; FLUSH is the engine\'s source flush', async () => {
    const s = await served();
    // Extent 2 copied first, so the writes below are plain source writes.
    await s.client.write(2 * EXTENT, new Uint8Array(EXTENT).fill(1));
    s.recorded.log.length = 0;
    await s.client.write(2 * EXTENT, new Uint8Array(SECTOR).fill(2), { fua: true });
    expect(s.recorded.log).toEqual([`write ${2 * EXTENT}+${SECTOR}`, 'flush']);
    s.recorded.log.length = 0;
    await s.client.write(2 * EXTENT, new Uint8Array(SECTOR).fill(3));
    expect(s.recorded.log).toEqual([`write ${2 * EXTENT}+${SECTOR}`]);
    await s.client.flush();
    expect(s.recorded.log).toEqual([`write ${2 * EXTENT}+${SECTOR}`, 'flush']);
    await s.client.disconnect();
    await s.server.close();
  });

  it('WRITE_ZEROES over more than a MiB zeroes all of it, in bounded writes', async () => {
    const s = await served();
    const at = EXTENT;
    const length = (2 << 20) + 3 * SECTOR;
    await s.client.writeZeroes(at, length);
    const back = await s.client.read(0, GEOMETRY.volumeSize);
    expect(back.subarray(at, at + length).every((b) => b === 0)).toBe(true);
    same(back.subarray(0, at), s.cloneBefore.subarray(0, at), 'before the zeroes');
    same(back.subarray(at + length), s.cloneBefore.subarray(at + length), 'after the zeroes');
    expect(Math.max(...s.recorded.log.filter((l) => l.startsWith('write')).map((l) => Number(l.split('+')[1])))).toBeLessThanOrEqual(1 << 20);
    await s.client.disconnect();
    await s.server.close();
  });
});

describe('the export of an engine that makes P durable at the flush (deferProtection, as prestore serve runs it)', () => {
  it('a FUA write is protected when answered, a plain one only after a FLUSH: a power loss keeps the first and may take back the second', async () => {
    const deferred = createReferenceEngine({ deferProtection: true });
    const backends = {
      source: new MemoryDevice(new Uint8Array(GEOMETRY.volumeSize).fill(0x11), SECTOR, 'source'),
      clone: new MemoryDevice(new Uint8Array(GEOMETRY.volumeSize).fill(0x22), SECTOR, 'clone'),
      meta: MemoryDevice.zeroed(deferred.metadataSize(GEOMETRY), SECTOR, 'meta'),
    };
    await deferred.format(backends, GEOMETRY, 'all');
    const layer = new FaultLayer(backends);
    const engine = await deferred.open(layer.devices as RestoreDevices, GEOMETRY);
    await engine.startRestore({ protect: true });
    const server = new NbdServer(new EngineExport(engine, GEOMETRY, { name: 'vm', description: 'test', readOnly: false, activity: new HostActivity(() => 0) }));
    const at = { socket: join(dir, `e${n++}.sock`) };
    await server.listen(at);
    server.open();
    const client = await NbdClient.connect(at);
    await client.write(EXTENT, new Uint8Array(SECTOR).fill(0xa1), { fua: true });
    await client.write(3 * EXTENT, new Uint8Array(SECTOR).fill(0xb2));
    await client.disconnect();
    await server.close();
    // Every cached write survives, the host's data included: only what P says decides.
    await layer.powerLoss('keep');
    layer.restart();
    const after = await deferred.open(layer.devices as RestoreDevices, GEOMETRY);
    expect((await after.readSource(EXTENT, SECTOR)).every((b) => b === 0xa1), 'the FUA write').toBe(true);
    expect((await after.readSource(3 * EXTENT, SECTOR)).every((b) => b === 0x22), 'the unflushed write, taken back by the clone').toBe(true);
  });
});
