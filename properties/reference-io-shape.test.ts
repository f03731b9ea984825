/**
 * The shape of the reference engine's I/O, which the oracle does not judge (it judges what the
 * disks hold, not how they got there) and its users rely on: image files restore with large
 * coalesced copy I/Os and a bounded queue, maps of several sectors are written a run at a time,
 * a protected restore never writes or flushes the clone, a host write reads from the clone only
 * what it does not overwrite, and one to extents it already protected goes straight through
 * (README, "How the engine stays correct"). Every case runs with no fault, on devices that record
 * each I/O with the engine call that issued it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlockDevice, IoOp, WriteOptions } from '../src/devices/block-device.js';
import { extentCount, extentRange, extentsOf, type Geometry, type RestoreEngine } from '../src/engine/contract.js';
import { referenceOptions } from '../src/engine/reference/engine.js';
import { createReferenceEngine, type ReferenceOptions } from '../src/engine/reference/index.js';
import { layoutOf } from '../src/engine/reference/layout.js';
import { engineOptionsArb, geometryArb, hotExtentArb, initialArb, largeCaseArb, largeGeometryArb, workloadArb } from '../src/harness/arbitraries.js';
import type { HostOp, InitialState } from '../src/harness/case.js';
import { numericSeed } from '../src/harness/explore.js';
import { formattedDevices } from '../src/harness/checker/set-up.js';
import { hostWriteData } from '../src/harness/sector-data.js';
import { RUNS, SEED } from './settings.js';

type DeviceName = 'source' | 'clone' | 'meta';

interface Io {
  readonly device: DeviceName;
  readonly op: IoOp;
  readonly offset: number;
  readonly length: number;
  readonly fua: boolean;
  /** Data I/Os (source and clone) in flight once this one was issued, itself included. */
  readonly inFlight: number;
}

/** One engine call and the I/O it issued. */
interface Call {
  readonly name: 'open' | 'readSource' | 'writeSource' | 'flushSource' | 'writeClone' | 'readClone' | 'flushClone' | 'startRestore' | 'step';
  /** Whether a restore was in progress when the call was made, and whether it was protected. */
  readonly during: 'fractured' | 'protected' | 'unprotected';
  readonly offset: number;
  readonly length: number;
  /** Whether every extent the call's range touches had its P bit set when the call was made. */
  readonly protectedBefore: boolean;
  readonly ios: Io[];
}

class Recorder {
  readonly calls: Call[] = [];
  private current: Call | undefined;
  private dataInFlight = 0;

  async call<T>(call: Omit<Call, 'ios'>, run: () => Promise<T>): Promise<T> {
    this.current = { ...call, ios: [] };
    this.calls.push(this.current);
    try {
      return await run();
    } finally {
      this.current = undefined;
    }
  }

  async io<T>(device: DeviceName, op: IoOp, offset: number, length: number, fua: boolean, run: () => Promise<T>): Promise<T> {
    const data = device !== 'meta';
    if (data) this.dataInFlight++;
    this.current?.ios.push({ device, op, offset, length, fua, inFlight: this.dataInFlight });
    try {
      return await run();
    } finally {
      if (data) this.dataInFlight--;
    }
  }
}

class RecordingDevice implements BlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  constructor(
    private readonly inner: BlockDevice,
    private readonly name: DeviceName,
    private readonly recorder: Recorder,
  ) {
    this.size = inner.size;
    this.sectorSize = inner.sectorSize;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.recorder.io(this.name, 'read', offset, length, false, () => this.inner.read(offset, length));
  }
  write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.recorder.io(this.name, 'write', offset, data.length, options?.fua === true, () => this.inner.write(offset, data, options));
  }
  flush(): Promise<void> {
    return this.recorder.io(this.name, 'flush', 0, 0, false, () => this.inner.flush());
  }
}

interface IoCase {
  readonly geometry: Geometry;
  readonly initial: InitialState;
  readonly workload: readonly HostOp[];
  readonly options: ReferenceOptions;
}

/** The largest copy I/O the options allow: `maxIoBytes` in whole sectors, at least one. */
function copyLimit(c: IoCase): number {
  const { sectorSize } = c.geometry;
  return Math.max(sectorSize, Math.floor(referenceOptions(c.options).maxIoBytes / sectorSize) * sectorSize);
}

