/**
 * `npm run bench`: runs every benchmark section and prints one small table per section;
 * `--json FILE` (or `-` for standard output) also writes `{ <section>: { ...figures } }`;
 * `--only startup,harness` runs just those sections.
 *
 * A section is a name, a title and a function returning flat figures. To add one, append it to
 * SECTIONS.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { benchFaultLayer } from './fault-layer.js';
import { benchHarness } from './harness.js';
import { benchMapCommit } from './map-commit.js';
import { benchProtocol } from './protocol.js';
import { benchWorkers } from './workers.js';
import { benchImage } from './image.js';
import { benchNbd } from './nbd.js';
import { benchStartup } from './startup.js';
import { benchConcurrency } from './concurrency.js';

export type Figures = Record<string, number | string | boolean>;

export interface BenchSection {
  /** The key of the section in the JSON output. */
  readonly name: string;
  readonly title: string;
  run(): Promise<Figures>;
}

export const SECTIONS: readonly BenchSection[] = [
  {
    name: 'startup',
    title: 'start-up of prestore --version and prestore status --help beside a bare node -e 0 (fresh processes, median of 9 rounds)',
    run: async () => ({ ...benchStartup() }),
  },
  {
    name: 'harness',
    title: 'harness: exhaust throughput, checker overhead over the bare engine, exhaust growth for 10x the workload (linear beside naive)',
    run: async () => ({ ...(await benchHarness()) }),
  },
  {
    name: 'mapCommit',
    title: 'map commit cost of the reference engine, 1,000 vs 1,000,000 extents (500 host writes to extents not yet copied, median of 7 rounds)',
    run: async () => ({ ...(await benchMapCommit()) }),
  },
  {
    name: 'protocol',
    title: 'stdio protocol cost: the reference engine in process vs served by a process per instance vs one persistent process in JSON lines (before) vs in binary frames (after); per I/O the marginal cost between crash-free cases of 200 and 800 host writes, median of 5 rounds (range: per round); crash states/s of exhaust protected-restore one crash state at a time and with the default engine lanes (lanes...: after), median of 3',
    run: async () => ({ ...(await benchProtocol()) }),
  },
  {
    name: 'workers',
    title: 'exhaust --workers 2 over one thread (every bundled scenario at depth 2, torn; *Depth1: depth 1, all cache modes, median of 3 rounds)',
    run: async () => ({ ...(await benchWorkers()) }),
  },
  {
    name: 'faultLayer',
    title: 'fault layer overhead (100,000 4 KiB writes, flush every 64, median of 5 rounds)',
    run: async () => ({ ...(await benchFaultLayer()) }),
  },
  {
    name: 'image',
    title: 'image restore vs cp (1 GiB unless PRESTORE_BENCH_IMAGE_SIZE; all extents differ, final flush included; median of 3 rounds)',
    run: async () => ({ ...(await benchImage()) }),
  },
  {
    name: 'nbd',
    title: 'prestore serve over NBD, our own client at queue depth 1: random 4 KiB writes during a restore over none (256 MiB unless PRESTORE_BENCH_NBD_SIZE, 2,000 writes and a flush, then the same again, median of 3 rounds), 4 KiB read latency of an extent not yet copied over a copied one',
    run: async () => ({ ...(await benchNbd()) }),
  },
  {
    name: 'concurrency',
    title: 'exhaust in-flight: crash states/s with concurrency off (reference engine one I/O at a time, in-order devices) and on (queueDepth 4, copyBatch 4, every completion order up to the bound; and on nvme-4k-atomic); and host-alongside-copy with each operation waiting for the one before against host I/O alongside steps (concurrentHost, every completion order), median of 3 rounds',
    run: async () => ({ ...(await benchConcurrency()) }),
  },
];

function show(value: number | string | boolean): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toFixed(value < 10 ? 2 : 1);
}

export function formatTable(title: string, figures: Figures): string {
  const rows = Object.entries(figures).map(([k, v]) => [k, show(v)] as const);
  const kw = Math.max(...rows.map(([k]) => k.length));
  const vw = Math.max(...rows.map(([, v]) => v.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(kw)}  ${v.padStart(vw)}`)].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  let json: string | undefined;
  let only: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json' && argv[i + 1] !== undefined) json = argv[++i];
    else if (a.startsWith('--json=')) json = a.slice('--json='.length);
    else if (a === '--only' && argv[i + 1] !== undefined) only = argv[++i]!.split(',');
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: node dist/src/bench/main.js [--json FILE|-] [--only SECTION,...]\nsections: ${SECTIONS.map((s) => s.name).join(', ')}\n`);
      return 0;
    } else {
      process.stderr.write(`bench: unknown argument ${a}\n`);
      return 2;
    }
  }
  const unknown = only?.filter((name) => !SECTIONS.some((s) => s.name === name)) ?? [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: no section ${unknown.join(', ')} (the sections are ${SECTIONS.map((s) => s.name).join(', ')})\n`);
    return 2;
  }
  const results: Record<string, Figures> = {};
  for (const section of SECTIONS.filter((s) => only === undefined || only.includes(s.name))) {
    results[section.name] = await section.run();
    // With `--json -` the JSON owns standard output; the tables go to standard error.
    (json === '-' ? process.stderr : process.stdout).write(`${formatTable(section.title, results[section.name]!)}\n\n`);
  }
  if (json === '-') process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else if (json !== undefined) writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
