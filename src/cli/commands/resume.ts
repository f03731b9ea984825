/** `prestore resume`: finishes an image restore that was interrupted. */
import type { Command } from '../command.js';
import { runRestoreCommand, SESSION_EXIT_HELP, SESSION_OPTIONS_HELP } from '../image-session.js';

const resume: Command = {
  name: 'resume',
  summary: 'finish an interrupted image restore (stopped, killed, or cut by power loss)',
  help: `Usage: prestore resume --meta FILE [--verify] [--batch SIZE] [--json FILE]

Finishes the restore in progress on the pair that FILE describes, however it was interrupted
(Ctrl-C, SIGKILL, power loss, an I/O error): the engine recovers from the metadata alone and
copies what its maps say is left, with the protection the restore was started with. It is an
error if no restore is in progress. The pair is checked and locked as for prestore restore,
except the source's fingerprint, which a restore in progress is changing.

Options:
${SESSION_OPTIONS_HELP}

${SESSION_EXIT_HELP}`,
  run: (argv, io) => runRestoreCommand('resume', argv, io),
};

export default resume;
