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
protected restore map (P), the checks of both images, and the lock. Nothing is written, and it
works while a restore runs (then the figures are as of that restore's last commit).

Options:
  --meta FILE               the metadata file (required)
  --json FILE               write the status as JSON (- for standard output)
  -h, --help                this help

Exit status: 0 reported, 2 bad usage or bad input (not a metadata file, an image missing,
resized or different).`,
  async run(argv, io) {
    const { values } = parse(argv, { meta: { type: 'string' }, json: { type: 'string' } });
    const meta = requiredPath('meta', values.meta, io);
    await checkJsonTarget(values.json, io);
    // The image code (the reference engine with it) is loaded when the command runs, not for its help.
    const { pairStatus } = await import('../../images/status.js');
    const s = await pairStatus(meta);
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
    return 0;
  },
};

export default status;
