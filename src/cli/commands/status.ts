/** `prestore status`: what an image pair's metadata says, read without changing anything. */
import { parse } from '../args.js';
import type { Command } from '../command.js';
import { checkJsonTarget, humanStream, requiredPath, writeJson } from '../image-support.js';
import { formatBytes } from '../../images/sizes.js';
import { table } from '../summary.js';

const status: Command = {
  name: 'status',
  summary: 'show an image pair\'s state: restoring or not, extents remaining, both maps\' counts',
  help: `Usage: prestore status --meta FILE [--json FILE]

Reports the pair FILE (made by prestore init) describes: its state (fractured, or restoring and
whether protected), the extents still to copy, the set bits of the clone delta map (D) and the
protected restore map (P), the checks of both images, and the images' locks. Nothing is written,
and it works while a restore runs (then the figures are as of that restore's last commit).

The checks are what they say: both images' sizes, their fingerprints (samples, not every byte:
prestore verify compares every byte), and every map sector's checksum.

Options:
  --meta FILE               the metadata file (required)
  --json FILE               write the status as JSON (- for standard output)
  -h, --help                this help

Exit status: 0 reported and the pair is as its metadata says; 2 it is not (a map sector fails
its checksum, an image is missing, resized or different, the source changed since init; the
status is still printed when it can be), or bad usage or bad input (not a metadata file).`,
  async run(argv, io) {
    const { values } = parse(argv, { meta: { type: 'string' }, json: { type: 'string' } });
    const meta = requiredPath('meta', values.meta, io);
    await checkJsonTarget(values.json, io);
    // The image code (the reference engine with it) is loaded when the command runs, not for its help.
    const [{ pairStatus }, { lockDirectory }] = await Promise.all([import('../../images/status.js'), import('../../images/lock.js')]);
    const s = await pairStatus(meta, lockDirectory(io.env));
    await writeJson(values.json, s, io);
    const state = s.state === 'fractured' ? 'fractured (no restore in progress)' : `restoring (${s.protect === true ? 'protected' : 'unprotected'})`;
    humanStream(values.json, io).write(
      [
        `pair ${meta}`,
        ...table(
          [
            ['source', `${s.source.path} (${formatBytes(s.source.size)}): ${s.source.check}`],
            ['clone', `${s.clone.path} (${formatBytes(s.clone.size)}): ${s.clone.check}`],
            ['geometry', `${s.extents} extents of ${formatBytes(s.extentBytes)}, ${s.geometry.sectorSize}-byte sectors`],
            ['state', state],
            ['protect', s.protect === null ? '-' : String(s.protect)],
            ['remaining', `${s.extentsRemaining} extents (${formatBytes(s.bytesRemaining)})`],
            ['D (delta)', `${s.deltaCount} extents set`],
            ['P (protected)', `${s.protectedCount} extents set`],
            ['lock', s.lock],
          ],
          2,
        ),
        '',
      ].join('\n'),
    );
    for (const problem of s.problems) io.stderr.write(`prestore status: ${problem}\n`);
    return s.problems.length === 0 ? 0 : 2;
  },
};

export default status;
