/**
 * A peek of a device that has not changed since the last one returns the same bytes; every change
 * to what reads see (a write, a power loss, a flush that fails and loses data) makes it read again.
 */
import { describe, expect, it } from 'vitest';
import { CrashError, EioError, FaultLayer } from './fault-layer.js';
import { MemoryDevice } from './memory-device.js';
import { seededRng } from './rng.js';
import { presetProfile } from './device-profile.js';

const SS = 512;
const SECTORS = 8;

describe('peek', () => {
  it('returns the same bytes while the device is unchanged', async () => {
    const l = new FaultLayer({ source: MemoryDevice.zeroed(SECTORS * SS), clone: MemoryDevice.zeroed(SECTORS * SS), meta: MemoryDevice.zeroed(SECTORS * SS) });
    const first = await l.peek('source');
    await l.devices.source.read(0, SS);
    await l.devices.clone.write(0, new Uint8Array(SS).fill(1));
    expect(await l.peek('source')).toBe(first);
    await l.devices.source.write(SS, new Uint8Array(SS).fill(2));
    expect(await l.peek('source')).not.toBe(first);
  });

  it('reads again once a crash state of a recorded run is entered', async () => {
    const zeroed = () => ({ source: MemoryDevice.zeroed(SECTORS * SS), clone: MemoryDevice.zeroed(SECTORS * SS), meta: MemoryDevice.zeroed(SECTORS * SS) });
    const l = new FaultLayer(zeroed(), {}, 'enter');
    const before = await l.peek('source');
    const durable = { source: new Uint8Array(SECTORS * SS).fill(3), clone: new Uint8Array(SECTORS * SS), meta: new Uint8Array(SECTORS * SS) };
    const cached = { device: 'source' as const, point: 0, offset: 0, data: new Uint8Array(SS).fill(4), fua: false, inFlight: false };
    await l.enterCrash({ entry: { point: 1, device: 'meta', op: 'flush', offset: 0, length: 0, fua: false, digest: '', outcome: 'crash' }, durable, pending: [cached] });
    const after = await l.peek('source');
    expect(after).not.toBe(before);
    expect([after[0], after[SS]]).toEqual([4, 3]);
  });

  it.each([
    ['in issue order', false],
    ['in flight', true],
  ])('always shows what a read of the whole device shows, through writes, flushes, failed flushes and power losses (%s)', async (_, inFlight) => {
    const rng = seededRng('peek');
    for (let run = 0; run < 6; run++) {
      const backends = { source: MemoryDevice.zeroed(SECTORS * SS), clone: MemoryDevice.zeroed(SECTORS * SS), meta: MemoryDevice.zeroed(SECTORS * SS) };
      const eio = Array.from({ length: 6 }, () => ({ point: rng.below(30), sticky: false }));
      const l = new FaultLayer(backends, { eio }, `peek/${run}`, false, inFlight ? {} : undefined, presetProfile('flush-error-loses-data'));
      let devices = l.devices;
      for (let op = 0; op < 30; op++) {
        const x = rng.next();
        try {
          if (x < 0.5) {
            const at = rng.below(SECTORS);
            await devices.source.write(at * SS, new Uint8Array(SS * Math.min(2, SECTORS - at)).fill(1 + rng.below(250)), { fua: rng.bool() && rng.bool() });
          } else if (x < 0.75) await devices.source.flush();
          else if (x < 0.85) {
            await l.powerLoss(rng.bool() ? 'drop' : 'torn');
            devices = l.restart();
          }
        } catch (e) {
          if (!(e instanceof EioError) && !(e instanceof CrashError)) throw e;
        }
        if (rng.bool()) continue;
        // What a read sees, without taking an I/O point: the medium, and over it each acknowledged cached write in order.
        const view = backends.source.bytes.slice();
        for (const w of l.pending()) if (w.device === 'source' && !w.inFlight) view.set(w.data, w.offset);
        expect(await l.peek('source'), `run ${run}, after op ${op}`).toEqual(view);
      }
    }
  });
});
