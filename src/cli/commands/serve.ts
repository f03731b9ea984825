/** `prestore serve`: the source image of a pair as an NBD export, usable while it is restored. */
import { setTimeout as delay } from 'node:timers/promises';
import { integerFlag, parse } from '../args.js';
import { type Command, type CommandIo, UsageError } from '../command.js';
import { interruptOnSignals, requiredPath } from '../image-support.js';
import { seamsOf } from '../seams.js';
import { lockDirectory } from '../../images/lock.js';
import { formatBytes, parseSize } from '../../images/sizes.js';
import { DEFAULT_SERVE_BATCH, MAX_YIELD_MS, QUIET_MS, type ServeReady, servePair } from '../../nbd/serve-pair.js';
import type { ListenAt } from '../../nbd/server.js';

const serve: Command = {
  name: 'serve',
  summary: 'serve a pair\'s source image over NBD, usable while it is restored (instant restore)',
  help: `Usage: prestore serve --meta FILE (--socket PATH | --port N [--bind ADDR])
                      [--restore [--unprotected]] [--rate SIZE] [--batch SIZE]

Serves the source image of the pair FILE describes (made by prestore init) as an NBD export
(fixed newstyle handshake; READ, WRITE, FLUSH, FUA, TRIM, WRITE_ZEROES), through the reference
engine. Any NBD client can use it: qemu (nbd+unix:///?socket=PATH or nbd://127.0.0.1:N), the
Linux kernel's nbd-client, libnbd's nbdcopy and nbdinfo.

While a restore is in progress the volume is usable at once: reads of extents not yet copied
come from the clone, host writes are protected by the P map (the copier never overwrites them),
and FLUSH makes every answered write durable. The background copier yields to host I/O (it
waits for ${QUIET_MS} ms of quiet, but at most ${MAX_YIELD_MS / 1000} s, so the restore always advances) and keeps to --rate.
Its progress shows here and in prestore status. The clone is never written.

A server killed at any moment (SIGKILL, power loss) loses no flushed write: run the same
command again (or prestore resume) and the restore continues where its maps say.

Once a served restore has completed, --restore is refused (exit 2) rather than start another
that would copy the clone over the hosts' writes: serve without it. prestore restore rolls the
source back to the clone if that is wanted; a restore from a new snapshot needs a fresh metadata
file (prestore init --compare --force).

Options:
  --meta FILE          the metadata file made by prestore init (required)
  --socket PATH        listen on a unix socket (a stale one left by a killed server is replaced)
  --port N             listen on TCP port N (0: any free port, printed); no TLS, no
                       authentication, so only on --bind ADDR (default 127.0.0.1)
  --restore            start a protected restore if none is in progress and the source was
                       not served since init (one in progress is served and continued in any case)
  --unprotected        with --restore: an unprotected restore; it would mirror host writes to
                       the clone, which prestore never writes, so the export is read-only
                       until it completes (connections made after that may write)
  --rate SIZE          copier bytes per second at most, e.g. 50M (default: no limit)
  --batch SIZE         bytes the copier moves per step (default ${formatBytes(DEFAULT_SERVE_BATCH).replace(' ', '')}): a host request
                       arriving mid-step waits for it; each step ends with two flushes
  -h, --help           this help

Ctrl-C (SIGINT) or SIGTERM shuts down cleanly: each connection's request in hand is finished,
the copier stops after its step, the source is flushed, the lock released.

Exit status: 0 shut down cleanly on SIGINT or SIGTERM (a restore in progress is saved: serve
again or prestore resume), 2 bad usage, a refused pair (wrong or resized image, locked), a
socket or port in use, or an I/O error; 130 or 143 a second SIGINT or SIGTERM stopped it at once
(nothing is lost either way).

Example:
  prestore init --source vm.img --clone vm-snap.img --meta vm.meta --compare
  prestore serve --meta vm.meta --socket /run/vm.sock --restore --rate 200M &
  qemu-system-x86_64 -drive file=nbd+unix:///?socket=/run/vm.sock,format=raw ...`,
  async run(argv, io) {
    const { values } = parse(argv, {
      meta: { type: 'string' },
      socket: { type: 'string' },
      port: { type: 'string' },
      bind: { type: 'string' },
      restore: { type: 'boolean' },
      unprotected: { type: 'boolean' },
      rate: { type: 'string' },
      batch: { type: 'string' },
    });
    const meta = requiredPath('meta', values.meta, io);
    const listen = listenAt(values, io);
    if (values.unprotected === true && values.restore !== true) throw new UsageError('--unprotected says how to start a restore: it needs --restore');
    const rate = values.rate === undefined ? undefined : parseSize('rate', values.rate.replace(/\/s$/i, ''));
    const batchBytes = values.batch === undefined ? undefined : parseSize('batch', values.batch);
    const now = seamsOf(io).now;
    const interrupt = interruptOnSignals(io, undefined, 'shutting down: finishing the requests in hand, then flushing');
    const out = io.stdout;
    let decile = 0;
    let copyStarted = now();
    // The rate is measured from the first step, which the rate limit lets through at once.
    let first: { at: number; done: number } | undefined;
    try {
      const outcome = await servePair({
        meta,
        listen,
        restore: values.restore === true,
        protect: values.unprotected !== true,
        ...(rate === undefined ? {} : { rate }),
        ...(batchBytes === undefined ? {} : { batchBytes }),
        signal: interrupt.signal,
        now,
        sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
        lockDir: lockDirectory(io.env),
        notice: (m) => io.stderr.write(`prestore serve: ${m}\n`),
        onLock: (lock) => interrupt.holdLock(lock),
        onReady: (ready) => {
          copyStarted = now();
          out.write(readyText(ready, meta, rate));
        },
        onProgress: (remaining, total) => {
          const done = total - remaining;
          first ??= { at: now(), done };
          const reached = total > 0 ? Math.floor((10 * done) / total) : 10;
          if (reached <= decile || reached >= 10) return;
          decile = reached;
          const seconds = (now() - first.at) / 1000;
          const rateText = seconds > 0 && done > first.done ? `, ${formatBytes(Math.round((done - first.done) / seconds))}/s` : '';
          out.write(`restore: ${decile * 10}% copied (${formatBytes(done)} of ${formatBytes(total)}${rateText})\n`);
        },
        onCopierEnd: (end) => {
          if (end.kind === 'complete') out.write(`restore: complete in ${((now() - copyStarted) / 1000).toFixed(1)} s; the pair is fractured again, and serving goes on\n`);
          else if (end.kind === 'failed') io.stderr.write(`prestore serve: the copier stopped: ${(end.error as Error).message ?? String(end.error)}; host I/O goes on, and serving again (or prestore resume) continues the restore\n`);
        },
        events: {
          onConnect: (id) => out.write(`connection ${id}: opened\n`),
          onDisconnect: (id, how) => out.write(`connection ${id}: ${how}\n`),
          onError: (id, what, e) => io.stderr.write(`prestore serve: connection ${id}: ${what} failed, the client was answered EIO: ${(e as Error).message ?? String(e)}\n`),
        },
      });
      const { host } = outcome;
      out.write(
        `stopped: ${host.reads} reads (${formatBytes(host.bytesRead)}), ${host.writes} writes (${formatBytes(host.bytesWritten)}), ${host.flushes} flushes served; the source is flushed\n` +
          (outcome.state === 'restoring'
            ? `the restore is saved with ${formatBytes(outcome.bytesRemaining)} left to copy; continue it with prestore serve --meta ${meta} ... or prestore resume --meta ${meta}\n`
            : `the pair is fractured (no restore in progress)\n`),
      );
      return 0;
    } finally {
      interrupt.dispose();
    }
  },
};

