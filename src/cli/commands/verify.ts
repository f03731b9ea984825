/** `prestore verify`: source and clone of an image pair compared byte for byte. */
import { parse } from '../args.js';
import type { Command } from '../command.js';
import { seamsOf } from '../seams.js';
import { byteProgress, type ByteProgress } from '../byte-progress.js';
import { checkJsonTarget, humanStream, interruptOnSignals, requiredPath, writeJson } from '../image-support.js';
import { lockDirectory } from '../../images/lock.js';
import { formatBytes } from '../../images/sizes.js';
import { describeDifference, verifyPair } from '../../images/verify.js';

const verify: Command = {
  name: 'verify',
  summary: 'compare an image pair\'s source and clone byte for byte (after a restore they must be equal)',
  help: `Usage: prestore verify --meta FILE [--json FILE]

Compares the source and clone images of the pair FILE (made by prestore init) describes, every
byte, with a progress bar on a terminal. This is the check behind the words "source equals
clone": the fingerprints that restore and status check only sample the images.

After a completed restore (protected or not; this tool issues no host writes) the two must be
equal. Before one, they differ where the delta map says; a difference in an extent the delta map
does NOT mark is a change made behind prestore's back, which no restore would copy, and is named
as such. The pair is checked as for restore (sizes, the clone's fingerprint, the maps'
checksums) and locked while it is read, so no restore starts meanwhile; a pair with a restore in
progress is refused (finish it with prestore resume --meta FILE --verify).

Options:
  --meta FILE               the metadata file (required)
  --json FILE               write the result as JSON (- for standard output): equal,
                            firstDifference (byte offset, null when equal), differingExtents,
                            uncoveredExtents (differing with a clear delta-map bit), bytesCompared
  -h, --help                this help

Exit status: 0 source equals clone, byte for byte; 1 they differ (the first differing byte
offset is named); 2 bad usage or bad input (not a metadata file, an image missing, resized or
different, a damaged map, a restore in progress or running).`,
  async run(argv, io) {
    const { values } = parse(argv, { meta: { type: 'string' }, json: { type: 'string' } });
    const meta = requiredPath('meta', values.meta, io);
    await checkJsonTarget(values.json, io);
    const now = seamsOf(io).now;
    const interrupt = interruptOnSignals(io, 'verify stopped; nothing was changed');
    let bar: ByteProgress | undefined;
    try {
      const { header, verification: v } = await verifyPair({
        meta,
        lockDir: lockDirectory(io.env),
        notice: (m) => io.stderr.write(`prestore verify: ${m}\n`),
        onLock: (lock) => interrupt.holdLock(lock),
        onStart: (total) => {
          bar = byteProgress(io, 'verify', total, now);
        },
        onProgress: (done) => bar?.update(done),
      });
      bar?.end();
      await writeJson(values.json, { command: 'verify', meta, source: header.source.path, clone: header.clone.path, ...v }, io);
      if (v.equal) {
        humanStream(values.json, io).write(`verified: ${header.source.path} equals ${header.clone.path}, byte for byte (${formatBytes(v.bytesCompared)} compared)\n`);
        return 0;
      }
      io.stderr.write(`prestore verify: ${describeDifference(header, v)}\n`);
      return 1;
    } finally {
      bar?.end();
      interrupt.dispose();
    }
  },
};

export default verify;
