/** `prestore init`: the metadata file for a fractured pair of image files. */
import { parse } from '../args.js';
import { type Command, UsageError } from '../command.js';
import { seamsOf } from '../seams.js';
import { requiredPath } from '../image-support.js';
import { DEFAULT_EXTENT_BYTES, initPair } from '../../images/init.js';
import { lockDirectory } from '../../images/lock.js';
import { byteProgress, type ByteProgress } from '../byte-progress.js';
import { formatBytes, parseSize } from '../../images/sizes.js';

const NEEDS_DELTA = `init needs --compare or --all-differ. The delta map must never under-approximate: a clear
bit promises the extent is equal on both images, and a restore never copies it. prestore cannot
know how the images differ without reading them, so choose: --compare reads both images and
marks exactly the extents that differ; --all-differ marks every extent without reading (the
restore then copies everything)`;

const init: Command = {
  name: 'init',
  summary: 'create the metadata file for a fractured pair of image files (source and clone)',
  help: `Usage: prestore init --source S --clone C --meta M (--compare | --all-differ)
                     [--extent SIZE] [--force]

Creates metadata file M for the pair of raw image files S (the source, to be restored) and C
(its clone, the image to restore from), fractured: the engine's clone delta map marks where the
two may differ. M begins with a header recording the geometry and both images (absolute path,
size, fingerprint), so a wrong or resized image is refused later; the engine's metadata follows,
its maps checksummed sector by sector. Nothing is written until every check has passed, and M
appears whole or not at all. Both images are locked meanwhile (see prestore restore --help).

The fingerprint samples each image (its first and last MiB and 256 spots between); a later
change that misses every sample goes unseen by it. prestore verify compares every byte.

The delta map, one of (required):
  --compare                 read both images and mark the extents that differ (exact)
  --all-differ              mark every extent (no reading; the restore copies everything)

Options:
  --source FILE             the source image (required)
  --clone FILE              the clone image, same size (required)
  --meta FILE               the metadata file to create (required)
  --extent SIZE             the tracking unit: one map bit per extent, e.g. 4K, 64K, 1M; a
                            multiple of the 512-byte sector (default ${formatBytes(DEFAULT_EXTENT_BYTES).replace(' ', '')})
  --force                   replace an existing M (never one whose restore is in progress,
                            nor anything that is not a regular file)
  -h, --help                this help

Exit status: 0 created, 2 bad usage or bad input (images missing or of different sizes, M
exists, a restore of M in progress, an image locked by a running restore), nothing written.

Example:
  prestore init --source disk.img --clone disk-clone.img --meta disk.meta --compare`,
  async run(argv, io) {
    const { values } = parse(argv, {
      source: { type: 'string' },
      clone: { type: 'string' },
      meta: { type: 'string' },
      extent: { type: 'string' },
      compare: { type: 'boolean' },
      'all-differ': { type: 'boolean' },
      force: { type: 'boolean' },
    });
    const source = requiredPath('source', values.source, io);
    const clone = requiredPath('clone', values.clone, io);
    const meta = requiredPath('meta', values.meta, io);
    if (values.compare === true && values['all-differ'] === true) throw new UsageError('--compare and --all-differ exclude each other; pick one');
    if (values.compare !== true && values['all-differ'] !== true) throw new UsageError(NEEDS_DELTA);
    const extentBytes = values.extent === undefined ? DEFAULT_EXTENT_BYTES : parseSize('extent', values.extent);
    const now = seamsOf(io).now;
    let bar: ByteProgress | undefined;
    try {
      const result = await initPair({
        source,
        clone,
        meta,
        extentBytes,
        delta: values.compare === true ? 'compare' : 'all',
        force: values.force === true,
        lockDir: lockDirectory(io.env),
        notice: (m) => io.stderr.write(`prestore init: ${m}\n`),
        onCompare: (done, total) => {
          bar ??= byteProgress(io, 'compare', total, now);
          bar.update(done);
        },
      });
      bar?.end();
      const { geometry } = result.header;
      io.stdout.write(
        `created ${meta}\n` +
          `  pair      ${formatBytes(geometry.volumeSize)}, ${result.extents} extents of ${formatBytes(geometry.extentSectors * geometry.sectorSize)}\n` +
          `  source    ${source}\n  clone     ${clone}\n` +
          `  differ    ${result.differing} extents ${values.compare === true ? '(compared)' : '(all, --all-differ)'}\n` +
          `next: prestore restore --meta ${meta}\n`,
      );
      return 0;
    } finally {
      bar?.end();
    }
  },
};

export default init;
