/** A stream that keeps what is written to it as text: the standard output and error of an in-process `prestore` run, for the tests that drive the command line. */
import { Writable } from 'node:stream';
import { runCli } from './dispatch.js';

export class TextSink extends Writable {
  text = '';

  override _write(chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += String(chunk);
    done();
  }
}

export interface Captured {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `prestore` run in process with `argv`, its standard output and error kept as text. */
export async function runCaptured(argv: readonly string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Captured> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const code = await runCli(argv, { stdout, stderr, env, cwd });
  return { code, out: stdout.text, err: stderr.text };
}
