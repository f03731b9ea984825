/** `prestore mutants` as a user runs it: the list, one mutant killed with its JSON row, bad names. */
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { exhaust } from '../harness/exhaust.js';
import { explore } from '../harness/explore.js';
import { mutants } from '../mutants/catalogue.js';
import { hunt } from '../mutants/hunt.js';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const [out, err]: string[][] = [[], []];
  const sink = (to: string[]) => ({ write: (s: string) => to.push(String(s)) > 0 }) as unknown as CommandIo['stdout'];
  const code = await runCli(argv, { stdout: sink(out), stderr: sink(err), env: {} });
  return { code, out: out.join(''), err: err.join('') };
}

describe('prestore mutants', () => {
  it('lists every mutant with the rule expected to catch it', async () => {
    const r = await cli(['mutants', '--list']);
    expect(r.code).toBe(0);
    for (const m of mutants) expect(r.out).toMatch(new RegExp(`${m.name}\\s+${m.rule}\\s`));
  });

  it('kills the ones asked for and writes the kill-matrix rows as JSON', { timeout: 60_000 }, async () => {
    const r = await cli(['mutants', 'reads-from-source', 'eager-start', '--json', '-']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { mutant: string; killed: boolean; casesToKill: number; rule: string; description: string; elapsedMs: number }[];
    expect(rows.map((row) => [row.mutant, row.killed, row.rule])).toEqual([
      ['reads-from-source', true, 'reads-right'],
      ['eager-start', true, 'atomic-start'],
    ]);
    expect(rows.every((row) => row.casesToKill > 0 && row.description.length > 0 && row.elapsedMs >= 0)).toBe(true);
    expect(r.err).toContain('every mutant was killed');
  });

  it('--runs 0 hunts with the scenarios only', async () => {
    expect(await hunt(referenceEngine, { explore, exhaust }, { seed: 's', scenarios: [], runs: 0 })).toEqual({ killed: false, cases: 0 });
  });

  it('refuses an unknown mutant, naming the ones there are', async () => {
    const r = await cli(['mutants', 'no-such-bug']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no mutant named no-such-bug; the mutants are clone-write, /);
  });
});
