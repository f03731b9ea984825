#!/usr/bin/env node
/**
 * The `prestore` binary: the process's arguments and streams, handed to the dispatcher, in a
 * watched worker thread when the command runs an in-process engine (./watched-cli.ts). It exits
 * once the output is written, so that nothing left running (an engine process that did not end,
 * an engine's timer) keeps a finished run from returning its exit code.
 */
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';
import { runsWatched, runWatched } from './watched-cli.js';

// A reader that went away (prestore … | head) is not an error worth a stack.
for (const stream of [process.stdout, process.stderr]) stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' ? process.exit(process.exitCode ?? 0) : undefined));

const argv = process.argv.slice(2);
const io: CommandIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
const code = runsWatched(argv) ? await runWatched(argv, io) : await runCli(argv, io);
const drained = (stream: NodeJS.WriteStream) => new Promise<void>((done) => stream.write('', () => done()));
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);
