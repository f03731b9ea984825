/** `prestore restore`: a protected (or unprotected) restore of a real image pair, run to the end. */
import type { Command } from '../command.js';
import { runRestoreCommand, SESSION_EXIT_HELP, SESSION_OPTIONS_HELP } from '../image-session.js';

const restore: Command = {
  name: 'restore',
  summary: 'restore a source image from its clone (image files made ready by prestore init)',
  help: `Usage: prestore restore --meta FILE [--unprotected] [--verify] [--batch SIZE] [--json FILE]

Restores the source image from the clone image of the pair that FILE (made by prestore init)
describes: starts the restore, durably, then runs the copier, which copies only the extents the
delta map marks, until the source equals the clone; then a final flush. A progress bar (bytes,
rate, ETA) shows on a terminal, not in CI.

Before anything is written the pair is checked: both images must have the recorded sizes, the
clone its recorded fingerprint, the source the fingerprint recorded at init (or the clone's,
after an earlier restore), and every sector of both maps its checksum (a damaged map is refused,
naming the map and the sector: nothing is restored from it). Fingerprints sample the images; a
change that misses every sample is caught only by --verify or prestore verify.

Both images are locked, whatever metadata file names them: a second restore of either image
(through this FILE or another) is refused while this one runs. The locks are files named by
each image's device and inode in $PRESTORE_LOCK_DIR, else /run/lock, else the temporary
directory; a lock left by a process that no longer runs is cleared with a notice.

Ctrl-C (SIGINT) or SIGTERM stops the copier between two steps and prints how to resume. A
process killed at any moment, even with SIGKILL, loses nothing: prestore resume finishes it.

Options:
  --unprotected             an unprotected restore (the clone is still not written: this tool
                            issues no host writes for it to mirror); default protected
${SESSION_OPTIONS_HELP}

${SESSION_EXIT_HELP}

Example:
  prestore init --source vm.img --clone vm-snap.img --meta vm.meta --compare
  prestore restore --meta vm.meta`,
  run: (argv, io) => runRestoreCommand('restore', argv, io),
};

export default restore;
