import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Write a file so readers see the old or the new content, never a torn one: write, fsync, rename.
 * `fsync: false` is for derived files (caches) that may be lost in a crash but never torn.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, opts: { fsync?: boolean } = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    if (opts.fsync !== false) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (opts.fsync === false) return;
  try {
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best effort (not supported on every filesystem).
  }
}

/** A file to put down durably: replaced whole (as writeFileAtomic does) or appended to, then fsynced. */
export interface DurableWrite {
  path: string;
  data: Buffer;
  append?: boolean;
}

/** Write each file in order, durably, on this thread. */
export function writeDurablySync(files: DurableWrite[]): void {
  for (const f of files) {
    if (!f.append) {
      writeFileAtomic(f.path, f.data);
      continue;
    }
    const fd = openSync(f.path, 'a', 0o644);
    try {
      let off = 0;
      while (off < f.data.length) off += writeSync(fd, f.data, off, f.data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * writeDurablySync without blocking the thread: the writes and fsyncs run on libuv's pool, in the
 * same order, with the same guarantees (a replaced file is written and fsynced before the rename,
 * then its folder is fsynced). For a process whose thread others wait on (the worker: an fsync
 * can take tens of milliseconds while agents write to the same disk).
 */
export async function writeDurably(files: DurableWrite[]): Promise<void> {
  for (const f of files) {
    if (f.append) {
      const fh = await open(f.path, 'a', 0o644);
      try {
        await fh.write(f.data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      continue;
    }
    mkdirSync(dirname(f.path), { recursive: true });
    const tmp = `${f.path}.tmp-${process.pid}-${Date.now().toString(36)}-${(tmpSeq++).toString(36)}`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.write(f.data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, f.path);
    try {
      const dir = await open(dirname(f.path), 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch {
      // Directory fsync is best effort (not supported on every filesystem).
    }
  }
}
let tmpSeq = 0;

/** The last lines of a text file (a log) after byte offset `from`, or "" when it cannot be read. */
export function tailOf(file: string, lines = 20, from = 0): string {
  try {
    return readFileSync(file).subarray(from).toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