/**
 * The workload run one operation at a time (power losses left out: nothing fails here), then the
 * restore stepped to its end.
 */
async function record(c: IoCase): Promise<Call[]> {
  const { geometry } = c;
  const extents = extentCount(geometry);
  const factory = createReferenceEngine(c.options);
  const sector = geometry.sectorSize;
  const disks = await formattedDevices(factory, { geometry, initial: c.initial, workload: [], crashes: [], eio: [] });
  const recorder = new Recorder();
  const devices = {
    source: new RecordingDevice(disks.source, 'source', recorder),
    clone: new RecordingDevice(disks.clone, 'clone', recorder),
    meta: new RecordingDevice(disks.meta, 'meta', recorder),
  };
  const engine = await recorder.call({ name: 'open', during: 'fractured', offset: 0, length: 0, protectedBefore: false }, () => factory.open(devices, geometry));
  const during = async (): Promise<Call['during']> => {
    const status = await engine.status();
    return status.state === 'fractured' ? 'fractured' : status.protect ? 'protected' : 'unprotected';
  };
  const protectedBefore = async (offset: number, length: number): Promise<boolean> => {
    if (length === 0) return false;
    const { protected: p } = await engine.inspect!();
    return range(extentsOf(geometry, offset, length)).every((e) => p[e]);
  };
  const call = async <T>(name: Call['name'], run: (e: RestoreEngine) => Promise<T>, offset = 0, length = 0): Promise<T> =>
    recorder.call({ name, during: await during(), offset, length, protectedBefore: await protectedBefore(offset, length) }, () => run(engine));
  for (const op of c.workload) {
    if (op.op === 'powerLoss') continue;
    if (op.op === 'startRestore') {
      if ((await during()) === 'fractured') await call('startRestore', (e) => e.startRestore({ protect: op.protect }));
      continue;
    }
    if (op.op === 'step') {
      for (let i = 0; i < (op.count ?? 1); i++) await call('step', (e) => e.step());
      continue;
    }
    if (op.volume === 'clone' && (await during()) !== 'fractured') continue;
    if (op.op === 'flush') {
      await (op.volume === 'source' ? call('flushSource', (e) => e.flushSource()) : call('flushClone', (e) => e.flushClone()));
      continue;
    }
    const offset = op.sector * sector;
    const length = op.sectors * sector;
    if (op.op === 'read') await (op.volume === 'source' ? call('readSource', (e) => e.readSource(offset, length), offset, length) : call('readClone', (e) => e.readClone(offset, length), offset, length));
    else {
      const data = hostWriteData(op.pattern, op.sector, op.sectors, sector);
      await (op.volume === 'source' ? call('writeSource', (e) => e.writeSource(offset, data), offset, length) : call('writeClone', (e) => e.writeClone(offset, data), offset, length));
    }
  }
  for (let steps = 0; (await during()) !== 'fractured'; steps++) {
    if (steps > 4 * extents + 10) throw new Error(`the restore did not end in ${steps} steps`);
    await call('step', (e) => e.step());
  }
  return recorder.calls;
}

/** Sorted by offset. */
function byOffset(ios: readonly Io[]): Io[] {
  return [...ios].sort((a, b) => a.offset - b.offset);
}

/** Pairs of I/Os of one kind where one begins where the other ends: they could have been one. */
function adjacent(ios: readonly Io[]): [Io, Io][] {
  const sorted = byOffset(ios);
  return sorted.slice(1).flatMap((b, i) => (sorted[i]!.offset + sorted[i]!.length === b.offset ? [[sorted[i]!, b] as [Io, Io]] : []));
}

function show(call: Call, index: number): string {
  return `call ${index} (${call.name}${call.length > 0 ? ` at ${call.offset}, ${call.length} bytes` : ''}, ${call.during}): ${call.ios.map((io) => `${io.device}.${io.op}${io.op === 'flush' ? '' : `(${io.offset},${io.length}${io.fua ? ',fua' : ''})`}`).join(' ')}`;
}

/**
 * Each promise: the calls it holds for, and what is wrong with a call that breaks it (undefined
 * when it holds).
 */
type IoPromise = (c: IoCase, call: Call) => string | undefined;

