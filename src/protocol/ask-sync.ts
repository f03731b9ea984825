/**
 * One question to a short-lived engine process, answered synchronously: `metadataSize` is
 * synchronous in the engine contract. A worker thread runs the process (a process group of its
 * own, ./process-group.ts) while this thread waits on a shared word, with a bound. The process is
 * ended, its group with it, as soon as its answer (or a line that cannot be one) has arrived, or
 * at the timeout, whatever it does with its input or its children.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { endGroup, guardEngineProcesses } from './process-group.js';

/** What the process did, as the worker saw it. */
export interface Asked {
  /** Its standard output up to the end (at most a little over `MAX_OUTPUT` characters). */
  readonly stdout: string;
  /** The tail of its standard error. */
  readonly stderr: string;
  /** It exited by itself with this code (null if it was killed or is the one ended here). */
  readonly code: number | null;
  readonly signal: string | null;
  /** It gave no answer within the timeout. */
  readonly timedOut: boolean;
  /** It could not be started. */
  readonly spawnError?: string;
}

/** A question's answer is one short line: more output than this without it is no answer. */
const MAX_OUTPUT = 1 << 20;
/** Beyond the engine's timeout, what the worker may take to start and to end the process group. */
const WORKER_SLACK_MS = 10_000;
/** After the engine process exits, how long its output may take to drain. */
const DRAIN_MS = 1000;

/**
 * The worker, as plain JavaScript so that it runs from the sources and from dist/ alike. It lives
 * as long as prestore (unreferenced: it never keeps prestore running) and runs one question at a time.
 */
const WORKER = `
const { workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { shared, port } = workerData;
/** A reply, or a line that is not a JSON object: nothing more is worth waiting for. */
const final = (line) => {
  if (line.trim() === '') return false;
  try {
    const m = JSON.parse(line);
    return typeof m !== 'object' || m === null || m.type === 'result' || m.type === 'error';
  } catch {
    return true;
  }
};
port.on('message', ({ id, command, input, timeoutMs, maxOutput, drainMs }) => {
  const out = { id, stdout: '', stderr: '', code: null, signal: null, timedOut: false };
  let ended = false;
  let reported = false;
  const child = spawn('/bin/sh', ['-c', 'exec ' + command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  if (child.pid !== undefined) Atomics.store(shared, 1, child.pid);
  const end = () => {
    if (ended || child.pid === undefined) return;
    ended = true;
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
  };
  const report = () => {
    if (reported) return;
    reported = true;
    clearTimeout(timer);
    end();
    port.postMessage(out);
    Atomics.store(shared, 0, id);
    Atomics.notify(shared, 0);
  };
  const timer = setTimeout(() => { out.timedOut = true; report(); }, timeoutMs);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out.stdout += chunk;
    if (out.stdout.length > maxOutput || (chunk.includes('\\n') && out.stdout.split('\\n').slice(0, -1).some(final))) report();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { out.stderr = (out.stderr + chunk).slice(-4096); });
  child.stdin.on('error', () => {});
  child.stdin.end(input);
  child.on('error', (e) => { out.spawnError = e.message; report(); });
  child.on('exit', (code, signal) => {
    if (!ended) { out.code = code; out.signal = signal; }
    end();
    setTimeout(report, drainMs).unref();
  });
  child.on('close', report);
});
`;

interface Helper {
  readonly worker: Worker;
  readonly port: MessagePort;
  /** [0]: the id of the question last answered; [1]: the process group of the one running. */
  readonly shared: Int32Array;
  asked: number;
}

let helper: Helper | undefined;

function theHelper(): Helper {
  if (helper === undefined) {
    const shared = new Int32Array(new SharedArrayBuffer(8));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(WORKER, { eval: true, workerData: { shared, port: port2 }, transferList: [port2] });
    worker.unref();
    port1.unref();
    helper = { worker, port: port1, shared, asked: 0 };
  }
  return helper;
}

/**
 * Starts `command`, writes `input` to it, closes its input, and returns what it wrote, once it
 * wrote a reply (a `result` or `error` line) or anything that is not a JSON object, or exited,
 * or after `timeoutMs`. The process group is ended by then.
 */
export function askSync(command: string, input: string, timeoutMs: number): Asked {
  guardEngineProcesses();
  const h = theHelper();
  const id = ++h.asked;
  Atomics.store(h.shared, 1, 0);
  h.port.postMessage({ id, command, input, timeoutMs, maxOutput: MAX_OUTPUT, drainMs: DRAIN_MS });
  const bound = timeoutMs + WORKER_SLACK_MS;
  Atomics.wait(h.shared, 0, id - 1, bound);
  const reply = receiveMessageOnPort(h.port)?.message as (Asked & { id: number }) | undefined;
  if (reply?.id === id) return reply;
  // The worker, not the engine, failed to report: a fault of prestore. A new worker takes over.
  const pgid = Atomics.load(h.shared, 1);
  if (pgid > 0) endGroup(pgid);
  helper = undefined;
  h.port.close();
  void h.worker.terminate();
  throw new Error(`the worker running the engine process "${command}" gave no report within ${bound} ms`);
}
