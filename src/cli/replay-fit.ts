/**
 * What `prestore replay` does when the crashes a line or file lists do not fit the run it got
 * (../harness/case-fit.ts). Against the engine the line or file names, the case did not run as
 * recorded (a crash never fired, a survivor named nothing), so there is no verdict to give: saying
 * "the violation did not happen" would be a green about a case nobody ran. That is bad input,
 * exit 2. Against another engine a different run is expected: the misfit is a note.
 */
import { InputError } from './command.js';
import type { EngineFlags } from './engine-arg.js';

/**
 * Whether the replay runs the engine the line or file names: it names one, and the command line
 * names none or the same. (A bare c1.… token names no engine: any engine is "another".)
 */
export function sameEngine(given: EngineFlags, recorded: EngineFlags): boolean {
  if (recorded.engine === undefined && recorded['engine-cmd'] === undefined) return false;
  if (given.engine === undefined && given['engine-cmd'] === undefined) return true;
  return given.engine === recorded.engine && given['engine-cmd'] === recorded['engine-cmd'];
}

/**
 * Throws for a misfit against the recorded engine; else the lines of a note (none when it fits).
 * `afterFix` says what to run instead when the engine's I/O has changed since (a fix).
 */
export function fitNote(unfit: readonly string[] | undefined, recorded: boolean, what: string, engineLabel: string, afterFix?: string): string[] {
  if (unfit === undefined || unfit.length === 0) return [];
  const listed = unfit.map((u) => `  ${u}`);
  if (recorded) {
    throw new InputError(
      [
        `${what}: the crashes it lists do not fit the run of ${engineLabel}, the engine it names, so the case did not run as recorded and there is no verdict to give (was it edited, or has the engine's I/O changed since?):`,
        ...listed,
        ...(afterFix === undefined ? [] : [`after a fix that changed the engine's I/O, ${afterFix}`]),
      ].join('\n'),
    );
  }
  return ['', `note: the crashes it lists do not fit the run of ${engineLabel}, whose I/O differs from the recorded engine's:`, ...listed];
}
