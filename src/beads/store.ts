import { closeSync, existsSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import type { Bead, BeadEvent, Comment, Dependency, LedgerConfig } from './model.js';

/**
 * The files of one ledger. `issues.jsonl` is the source of truth for kept beads, one bead a line
 * in the original Beads export format, sorted by id so concurrent branches touch different lines
 * and git merges them cleanly. Ephemeral beads (wisps) live in `wisps.jsonl`, which git ignores.
 */
export function ledgerPaths(dir: string) {
  return {
    dir,
    config: join(dir, 'config.json'),
    issues: join(dir, 'issues.jsonl'),
    wisps: join(dir, 'wisps.jsonl'),
    events: join(dir, 'events.jsonl'),
    wispEvents: join(dir, 'wisp-events.jsonl'),
    lock: join(dir, 'ledger.lock'),
    gitignore: join(dir, '.gitignore'),
    commitQueue: join(dir, 'commit-queue.jsonl'),
    commitPending: join(dir, 'commit.pending'),
  };
}
export type LedgerPaths = ReturnType<typeof ledgerPaths>;

/** What git must not see in a ledger folder: runtime files and wisps. */
export const LEDGER_GITIGNORE = `# Beads runtime files and ephemeral beads (wisps): never in git history
*.lock
*.tmp-*
wisps.jsonl
wisp-events.jsonl
commit-queue.jsonl
commit.pending
commit-errors.log
`;

export function readLedgerConfig(paths: LedgerPaths): LedgerConfig {
  let text: string;
  try {
    text = readFileSync(paths.config, 'utf8');
  } catch {
    throw new GtError(`no beads ledger at ${paths.dir} (missing config.json)`, {
      hint: 'run `bd init` to make one, or cd into a folder that has one',
    });
  }
  let config: LedgerConfig;
  try {
    config = JSON.parse(text) as LedgerConfig;
  } catch (err) {
    throw new GtError(`${paths.config} is not valid JSON: ${(err as Error).message}`, { hint: 'fix the file or restore it from git' });
  }
  if (!config || typeof config.prefix !== 'string' || !config.prefix) {
    throw new GtError(`${paths.config} has no "prefix"`, { hint: 'add "prefix": "<your prefix>" to it' });
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Lines: parse and serialise

/** Keys the export adds that are computed, never stored. */
const COMPUTED_KEYS = new Set(['_type', 'dependency_count', 'dependent_count', 'comment_count', 'parent', 'notes_preview']);

/** The original's field order (its Go struct order), so our lines diff cleanly against its exports. */
const FIELD_ORDER = [
  'id', 'title', 'description', 'design', 'acceptance_criteria', 'notes', 'status', 'priority', 'issue_type',
  'assignee', 'owner', 'created_at', 'created_by', 'updated_at', 'started_at', 'closed_at', 'close_reason',
  'due_at', 'defer_until', 'metadata', 'labels', 'dependencies', 'comments', 'ephemeral',
] as const;
const KNOWN = new Set<string>([...FIELD_ORDER, ...COMPUTED_KEYS]);
const DEP_ORDER = ['issue_id', 'depends_on_id', 'type', 'created_at', 'created_by', 'metadata'] as const;
const COMMENT_ORDER = ['id', 'issue_id', 'author', 'text', 'created_at'] as const;

/** Go's omitempty: empty strings, empty arrays and false are left out. */
function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === false || (Array.isArray(v) && v.length === 0);
}

function ordered(obj: Record<string, unknown>, order: readonly string[], skip?: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of order) {
    const v = obj[k];
    if (k === 'priority' ? typeof v === 'number' : !isEmpty(v)) out[k] = v;
  }
  // Fields we do not model (from the original's newer versions) are kept as they came.
  for (const k of Object.keys(obj)) {
    if (!(k in out) && !order.includes(k) && !skip?.has(k) && obj[k] !== undefined) out[k] = obj[k];
  }
  return out;
}

/** A bead as an export record: `{"_type":"issue", ...fields in the original's order}`. */
export function toRecord(bead: Bead, extra?: Record<string, unknown>): Record<string, unknown> {
  const b = bead as unknown as Record<string, unknown>;
  const rec: Record<string, unknown> = { _type: 'issue', ...ordered(b, FIELD_ORDER, KNOWN) };
  if (rec.dependencies) rec.dependencies = (bead.dependencies ?? []).map((d) => ordered(d as unknown as Record<string, unknown>, DEP_ORDER));
  if (rec.comments) rec.comments = (bead.comments ?? []).map((c) => ordered(c as unknown as Record<string, unknown>, COMMENT_ORDER));
  return extra ? { ...rec, ...extra } : rec;
}

export function serializeBead(bead: Bead): string {
  return JSON.stringify(toRecord(bead));
}

/** Turn a parsed export record into a bead (computed keys dropped, defaults applied). */
export function fromRecord(rec: Record<string, unknown>): Bead {
  const bead: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) if (!COMPUTED_KEYS.has(k)) bead[k] = v;
  if (bead.status === undefined || bead.status === '') bead.status = 'open';
  if (bead.issue_type === undefined || bead.issue_type === '') bead.issue_type = 'task';
  if (bead.priority === undefined) bead.priority = 2;
  if (Array.isArray(bead.comments)) {
    bead.comments = (bead.comments as Array<Record<string, unknown>>).map((c) => ({ ...c, id: String(c.id) }) as unknown as Comment);
  }
  if (Array.isArray(bead.dependencies)) {
    bead.dependencies = (bead.dependencies as Array<Record<string, unknown>>).map((d) => {
      const m = d.metadata;
      return (m !== undefined && typeof m !== 'string' ? { ...d, metadata: JSON.stringify(m) } : d) as unknown as Dependency;
    });
  }
  return bead as unknown as Bead;
}