function listenAt(values: { socket?: string; port?: string; bind?: string }, io: CommandIo): ListenAt {
  if ((values.socket === undefined) === (values.port === undefined)) throw new UsageError('give one of --socket PATH and --port N: where clients connect');
  if (values.socket !== undefined) {
    if (values.bind !== undefined) throw new UsageError('--bind goes with --port, not --socket');
    return { socket: requiredPath('socket', values.socket, io) };
  }
  return { port: integerFlag('port', values.port, 0, 0, 65535), host: values.bind ?? '127.0.0.1' };
}

function readyText(ready: ServeReady, meta: string, rate: number | undefined): string {
  const { header } = ready;
  const lines = [
    `serving ${header.source.path} (${formatBytes(header.geometry.volumeSize)}) as NBD export "${ready.exportName}", ${ready.readOnly ? 'read-only' : 'read-write'}`,
    `  connect to ${ready.uri}`,
  ];
  if (ready.restore === undefined) {
    lines.push('  restore: none in progress (the source is served as it is; writes are recorded in the delta map)');
  } else {
    const how = ready.restore.protect ? 'protected' : 'unprotected (read-only while it runs: it would mirror writes to the clone)';
    lines.push(
      `  restore: ${how}, ${ready.restore.startedNow ? 'started now' : 'continued'}; ${formatBytes(ready.restore.bytesToCopy)} to copy from ${header.clone.path}` +
        `${rate === undefined ? '' : `, at most ${formatBytes(rate)}/s`}`,
      `  reads of extents not yet copied come from the clone; progress: here, and prestore status --meta ${meta}`,
    );
  }
  lines.push('  Ctrl-C or SIGTERM shuts down cleanly');
  return `${lines.join('\n')}\n`;
}

export default serve;
