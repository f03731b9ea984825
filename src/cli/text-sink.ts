/** A stream that keeps what is written to it as text: the standard output and error of an in-process `prestore` run, for the tests that drive the command line. */
import { Writable } from 'node:stream';

export class TextSink extends Writable {
  text = '';

  override _write(chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += String(chunk);
    done();
  }
}
