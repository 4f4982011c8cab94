import { closeSync, mkdirSync, openSync, readSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { townPaths } from '../town/layout.js';

/** How much of the end of a log is read for its last lines. */
const TAIL_BYTES = 4096;

/** Terminal escapes (colours, cursor moves, titles) and other control characters, as a pane log holds them. */
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** The last `n` non-blank lines of terminal output, as a person would read them. */
export function lastLines(text: string, n: number): string[] {
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    // A carriage return redraws the line: what follows the last one is what shows.
    const line = (raw.split('\r').filter((p) => p.length).at(-1) ?? '').replace(ESCAPES, '').trimEnd();
    if (line.trim()) lines.push(line);
  }
  return lines.slice(-n);
}

/**
 * What each polecat printed last: the end of its log (the tmux pane piped there, or its headless
 * output), read again only when the file changed, and a watch on each rig's log folder that says
 * which agent wrote (inotify: nothing is read while agents are quiet).
 */
export class AgentOutput {
  private cache = new Map<string, { mtimeMs: number; size: number; lines: string[] }>();
  private watchers: FSWatcher[] = [];

  constructor(private readonly root: string, private readonly lines = 4) {}

  private file(rig: string, name: string): string {
    return join(townPaths(this.root).logs, 'polecats', rig, `${name}.log`);
  }

  tail(rig: string, name: string): string[] {
    const file = this.file(rig, name);
    let st;
    try {
      st = statSync(file);
    } catch {
      return [];
    }
    const hit = this.cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.lines;
    const start = Math.max(0, st.size - TAIL_BYTES);
    const buf = Buffer.alloc(st.size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    const text = buf.toString('utf8');
    // A tail cut mid-line starts with part of a line: drop it.
    const lines = lastLines(start > 0 ? text.slice(text.indexOf('\n') + 1) : text, this.lines);
    this.cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, lines });
    return lines;
  }

  /** Call `onChange(rig)` when an agent of one of `rigs` writes to its log. */
  watch(rigs: string[], onChange: (rig: string) => void): void {
    for (const rig of rigs) {
      const dir = join(townPaths(this.root).logs, 'polecats', rig);
      try {
        mkdirSync(dir, { recursive: true });
        this.watchers.push(watch(dir, (_type, file) => void (file?.endsWith('.log') && onChange(rig))));
      } catch {
        // cannot watch there: the previews follow the other refreshes
      }
    }
  }

  close(): void {
    for (const w of this.watchers.splice(0)) w.close();
  }
}
