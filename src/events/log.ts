import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, watchFile, unwatchFile, appendFileSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { townPaths } from '../town/layout.js';

/**
 * The town's event stream: one line per lifecycle step (sling, session start/exit/restart, nudge,
 * stall, gt done, merge queued/merged/rejected, convoy dispatch/land, mountain skip/stall report,
 * formula steps started/done/failed, a gate's approval being its step's end),
 * appended to `.gt/events.jsonl` by the activities that make the step happen. An activity retried
 * after a lost worker writes the same id, which is recorded once.
 */
export interface TownEvent {
  /** Stable across retries of the activity that wrote it. */
  id: string;
  at: string;
  type: string;
  /** Who made it happen: a polecat's address, `<rig>/refinery`, a convoy id, a person. */
  actor: string;
  rig?: string;
  bead?: string;
  workflow?: string;
  /** One line for people. */
  detail?: string;
  [field: string]: unknown;
}

export const EVENT_TYPES = [
  'sling',
  'session.start',
  'session.exit',
  'session.restart',
  'session.ready',
  'session.awaiting',
  'session.failed',
  'nudge',
  'stall',
  'done',
  'bead.blocked',
  'merge.queued',
  'merge.merged',
  'merge.rejected',
  'convoy.dispatch',
  'convoy.landed',
  'convoy.incomplete',
  'convoy.skipped',
  'convoy.budget',
  'mountain.stall',
  'step.start',
  'step.end',
  'step.failed',
  'step.not-run',
  'formula.end',
  'formula.failed',
] as const;

/** How far back a retried write looks for its own id. */
const DEDUPE_WINDOW = 256 * 1024;

function tail(file: string, bytes: number): string {
  const size = statSync(file).size;
  const start = Math.max(0, size - bytes);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** How many ids of its own lately written events a process remembers, per stream. */
const RECENT_IDS = 4096;
const recentIds = new Map<string, Set<string>>();

function remember(file: string, id: string): void {
  let ids = recentIds.get(file);
  if (!ids) recentIds.set(file, (ids = new Set()));
  ids.add(id);
  // A Set iterates in insertion order: drop the oldest.
  if (ids.size > RECENT_IDS) ids.delete(ids.values().next().value!);
}

/**
 * Append an event unless one with its id is already there. Returns whether it was written.
 * `fresh`: no other process can have written this id (the first attempt of the activity whose
 * id it carries): only this process's own recent ids are looked at, not the stream's tail.
 */
export function appendEvent(root: string, event: Omit<TownEvent, 'at' | 'id'> & { id?: string; at?: string }, opts: { fresh?: boolean } = {}): boolean {
  const file = townPaths(root).events;
  const full: TownEvent = { ...event, id: event.id ?? randomUUID(), at: event.at ?? new Date().toISOString() } as TownEvent;
  if (recentIds.get(file)?.has(full.id)) return false;
  mkdirSync(dirname(file), { recursive: true });
  const fresh = opts.fresh || event.id === undefined;
  if (!fresh && existsSync(file) && tail(file, DEDUPE_WINDOW).includes(`"id":${JSON.stringify(full.id)}`)) return false;
  // One write of one line: appends of a line this size do not interleave.
  const { id, at, type, actor, ...rest } = full;
  appendFileSync(file, JSON.stringify({ id, at, type, actor, ...rest }) + '\n');
  remember(file, full.id);
  return true;
}

export interface EventFilter {
  sinceMs?: number;
  rig?: string;
  bead?: string;
  types?: string[];
  actor?: string;
}

export function matches(e: TownEvent, f: EventFilter): boolean {
  if (f.sinceMs !== undefined && Date.parse(e.at) < f.sinceMs) return false;
  if (f.rig && e.rig !== f.rig) return false;
  if (f.bead && e.bead !== f.bead) return false;
  if (f.actor && e.actor !== f.actor) return false;
  if (f.types?.length && !f.types.some((t) => e.type === t || e.type.startsWith(`${t}.`))) return false;
  return true;
}

function parseLines(text: string): TownEvent[] {
  const out: TownEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as TownEvent;
      if (e && typeof e.type === 'string' && typeof e.at === 'string') out.push(e);
    } catch {
      // a line being written, or not ours
    }
  }
  return out;
}

export function readEvents(root: string, f: EventFilter = {}): TownEvent[] {
  const file = townPaths(root).events;
  if (!existsSync(file)) return [];
  return parseLines(readFileSync(file, 'utf8')).filter((e) => matches(e, f));
}

/** Call `onEvent` for every event appended from now on, until the returned function is called. */
export function followEvents(root: string, f: EventFilter, onEvent: (e: TownEvent) => void): () => void {
  const file = townPaths(root).events;
  mkdirSync(dirname(file), { recursive: true });
  let offset = existsSync(file) ? statSync(file).size : 0;
  let partial = '';
  const read = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size < offset) offset = 0;
    if (size === offset) return;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      offset = size;
      const text = partial + buf.toString('utf8');
      const cut = text.lastIndexOf('\n');
      partial = text.slice(cut + 1);
      for (const e of parseLines(text.slice(0, cut + 1))) if (matches(e, f)) onEvent(e);
    } finally {
      closeSync(fd);
    }
  };
  watchFile(file, { interval: 200 }, read);
  return () => unwatchFile(file, read);
}

/** `--since`: a duration back from now (90s, 15m, 2h, 1d) or a date; anything else is refused by the caller. */
export function parseSince(text: string, now = Date.now()): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (m) return now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    const t = Date.parse(text.trim());
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