export interface ParsedLine {
  line: number;
  raw: string;
  record: Record<string, unknown>;
}

/** Parse JSONL text; a line that is not a JSON object is an error naming the file and line. */
export function parseJsonl(text: string, file: string): ParsedLine[] {
  const out: ParsedLine[] = [];
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const raw = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (raw.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw corruptLine(file, lineNo, `not valid JSON (${(err as Error).message})`);
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) throw corruptLine(file, lineNo, 'not a JSON object');
    out.push({ line: lineNo, raw, record: record as Record<string, unknown> });
  }
  return out;
}

export function corruptLine(file: string, line: number, what: string): GtError {
  return new GtError(`${file}:${line}: ${what}`, {
    hint: `fix or remove line ${line} of ${file} (if the ledger is in git: \`git diff\` shows what changed); nothing was written`,
  });
}

// ---------------------------------------------------------------------------------------------
// State: both bead files of a ledger, cached per process while the files are unchanged

export interface LedgerState {
  /** Every bead (kept and ephemeral) by id. Never mutated once loaded: writes make a new state. */
  beads: Map<string, Bead>;
  /** The exact stored line of each bead, re-used on write so unchanged lines stay byte-identical. */
  lines: Map<string, string>;
  issuesStamp: string;
  wispsStamp: string;
}

const cache = new Map<string, LedgerState>();

/** Files are replaced by rename on every write, so inode + size + mtime identify a version. */
function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

function readBeadFile(path: string, into: LedgerState, wisps: boolean): void {
  if (!existsSync(path)) return;
  const lines = parseJsonl(readFileSync(path, 'utf8'), path);
  const seenAt = new Map<string, number>();
  for (const { line, raw, record } of lines) {
    if (record._type !== undefined && record._type !== 'issue') continue;
    if (typeof record.id !== 'string' || !record.id) throw corruptLine(path, line, 'bead has no "id"');
    if (typeof record.title !== 'string') throw corruptLine(path, line, `bead ${record.id} has no "title"`);
    const prev = seenAt.get(record.id);
    if (prev !== undefined || into.beads.has(record.id)) {
      throw corruptLine(path, line, `bead ${record.id} appears twice${prev !== undefined ? ` (also line ${prev})` : ''}`);
    }
    seenAt.set(record.id, line);
    const bead = fromRecord(record);
    if (wisps) bead.ephemeral = true;
    into.beads.set(bead.id, bead);
    into.lines.set(bead.id, raw);
  }
}

/** The current state of the ledger, re-read only when a file changed since the last read. */
export function loadState(paths: LedgerPaths): LedgerState {
  const issuesStamp = stamp(paths.issues);
  const wispsStamp = stamp(paths.wisps);
  const hit = cache.get(paths.dir);
  if (hit && hit.issuesStamp === issuesStamp && hit.wispsStamp === wispsStamp) return hit;
  const state: LedgerState = { beads: new Map(), lines: new Map(), issuesStamp, wispsStamp };
  readBeadFile(paths.issues, state, false);
  readBeadFile(paths.wisps, state, true);
  cache.set(paths.dir, state);
  return state;
}

/**
 * Write the beads in `changed` (id → new bead) over `base`: only the files holding a changed bead
 * are rewritten, each atomically, re-using the stored line of every unchanged bead.
 * Returns the new state (also cached).
 */
export function writeState(paths: LedgerPaths, base: LedgerState, changed: Map<string, Bead>): LedgerState {
  const beads = new Map(base.beads);
  const lines = new Map(base.lines);
  let touchIssues = false;
  let touchWisps = false;
  for (const [id, bead] of changed) {
    const before = base.beads.get(id);
    if (before) {
      if (before.ephemeral) touchWisps = true;
      else touchIssues = true;
    }
    if (bead.ephemeral) touchWisps = true;
    else touchIssues = true;
    beads.set(id, bead);
    lines.set(id, serializeBead(bead));
  }
  const ids = [...beads.keys()].sort();
  if (touchIssues) writeFileAtomic(paths.issues, fileText(ids, beads, lines, false));
  if (touchWisps) writeFileAtomic(paths.wisps, fileText(ids, beads, lines, true));
  const next: LedgerState = { beads, lines, issuesStamp: stamp(paths.issues), wispsStamp: stamp(paths.wisps) };
  cache.set(paths.dir, next);
  return next;
}

function fileText(sortedIds: string[], beads: Map<string, Bead>, lines: Map<string, string>, wisps: boolean): string {
  const out: string[] = [];
  for (const id of sortedIds) if (Boolean(beads.get(id)!.ephemeral) === wisps) out.push(lines.get(id)!);
  return out.length ? out.join('\n') + '\n' : '';
}

/** Forget the cached state (tests that edit files by hand within one process). */
export function dropCachedState(dir?: string): void {
  if (dir) cache.delete(dir);
  else cache.clear();
}

// ---------------------------------------------------------------------------------------------
// Events: append-only

export function appendEvents(path: string, events: BeadEvent[]): void {
  if (events.length === 0) return;
  const data = Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const fd = openSync(path, 'a', 0o644);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readEvents(path: string): BeadEvent[] {
  if (!existsSync(path)) return [];
  return parseJsonl(readFileSync(path, 'utf8'), path).map((l) => l.record as unknown as BeadEvent);
}

export function writeGitignore(paths: LedgerPaths): void {
  if (!existsSync(paths.gitignore)) writeFileAtomic(paths.gitignore, LEDGER_GITIGNORE);
}
