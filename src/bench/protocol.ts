/**
 * What the stdio protocol costs per I/O: the same crash-free cases (protected restores with 200
 * and with 800 host writes) against the reference engine in process and against the same engine
 * served over the protocol by a child process, side by side, alternating rounds. The cost per I/O
 * is the marginal one, (time for 800 - time for 200) / (I/O points for 800 - for 200), so the
 * start-up of the engine processes (one per format, per open, per metadataSize) is left out;
 * `processStartMs` reports it on its own.
 */
import { fileURLToPath } from 'node:url';
import { referenceEngine } from '../engine/reference/index.js';
import type { Case } from '../harness/case.js';
import { restoreWithWrites } from './harness.js';
import { runCase } from '../harness/run-case.js';
import { stdioEngine } from '../protocol/stdio-engine.js';

const SERVED = fileURLToPath(new URL('../protocol/serve-reference.js', import.meta.url));


export interface ProtocolBench {
  inProcessUsPerIo: number;
  stdioUsPerIo: number;
  overheadUsPerIo: number;
  ratio: number;
  processStartMs: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchProtocol(rounds = 5): Promise<ProtocolBench> {
  const geometry = { sectorSize: 512, extentSectors: 4, volumeSize: 64 * 512 };
  const cases = [200, 800].map((writes): Case => ({ geometry, initial: { differ: 'all', delta: 'exact' }, workload: restoreWithWrites(writes, 64), crashes: [], eio: [] }));
  const served = stdioEngine(`node ${SERVED}`);
  const engines = { local: referenceEngine, stdio: served } as const;
  const times = { local: [[], []] as number[][], stdio: [[], []] as number[][] };
  const points = [0, 0];
  for (let r = 0; r < rounds; r++) {
    for (const side of ['local', 'stdio'] as const) {
      for (const [i, c] of cases.entries()) {
        const started = performance.now();
        points[i] = (await runCase(engines[side], c, { seed: 'bench' })).ioPoints;
        times[side][i]!.push(performance.now() - started);
      }
    }
  }
  const usPerIo = (side: 'local' | 'stdio') => ((median(times[side][1]!) - median(times[side][0]!)) * 1000) / (points[1]! - points[0]!);
  const fixed = (side: 'local' | 'stdio') => median(times[side][0]!) - (usPerIo(side) * points[0]!) / 1000;
  return {
    inProcessUsPerIo: usPerIo('local'),
    stdioUsPerIo: usPerIo('stdio'),
    overheadUsPerIo: usPerIo('stdio') - usPerIo('local'),
    ratio: usPerIo('stdio') / usPerIo('local'),
    processStartMs: fixed('stdio') - fixed('local'),
  };
}
