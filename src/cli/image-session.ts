/** The body shared by `prestore restore` and `prestore resume`. */
import { parse } from './args.js';
import type { CommandIo } from './command.js';
import { seamsOf } from './seams.js';
import { checkJsonTarget, EXIT_SIGNAL, humanStream, interruptOnSignals, requiredPath, writeJson } from './image-support.js';
import { DEFAULT_BATCH_BYTES } from '../images/engine.js';
import { byteProgress, type ByteProgress } from './byte-progress.js';
import { lockDirectory } from '../images/lock.js';
import { runSession } from '../images/session.js';
import { formatBytes, parseSize } from '../images/sizes.js';
import { describeDifference } from '../images/verify.js';

export const SESSION_OPTIONS_HELP = `  --meta FILE               the metadata file made by prestore init (required)
  --verify                  once the restore completes, compare source and clone byte for
                            byte (every byte, with a progress bar); exit 1 if they differ,
                            naming the first differing offset
  --batch SIZE              bytes the copier moves per step (default ${formatBytes(DEFAULT_BATCH_BYTES).replace(' ', '')}): each step
                            ends with one flush and one map commit; a crash re-copies at
                            most one step's worth
  --json FILE               write the outcome as JSON (- for standard output)
  -h, --help                this help`;

export const SESSION_EXIT_HELP = `Without --verify, success says what was done: every extent the delta map marked was copied.
It does not claim source equals clone byte for byte; --verify (or prestore verify) checks that.

Exit status: 0 the restore completed (and with --verify, source equals clone byte for byte),
1 with --verify, source and clone differ after the restore, 2 bad usage or a refused pair
(wrong or resized image, corrupt metadata, locked, nothing to resume) or an I/O error (a full
disk included: the restore is saved and prestore resume continues it), 130 stopped by SIGINT,
143 stopped by SIGTERM; in both of those the restore is saved and prestore resume finishes it.
A process killed outright (SIGKILL, power loss) loses nothing either.`;

export async function runRestoreCommand(mode: 'restore' | 'resume', argv: readonly string[], io: CommandIo): Promise<number> {
  const common = { meta: { type: 'string' }, batch: { type: 'string' }, json: { type: 'string' }, verify: { type: 'boolean' } } as const;
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
      lockDir: lockDirectory(io.env),
      signal: interrupt.signal,
      now,
      notice: (m) => io.stderr.write(`prestore ${mode}: ${m}\n`),
      onLock: (lock) => interrupt.holdLock(lock),
      onStart: (total) => {
        bar = byteProgress(io, mode, total, now);
      },
      onProgress: (done) => bar?.update(done),
      verify:
        values.verify === true && {
          onStart: (total) => {
            bar?.end();
            bar = byteProgress(io, 'verify', total, now);
          },
          onProgress: (done) => bar?.update(done),
        },
    });
    bar?.end();
    const { header, verification } = outcome;
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
        verified: verification ?? null,
      },
      io,
    );
    const copied = `${formatBytes(outcome.bytesCopied)} (${outcome.extentsCopied} extents) in ${seconds.toFixed(2)} s (${formatBytes(Math.round(rate))}/s)`;
    if (outcome.outcome === 'complete') {
      const clone = outcome.protect ? 'protected: the clone was not written' : 'unprotected';
      if (verification === undefined) {
        human.write(
          `restore complete: copied every extent the delta map marked, ${copied}; ${clone}\n` +
            `  source and clone not compared byte for byte: prestore verify --meta ${meta} does that\n`,
        );
        return 0;
      }
      if (verification.equal) {
        human.write(
          `restored and verified: ${header.source.path} equals ${header.clone.path}, byte for byte (${formatBytes(verification.bytesCompared)} compared)\n` +
            `  copied ${copied}; ${clone}\n`,
        );
        return 0;
      }
      io.stderr.write(`prestore ${mode}: the restore completed (copied ${copied}), but verification FAILED: ${describeDifference(header, verification)}\n`);
      return 1;
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
