import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/** A file to put down durably: replaced whole (as writeFileAtomic does) or appended to, then fsynced. */
export interface DurableWrite {
  path: string;
  data: Uint8Array;
  append?: boolean;
  /** false: a derived file (a cache) that may be lost in a crash but is never torn: no fsync. */
  fsync?: boolean;
}

/**
 * Put each file down in order: a replaced file is written to a temporary file beside it, fsynced,
 * renamed over it, then its folder is fsynced (so readers see the old or the new content, never a
 * torn one); an appended one is fsynced. Self-contained (its modules are arguments) because the
 * writer thread runs this same function from its source text.
 */
function putDown(files: DurableWrite[], fsm: typeof fs, dirOf: (p: string) => string, tag: string): void {
  for (const f of files) {
    const target = f.append ? f.path : `${f.path}.tmp-${tag}-${Date.now().toString(36)}`;
    if (!f.append) fsm.mkdirSync(dirOf(f.path), { recursive: true });
    const fd = fsm.openSync(target, f.append ? 'a' : 'w', 0o644);
    try {
      let off = 0;
      while (off < f.data.length) off += fsm.writeSync(fd, f.data, off, f.data.length - off);
      if (f.fsync !== false) fsm.fsyncSync(fd);
    } finally {
      fsm.closeSync(fd);
    }
    if (f.append) continue;
    fsm.renameSync(target, f.path);
    if (f.fsync === false) continue;
    try {
      const dfd = fsm.openSync(dirOf(f.path), 'r');
      try {
        fsm.fsyncSync(dfd);
      } finally {
        fsm.closeSync(dfd);
      }
    } catch {
      // Directory fsync is best effort (not supported on every filesystem).
    }
  }
}

/**
 * Write a file so readers see the old or the new content, never a torn one: write, fsync, rename.
 * `fsync: false` is for derived files (caches) that may be lost in a crash but never torn.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, opts: { fsync?: boolean } = {}): void {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  putDown([{ path, data, fsync: opts.fsync }], fs, dirname, String(process.pid));
}

/** Write each file in order, durably, on this thread. */
export function writeDurablySync(files: DurableWrite[]): void {
  putDown(files, fs, dirname, String(process.pid));
}

/** The writer thread: the same putDown for each message, answered with its id (and the error, if any). */
const WRITER_SOURCE = `
const fs = require('node:fs');
const { dirname } = require('node:path');
const { parentPort, threadId } = require('node:worker_threads');
const putDown = ${putDown.toString()};
parentPort.on('message', ({ id, files }) => {
  try {
    putDown(files, fs, dirname, process.pid + '-' + threadId);
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: { message: String(err && err.message || err), code: err && err.code } });
  }
});
`;

interface Writer {
  thread: Worker;
  seq: number;
  pending: Map<number, { resolve: () => void; reject: (err: Error) => void }>;
}
let writer: Writer | undefined;

function durableWriter(): Writer {
  if (writer) return writer;
  const w: Writer = { thread: new Worker(WRITER_SOURCE, { eval: true }), seq: 0, pending: new Map() };
  const fail = (err: Error) => {
    if (writer === w) writer = undefined;
    for (const p of w.pending.values()) p.reject(err);
    w.pending.clear();
  };
  w.thread.on('message', (m: { id: number; error?: { message: string; code?: string } }) => {
    const p = w.pending.get(m.id);
    w.pending.delete(m.id);
    // An idle writer does not keep the process alive; one with writes in hand does.
    if (!w.pending.size) w.thread.unref();
    if (m.error) p?.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
    else p?.resolve();
  });
  w.thread.on('error', fail);
  w.thread.on('exit', (code) => fail(new Error(`the durable writer thread exited (code ${code}) before answering`)));
  w.thread.unref();
  writer = w;
  return w;
}

/**
 * writeDurablySync without blocking the thread: the same writes, in the same order, with the
 * same guarantees, on a writer thread of this process; the promise settles when they are on
 * disk. One message there and one back, where fs/promises took a dozen turns of the event loop
 * (each one waiting behind whatever else a busy worker runs: ledger writes queue on each other).
 * Writes are put down in the order asked for.
 */
export function writeDurably(files: DurableWrite[]): Promise<void> {
  if (!files.length) return Promise.resolve();
  const w = durableWriter();
  const id = ++w.seq;
  return new Promise<void>((resolve, reject) => {
    w.pending.set(id, { resolve, reject });
    w.thread.ref();
    w.thread.postMessage({ id, files });
  });
}

/**
 * writeFileAtomic without the fsync, on the writer thread: for the small state files a long-lived
 * process writes while it serves others (a polecat's notes, markers, prompts). A write on this
 * thread waits for the disk whenever agents' fsyncs keep it busy (ms each, and every workflow
 * task and activity of the process waits with it). Readers see the old or the new content.
 */
export function replaceFile(path: string, content: string): Promise<void> {
  return writeDurably([{ path, data: Buffer.from(content), fsync: false }]);
}

/** The last lines of a text file (a log) after byte offset `from`, or "" when it cannot be read. */
export function tailOf(file: string, lines = 20, from = 0): string {
  try {
    return fs.readFileSync(file).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
