/** `--device-profile`: a preset or a file; anything else is bad input, exit 2, naming what is wrong. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetProfile } from '../devices/device-profile.js';
import { deviceProfileFlag } from './device-profile-arg.js';
import { runCaptured } from './text-sink.js';

describe('--device-profile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-profile-'));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ atomicWriteBytes: 1000 }));
  writeFileSync(join(dir, 'good.json'), JSON.stringify({ name: 'mine', fua: 'ignored' }));

  it('takes a preset by name or a profile file', async () => {
    expect(await deviceProfileFlag('nvme-4k-atomic', dir)).toBe(presetProfile('nvme-4k-atomic'));
    expect(await deviceProfileFlag('good.json', dir)).toMatchObject({ name: 'mine', fua: 'ignored' });
    expect(await deviceProfileFlag(undefined, dir)).toBeUndefined();
  });

  for (const [command, extra] of [['exhaust', ['protected-restore']], ['explore', []], ['start', []], ['replay', ['c1.x']], ['mutants', ['clone-write']]] as const) {
    it(`${command}: an unknown preset or a malformed file is exit 2, naming it`, async () => {
      const unknown = await runCaptured([command, ...extra, '--device-profile', 'floppy'], {}, dir);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toMatch(/no preset named floppy \(the presets are volatile-cache, /);
      const bad = await runCaptured([command, ...extra, '--device-profile', 'bad.json'], {}, dir);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(/--device-profile bad\.json: atomicWriteBytes: 1000 must be a multiple of 512/);
    });
  }
});
