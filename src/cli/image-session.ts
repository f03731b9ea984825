/** The body shared by `prestore restore` and `prestore resume`. */
import { parse } from './args.js';
import type { CommandIo } from './command.js';
import { seamsOf } from './seams.js';
import { checkJsonTarget, EXIT_SIGNAL, humanStream, interruptOnSignals, requiredPath, writeJson } from './image-support.js';
import { DEFAULT_BATCH_BYTES } from '../images/engine.js';
import { byteProgress, type ByteProgress } from './byte-progress.js';
import { runSession } from '../images/session.js';
import { formatBytes, parseSize } from '../images/sizes.js';

export const SESSION_OPTIONS_HELP = `  --meta FILE               the metadata file made by prestore init (required)
  --batch SIZE              bytes the copier moves per step (default ${formatBytes(DEFAULT_BATCH_BYTES).replace(' ', '')}): each step
                            ends with one flush and one map commit; a crash re-copies at
                            most one step's worth
  --json FILE               write the outcome as JSON (- for standard output)
  -h, --help                this help`;

export const SESSION_EXIT_HELP = `Exit status: 0 the restore completed (source equals clone), 2 bad usage or a refused pair
(wrong or resized image, locked, nothing to resume) or an I/O error, 130 stopped by SIGINT,
143 stopped by SIGTERM; in both of those the restore is saved and prestore resume finishes it.
A process killed outright (SIGKILL, power loss) loses nothing either.`;

export async function runRestoreCommand(mode: 'restore' | 'resume', argv: readonly string[], io: CommandIo): Promise<number> {
  const common = { meta: { type: 'string' }, batch: { type: 'string' }, json: { type: 'string' } } as const;
  // `resume` keeps the protection its restore started with, so it has no --unprotected to parse.
  const { values } = mode === 'restore' ? parse(argv, { ...common, unprotected: { type: 'boolean' } }) : parse(argv, common);
  const meta = requiredPath('meta', values.meta, io);
  const batchBytes = values.batch === undefined ? undefined : parseSize('batch', values.batch);
  const json = values.json;
  await checkJsonTarget(json, io);
  const protect = (values as { unprotected?: boolean }).unprotected !== true;
  const now = seamsOf(io).now;
  const human = humanStream(json, io);
  const interrupt = interruptOnSignals(io);
  let bar: ByteProgress | undefined;
  try {
    const outcome = await runSession({
      meta,
      mode,
      protect,
      ...(batchBytes === undefined ? {} : { batchBytes }),
      signal: interrupt.signal,
      now,
      notice: (m) => io.stderr.write(`prestore ${mode}: ${m}\n`),
      onLock: (lock) => interrupt.holdLock(lock),
      onStart: (total) => {
        bar = byteProgress(io, mode, total, now);
      },
      onProgress: (done) => bar?.update(done),
    });
    bar?.end();
    const { header } = outcome;
    const seconds = outcome.elapsedMs / 1000;
    const rate = seconds > 0 ? outcome.bytesCopied / seconds : 0;
    await writeJson(
      json,
      {
        command: mode,
        meta,
        source: header.source.path,
        clone: header.clone.path,
        outcome: outcome.outcome,
        protect: outcome.protect,
        extents: Math.ceil(header.geometry.volumeSize / (header.geometry.extentSectors * header.geometry.sectorSize)),
        extentsAtStart: outcome.extentsAtStart,
        extentsCopied: outcome.extentsCopied,
        bytesCopied: outcome.bytesCopied,
        extentsRemaining: outcome.extentsRemaining,
        elapsedMs: Math.round(outcome.elapsedMs * 10) / 10,
        bytesPerSecond: Math.round(rate),
      },
      io,
    );
    const copied = `${formatBytes(outcome.bytesCopied)} (${outcome.extentsCopied} extents) in ${seconds.toFixed(2)} s (${formatBytes(Math.round(rate))}/s)`;
    if (outcome.outcome === 'complete') {
      human.write(
        `restored: ${header.source.path} now holds the content of ${header.clone.path}\n` +
          `  copied ${copied}; ${outcome.protect ? 'protected: the clone was not written' : 'unprotected'}\n`,
      );
      return 0;
    }
    const sig = interrupt.received() ?? 'SIGINT';
    if (outcome.outcome === 'not-started') {
      io.stderr.write(`prestore ${mode}: ${sig}: stopped before the restore started; nothing was changed\n`);
    } else {
      io.stderr.write(
        `prestore ${mode}: ${sig}: stopped after copying ${copied}; ${outcome.extentsRemaining} extents remain.\n` +
          `The restore is saved in ${meta}; finish it with:\n  prestore resume --meta ${meta}\n`,
      );
    }
    return EXIT_SIGNAL[sig];
  } finally {
    bar?.end();
    interrupt.dispose();
  }
}