const PROMISES: Record<string, IoPromise> = {
  /** A protected restore preserves the clone: reads only, not even a flush, until it completes. */
  'the clone is only read during a protected restore': (_c, call) =>
    call.during === 'protected' && call.ios.some((io) => io.device === 'clone' && io.op !== 'read') ? 'the clone was written or flushed' : undefined,

  /**
   * A step copies at most `copyBatch` extents, in copy I/Os of at most the copy limit, contiguous
   * extents together (two I/Os that touch end to end only where the first is full), with at most
   * `queueDepth` in flight.
   */
  'a step copies in full-sized, coalesced I/Os, a batch at most, within the queue depth': (c, call) => {
    if (call.name !== 'step') return undefined;
    const limit = copyLimit(c);
    const copies = call.ios.filter((io) => io.device === 'source' && io.op === 'write');
    const data = call.ios.filter((io) => io.device !== 'meta' && io.op !== 'flush');
    const extents = new Set(copies.flatMap((io) => range(extentsOf(c.geometry, io.offset, io.length))));
    if (data.some((io) => io.length > limit)) return `a copy I/O is larger than ${limit} bytes`;
    if (adjacent(copies).some(([a]) => a.length < limit)) return `two copy writes could have been one (limit ${limit})`;
    const { copyBatch, queueDepth } = referenceOptions(c.options);
    if (extents.size > copyBatch) return `${extents.size} extents copied, the batch is ${copyBatch}`;
    const deepest = Math.max(0, ...data.map((io) => io.inFlight));
    if (deepest > queueDepth) return `${deepest} copy I/Os in flight, the queue depth is ${queueDepth}`;
    return undefined;
  },

  /** Each map's changed sectors are written as one I/O per run of contiguous sectors, once, before the flush that commits them. */
  'map sectors are written a run at a time': (c, call) => {
    const layout = layoutOf(c.geometry, extentCount(c.geometry));
    const size = c.geometry.sectorSize;
    const maps = [layout.deltaSector, layout.protectedSector].map((first) => [first * size, (first + layout.mapSectors) * size] as const);
    let commit: Io[] = [];
    const commits: Io[][] = [commit];
    for (const io of call.ios) {
      if (io.device !== 'meta') continue;
      if (io.op === 'flush') commits.push((commit = []));
      else if (io.op === 'write' && !io.fua) commit.push(io);
    }
    for (const writes of commits) {
      for (const [start, end] of maps) {
        const sorted = byOffset(writes.filter((io) => io.offset >= start && io.offset < end));
        if (sorted.some((io, i) => i > 0 && sorted[i - 1]!.offset + sorted[i - 1]!.length >= io.offset)) return 'map sectors written in pieces, or twice, before one flush';
      }
    }
    return undefined;
  },

  /** A host read during a restore reads each run of extents served by one device with one I/O. */
  'a host read reads each run from one device with one I/O': (_c, call) => {
    if (call.name !== 'readSource' || call.during === 'fractured') return undefined;
    const pieces = (['source', 'clone'] as const).some((device) => adjacent(call.ios.filter((io) => io.device === device && io.op === 'read')).length > 0);
    return pieces ? 'one run read from one device in pieces' : undefined;
  },

  /**
   * A host write during a protected restore reads from the clone only the extents it touches and
   * does not cover whole (what it overwrites needs no copy), each run with one I/O (up to the copy limit).
   */
  'a host write reads from the clone only what it does not overwrite': (c, call) => {
    if (call.name !== 'writeSource' || call.during !== 'protected') return undefined;
    const reads = call.ios.filter((io) => io.device === 'clone' && io.op === 'read');
    const { first, last } = extentsOf(c.geometry, call.offset, call.length);
    const partial = (e: number) => {
      const r = extentRange(c.geometry, e);
      return e >= first && e <= last && !(call.offset <= r.offset && call.offset + call.length >= r.offset + r.length);
    };
    if (reads.some((io) => range(extentsOf(c.geometry, io.offset, io.length)).some((e) => !partial(e)))) return 'the clone was read where the write covers the extent whole, or does not touch it';
    if (adjacent(reads).some(([a]) => a.length < copyLimit(c))) return 'one run read from the clone in pieces';
    return undefined;
  },

  /** A host write during a protected restore to extents it already protected goes straight through: its data, one write. */
  'a host write to protected extents is its data alone': (_c, call) =>
    call.name === 'writeSource' && call.during === 'protected' && call.protectedBefore && !(call.ios.length === 1 && call.ios[0]!.device === 'source' && call.ios[0]!.op === 'write')
      ? 'more I/O than the data write'
      : undefined,

  /**
   * The host's flush flushes the metadata only when it made P bits durable (a map write before
   * it), and the clone only in an unprotected restore (whose host writes went to the clone too).
   */
  'a host flush flushes only what holds its writes': (_c, call) => {
    if (call.name !== 'flushSource') return undefined;
    if (call.during !== 'unprotected' && call.ios.some((io) => io.device === 'clone')) return 'the clone was flushed';
    const metaFlush = call.ios.findIndex((io) => io.device === 'meta' && io.op === 'flush');
    if (metaFlush >= 0 && !call.ios.slice(0, metaFlush).some((io) => io.device === 'meta' && io.op === 'write')) return 'the metadata was flushed with nothing written';
    return undefined;
  },
};

function range({ first, last }: { first: number; last: number }): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Every promise broken in one run, each with the call that broke it. */
function broken(c: IoCase, calls: readonly Call[]): string[] {
  return Object.entries(PROMISES).flatMap(([name, check]) =>
    calls.flatMap((call, i) => {
      const wrong = check(c, call);
      return wrong === undefined ? [] : [`${name}: ${wrong}\n  ${show(call, i)}`];
    }),
  );
}

/**
 * Host writes during a protected restore before the copier reaches them, then the host's flush:
 * what the harness's workloads rarely draw together. On small volumes, writes several extents long
 * with both ends partial (what a host write may read from the clone); on maps of several sectors,
 * writes near map-sector boundaries in any order (the P sectors the flush writes, with
 * deferProtection, come in the order the host wrote them).
 */
function writesFirstArb(geometry: Geometry, differ: fc.Arbitrary<InitialState['differ']>, sector: fc.Arbitrary<number>, maxSectors: number) {
  const sectors = geometry.volumeSize / geometry.sectorSize;
  const write = fc.record({ sector, length: fc.integer({ min: 1, max: maxSectors }), pattern: fc.nat({ max: 255 }) }).map(
    ({ sector: at, length, pattern }): HostOp => ({ op: 'write', volume: 'source', sector: Math.min(at, sectors - 1), sectors: Math.min(length, sectors - Math.min(at, sectors - 1)), pattern }),
  );
  return fc.record({
    geometry: fc.constant(geometry),
    initial: differ.map((d): InitialState => ({ differ: d, delta: 'exact' })),
    workload: fc.array(write, { minLength: 1, maxLength: 4 }).map((writes): HostOp[] => [{ op: 'startRestore', protect: true }, ...writes, { op: 'flush', volume: 'source' }]),
  });
}

/** The harness's cases (now and then with maps of several sectors), and writes first; options as shipped, deferProtection either way. */
const ioCaseArb: fc.Arbitrary<IoCase> = fc
  .oneof(
    { weight: 4, arbitrary: geometryArb.chain((geometry) => fc.record({ geometry: fc.constant(geometry), initial: initialArb(geometry), workload: workloadArb(geometry) })) },
    { weight: 1, arbitrary: largeGeometryArb.chain(largeCaseArb) },
    { weight: 1, arbitrary: geometryArb.chain((g) => writesFirstArb(g, fc.constant('all'), fc.nat({ max: g.volumeSize / g.sectorSize - 1 }), 3 * g.extentSectors)) },
    {
      weight: 1,
      arbitrary: largeGeometryArb.chain((g) => writesFirstArb(g, fc.uniqueArray(hotExtentArb(extentCount(g)), { minLength: 1, maxLength: 6 }), hotExtentArb(extentCount(g)), 2)),
    },
  )
  .chain(({ geometry, initial, workload }) =>
    fc.record({
      geometry: fc.constant(geometry),
      initial: fc.constant(initial),
      workload: fc.constant(workload),
      options: fc.tuple(engineOptionsArb(geometry), fc.boolean()).map(([options, deferProtection]): ReferenceOptions => ({ ...options, deferProtection })),
    }),
  );

describe('the shape of the reference engine’s I/O', () => {
  it(`keeps every I/O promise over ${RUNS} random cases`, async () => {
    await fc.assert(
      fc.asyncProperty(ioCaseArb, async (c) => {
        expect(broken(c, await record(c))).toEqual([]);
      }),
      { seed: numericSeed(SEED), numRuns: RUNS },
    );
  });
});
