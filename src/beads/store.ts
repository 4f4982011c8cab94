import { isAscii } from 'node:buffer';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../errors.js';
import { writeFileAtomic, type DurableWrite } from '../fsutil.js';
import { BlockIndex, isBlockingType, isFailureReason, isReady } from './graph.js';
import type { Bead, BeadEvent, DepType, IssueType, LedgerConfig, Status } from './model.js';

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
    summaryCache: join(dir, 'summary-cache.jsonl'),
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
summary-cache.jsonl
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

const NON_ASCII = /[\u0080-\uffff]/g;
const escapeChar = (c: string) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');

/**
 * A bead's stored line. Characters beyond ASCII are written as JSON `\uXXXX` escapes (the same
 * value to any JSON reader; the original itself writes `<` as `\u003c`): an all-ASCII file is one
 * bd can splice changed lines into and print ready work from without decoding it.
 */
export function serializeBead(bead: Bead): string {
  const line = JSON.stringify(toRecord(bead));
  return ASCII_RE.test(line) ? line : line.replace(NON_ASCII, escapeChar);
}

/**
 * Turn a parsed export record into a bead (computed keys dropped, defaults applied). Changes the
 * record in place: loading 10k beads cannot afford a copy of each.
 */
export function fromRecord(rec: Record<string, unknown>): Bead {
  // Every stored line has `_type`: setting it undefined (JSON output skips it) keeps the object's
  // shape, where `delete` would turn 10k beads into slow dictionary-mode objects.
  if (rec._type !== undefined) rec._type = undefined;
  for (const k of COMPUTED_KEYS) if (k !== '_type' && k in rec) delete rec[k];
  if (rec.status === undefined || rec.status === '') rec.status = 'open';
  if (rec.issue_type === undefined || rec.issue_type === '') rec.issue_type = 'task';
  if (rec.priority === undefined) rec.priority = 2;
  if (Array.isArray(rec.comments)) {
    for (const c of rec.comments as Array<Record<string, unknown>>) if (typeof c.id !== 'string') c.id = String(c.id);
  }
  if (Array.isArray(rec.dependencies)) {
    for (const d of rec.dependencies as Array<Record<string, unknown>>) {
      if (d.metadata !== undefined && typeof d.metadata !== 'string') d.metadata = JSON.stringify(d.metadata);
    }
  }
  return rec as unknown as Bead;
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
// State: both bead files of a ledger, plus a derived summary cache
//
// Parsing every line of a 10k-bead ledger on every command costs more than the whole rest of a
// `bd` run. So `summary-cache.jsonl` (git-ignored, derived, never a source of truth) holds, for
// the exact file versions named in its first line (inode, size, mtime), one small summary a
// bead: what ready/blocked/list/stats need. While the files match it, a command splits the files
// into lines without parsing them and parses only the beads it touches. Any change by another
// tool (a hand edit, a git merge) changes the versions, so the next command parses and checks
// every line again (a corrupt line is reported then) and rewrites the cache.

/** What graph queries and filters need of a bead. */
export type BeadSummary = Pick<
  Bead,
  'id' | 'status' | 'issue_type' | 'priority' | 'created_at' | 'closed_at' | 'assignee' | 'labels' | 'ephemeral' | 'defer_until' | 'dependencies' | 'pinned'
> & {
  /** Closed with a failure reason (what `conditional-blocks` waits for). */
  failed?: boolean;
};

/** Flags of a summary line: pinned, closed as a failure. */
const PINNED = 1;
const FAILED = 2;

function flagsOf(b: Bead): number {
  return (b.pinned === true ? PINNED : 0) | (b.status === 'closed' && isFailureReason(b.close_reason) ? FAILED : 0);
}

export function summarize(b: Bead): BeadSummary {
  const s: BeadSummary = { id: b.id, status: b.status, issue_type: b.issue_type, priority: b.priority, created_at: b.created_at };
  if (b.closed_at) s.closed_at = b.closed_at;
  if (b.assignee) s.assignee = b.assignee;
  if (b.labels?.length) s.labels = b.labels;
  if (b.ephemeral) s.ephemeral = true;
  if (b.defer_until) s.defer_until = b.defer_until;
  const flags = flagsOf(b);
  if (flags & PINNED) s.pinned = true;
  if (flags & FAILED) s.failed = true;
  if (b.dependencies?.length) {
    s.dependencies = b.dependencies.map((d) =>
      d.metadata !== undefined
        ? { issue_id: d.issue_id, depends_on_id: d.depends_on_id, type: d.type, metadata: d.metadata }
        : { issue_id: d.issue_id, depends_on_id: d.depends_on_id, type: d.type },
    );
  }
  return s;
}

/**
 * A summary as one line of the cache: a JSON array, not an object, so that a 10k-line cache is
 * half the size and parses in one call without building 10k object shapes.
 * [id, status, type, priority, created_at, closed_at|0, assignee|0, labels|0, ephemeral 1|0,
 *  defer_until|0, [[depends_on, type, metadata?], ...]|0, flags (PINNED | FAILED)]
 */
export function summaryLine(b: Bead): string {
  const deps = b.dependencies?.length ? b.dependencies.map((d) => (d.metadata !== undefined ? [d.depends_on_id, d.type, d.metadata] : [d.depends_on_id, d.type])) : 0;
  return JSON.stringify([
    b.id, b.status, b.issue_type, b.priority, b.created_at, b.closed_at || 0, b.assignee || 0, b.labels?.length ? b.labels : 0,
    b.ephemeral ? 1 : 0, b.defer_until || 0, deps, flagsOf(b),
  ]);
}

type SummaryTuple = [
  string, Status, IssueType, number, string, string | 0, string | 0, string[] | 0, 0 | 1, string | 0, Array<[string, DepType, string?]> | 0, number,
];

function fromTuple(t: SummaryTuple): BeadSummary {
  const s: BeadSummary = { id: t[0], status: t[1], issue_type: t[2], priority: t[3], created_at: t[4] };
  if (t[5]) s.closed_at = t[5];
  if (t[6]) s.assignee = t[6];
  if (t[7]) s.labels = t[7];
  if (t[8]) s.ephemeral = true;
  if (t[9]) s.defer_until = t[9];
  if (t[11] & PINNED) s.pinned = true;
  if (t[11] & FAILED) s.failed = true;
  if (t[10]) {
    s.dependencies = t[10].map((d) =>
      d.length > 2 ? { issue_id: t[0], depends_on_id: d[0], type: d[1], metadata: d[2] } : { issue_id: t[0], depends_on_id: d[0], type: d[1] },
    );
  }
  return s;
}

const OWN_LINE_HEAD = '{"_type":"issue","id":';
const OWN_ID_HEAD = OWN_LINE_HEAD + '"';
const ASCII_RE = /^[\x00-\x7f]*$/;
const SUMMARY_HEAD = '["';
const CACHE_VERSION = 2;

/** The id of a line bd wrote, without parsing it; undefined for any other line. */
function ownLineId(raw: string): string | undefined {
  if (!raw.startsWith(OWN_ID_HEAD)) return undefined;
  const end = raw.indexOf('"', OWN_ID_HEAD.length);
  return end > 0 ? raw.slice(OWN_ID_HEAD.length, end) : undefined;
}

/**
 * One version of a ledger's files. Immutable: a write makes a new state. Beads are parsed from
 * their stored lines on first use.
 */
export class LedgerState {
  private readonly parsed: Map<string, Bead>;
  private summaryMap?: Map<string, BeadSummary>;
  private summaryLineMap?: Map<string, string>;

  constructor(
    /** The exact stored line of each bead, re-used on write so unchanged lines stay byte-identical. */
    readonly lines: Map<string, string>,
    readonly wispIds: Set<string>,
    /** Summary lines by id, or the cache body they come from (split only when a writer needs it). */
    summaries: Map<string, string> | { body: string },
    readonly issuesStamp: string,
    readonly wispsStamp: string,
    parsed?: Map<string, Bead>,
  ) {
    this.parsed = parsed ?? new Map();
    if (summaries instanceof Map) this.summaryLineMap = summaries;
    else this.cacheBody = summaries.body;
  }

  private cacheBody?: string;

  get size(): number {
    return this.lines.size;
  }

  has(id: string): boolean {
    return this.lines.has(id);
  }

  ids(): IterableIterator<string> {
    return this.lines.keys();
  }

  get(id: string): Bead | undefined {
    const hit = this.parsed.get(id);
    if (hit) return hit;
    const raw = this.lines.get(id);
    if (raw === undefined) return undefined;
    const bead = fromRecord(JSON.parse(raw) as Record<string, unknown>);
    if (this.wispIds.has(id)) bead.ephemeral = true;
    this.parsed.set(id, bead);
    return bead;
  }

  /** Every bead, parsed (the slow path: only for commands that read every field). */
  *beads(): IterableIterator<Bead> {
    for (const id of this.lines.keys()) yield this.get(id)!;
  }

  summaries(): Map<string, BeadSummary> {
    if (!this.summaryMap) {
      const map = this.summaryLineMap ? parseSummaryBody([...this.summaryLineMap.values()].join('\n')) : parseSummaryBody(this.cacheBody ?? '');
      // A cache that does not cover every bead (a torn or stale file) is rebuilt from the beads.
      if (map.size !== this.lines.size || !hasAll(map, this.lines.keys())) {
        map.clear();
        this.summaryLineMap = new Map();
        for (const b of this.beads()) {
          map.set(b.id, fromTuple(JSON.parse(summaryLine(b)) as SummaryTuple));
          this.summaryLineMap.set(b.id, summaryLine(b));
        }
        this.cacheBody = undefined;
      }
      this.summaryMap = map;
    }
    return this.summaryMap;
  }

  summary(id: string): BeadSummary | undefined {
    return this.summaries().get(id);
  }

  /** One cache line a bead, by id: what a writer splices its changes into. */
  summaryLines(): Map<string, string> {
    if (!this.summaryLineMap) {
      const map = new Map<string, string>();
      splitLines(this.cacheBody ?? '', (raw) => {
        map.set(raw.slice(SUMMARY_HEAD.length, raw.indexOf('"', SUMMARY_HEAD.length)), raw);
      });
      this.summaryLineMap = map;
      this.cacheBody = undefined;
    }
    return this.summaryLineMap;
  }

  /** Whether every stored line is ASCII (then files are written without UTF-8 encoding). */
  ascii = false;

  /**
   * For a state read from files (not one made by a write): where the line of each bead of
   * issues.jsonl starts in the file, in the order of `lines`; set only when the file is ASCII and
   * sorted by id.
   */
  issueStarts?: number[];

  /**
   * The same in bytes (what the ready index points at): `issueStarts` itself for an ASCII file;
   * also set for a sorted file that is not ASCII.
   */
  issueByteStarts?: number[];

  /** With `issueStarts`: the text of issues.jsonl, when it is exactly as bd writes it (ASCII). */
  issuesText?: string;

  /**
   * The ready work of this version as kept in the summary cache (read with it, or saved by
   * `saveReadyIndex`, or carried over by the write that made this state); undefined when none.
   */
  readyIndex?: ReadyIndex;

  /** The summary cache body as read, if it has not been split into lines since. */
  rawCacheBody(): string | undefined {
    return this.cacheBody;
  }

  /** The summary cache body (sorted by id), without splitting it when it is still as read. */
  cacheBodyText(sortedIds?: string[]): string {
    if (this.cacheBody !== undefined) return this.cacheBody;
    const lines = this.summaryLines();
    return (sortedIds ?? [...lines.keys()].sort()).map((id) => lines.get(id)!).join('\n');
  }

  /** For a writer: the parsed beads so far (unchanged beads stay parsed in the next state). */
  parsedBeads(): Map<string, Bead> {
    return this.parsed;
  }
}

function hasAll(map: Map<string, unknown>, ids: Iterable<string>): boolean {
  for (const id of ids) if (!map.has(id)) return false;
  return true;
}

/** Call `fn` for each non-blank line. A plain loop: this runs over 10k lines on every command. */
function splitLines(text: string, fn: (raw: string, lineNo: number, start: number) => void): void {
  let start = 0;
  let lineNo = 0;
  const n = text.length;
  while (start < n) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    lineNo++;
    if (end > start) {
      const raw = text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end);
      const c = raw.charCodeAt(0);
      if (c === 123 /* { */ || c === 91 /* [ */ || raw.trim() !== '') fn(raw, lineNo, start);
    }
    start = end + 1;
  }
}

const states = new Map<string, LedgerState>();

function statStamp(s: { ino: number; size: number; mtimeMs: number }): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}`;
}

/** Files are replaced by rename on every write, so inode + size + mtime identify a version. */
function stamp(path: string): string {
  try {
    return statStamp(statSync(path));
  } catch {
    return 'missing';
  }
}

/** Read a file with the stamp of exactly the version read (fstat of the open file). */
function readVersion(path: string): { text: string; stamp: string; ascii: boolean } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', stamp: 'missing', ascii: true };
  }
  try {
    const version = statStamp(fstatSync(fd));
    const buf = readFileSync(fd);
    // Ledgers are mostly ASCII: decoding that as latin1 skips UTF-8 validation (about 8 ms at 10k beads).
    const ascii = isAscii(buf);
    return { text: ascii ? buf.toString('latin1') : buf.toString('utf8'), stamp: version, ascii };
  } finally {
    closeSync(fd);
  }
}

/** Parse and check every line (the slow path, when the cache does not vouch for the file). */
function parseBeadFile(
  path: string, text: string, wisps: boolean, lines: Map<string, string>, parsed: Map<string, Bead>, wispIds: Set<string>, layout?: Layout,
): void {
  const lineOf = new Map<string, number>();
  splitLines(text, (raw, lineNo, start) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(raw);
    } catch (err) {
      throw corruptLine(path, lineNo, `not valid JSON (${(err as Error).message})`);
    }
    if (!record || typeof record !== 'object' || Array.isArray(record)) throw corruptLine(path, lineNo, 'not a JSON object');
    if (record._type !== undefined && record._type !== 'issue') return;
    const id = record.id;
    if (typeof id !== 'string' || !id || /["\\\s]/.test(id)) throw corruptLine(path, lineNo, 'bead has no valid "id"');
    if (typeof record.title !== 'string') throw corruptLine(path, lineNo, `bead ${id} has no "title"`);
    if (lines.has(id)) {
      const prev = lineOf.get(id);
      throw corruptLine(path, lineNo, `bead ${id} appears twice${prev !== undefined ? ` (also line ${prev})` : ''}`);
    }
    lineOf.set(id, lineNo);
    const bead = fromRecord(record);
    if (wisps) {
      bead.ephemeral = true;
      wispIds.add(id);
    }
    parsed.set(id, bead);
    lines.set(id, raw);
    layout?.add(id, start, raw.length, text);
  });
}

/** Split a file the cache vouches for into lines by id, parsing only lines bd did not write. */
function splitBeadFile(text: string, wisps: boolean, lines: Map<string, string>, wispIds: Set<string>, layout?: Layout): void {
  splitLines(text, (raw, _lineNo, start) => {
    let id = ownLineId(raw);
    if (id === undefined) {
      const record = JSON.parse(raw) as Record<string, unknown>;
      if (record._type !== undefined && record._type !== 'issue') return;
      id = record.id as string;
    }
    if (wisps) wispIds.add(id);
    lines.set(id, raw);
    layout?.add(id, start, raw.length, text);
  });
}

/**
 * Where each bead's line starts in issues.jsonl, in file order (the order of `lines` too), kept
 * only while the ids come strictly ascending (the order bd writes). Used to point the ready
 * index (below) at stored lines.
 */
class Layout {
  readonly starts: number[] = [];
  /** With `bytes`: where each line starts in the file's bytes (UTF-8), for a text that is not ASCII. */
  readonly byteStarts: number[];
  private charPos = 0;
  private bytePos = 0;
  private last = '';
  sorted = true;
  /** Where the next line starts if the file is exactly bd's format: one line a bead, each ending in "\n". */
  private next = 0;
  private exact = true;

  constructor(private readonly bytes = false) {
    this.byteStarts = bytes ? [] : this.starts;
  }

  add(id: string, start: number, length: number, text: string): void {
    if (!this.sorted) return;
    if (id <= this.last && this.starts.length) this.sorted = false;
    else {
      this.starts.push(start);
      if (this.bytes) {
        this.bytePos += Buffer.byteLength(text.slice(this.charPos, start));
        this.charPos = start;
        this.byteStarts.push(this.bytePos);
      }
      this.last = id;
      if (start !== this.next || text.charCodeAt(start + length) !== 10) this.exact = false;
      this.next = start + length + 1;
    }
  }

  /**
   * Whether the file is exactly what bd writes for its beads (sorted lines, "\n" after each,
   * nothing else): then a write may splice changed lines into it (see spliceWrite).
   */
  canonical(text: string): boolean {
    return this.sorted && this.exact && this.next === text.length;
  }
}

/** The first line of the summary cache. */
interface CacheHead {
  v: number;
  issues: string;
  wisps: string;
  count: number;
  ready?: ReadyIndex;
}

/**
 * Ready work as last worked out for the file versions of the cache (written by the first
 * `ready` of a version): the ready beads in order, each with where its stored line is in
 * issues.jsonl, so `bd ready --json` can print them without loading the ledger. Ready work
 * changes with time only through defer times: the answer holds from `at` until `until` (the
 * first defer time still ahead at `at`; null when there is none).
 */
interface ReadyIndex {
  at: number;
  until: number | null;
  /** [id, start of its line in issues.jsonl, length of the line, assignee?] */
  beads: Array<[string, number, number, string?]>;
}

/** The cache's first line and its body; the body is parsed only when summaries are needed. */
function readSummaryCache(paths: LedgerPaths): { issues: string; wisps: string; body: string; count: number; ready?: ReadyIndex } | undefined {
  let text: string;
  try {
    const buf = readFileSync(paths.summaryCache);
    text = isAscii(buf) ? buf.toString('latin1') : buf.toString('utf8');
  } catch {
    return undefined;
  }
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  try {
    const head = JSON.parse(text.slice(0, nl)) as CacheHead;
    if (head.v !== CACHE_VERSION || typeof head.count !== 'number') return undefined;
    const ready = head.ready && Array.isArray(head.ready.beads) && typeof head.ready.at === 'number' ? head.ready : undefined;
    return { issues: head.issues, wisps: head.wisps, body: text.slice(nl + 1).trimEnd(), count: head.count, ready };
  } catch {
    return undefined;
  }
}

function parseSummaryBody(body: string): Map<string, BeadSummary> {
  const parsed = new Map<string, BeadSummary>();
  // One JSON.parse for the whole cache: the lines are arrays joined into one array.
  if (body) for (const t of JSON.parse('[' + body.replaceAll('\n', ',') + ']') as SummaryTuple[]) parsed.set(t[0], fromTuple(t));
  return parsed;
}

/** Best effort: a cache that cannot be written only makes the next command slower. */
function writeSummaryCache(paths: LedgerPaths, state: LedgerState, sortedIds?: string[], ready?: ReadyIndex): void {
  try {
    const body = state.cacheBodyText(sortedIds);
    const head: CacheHead = { v: CACHE_VERSION, issues: state.issuesStamp, wisps: state.wispsStamp, count: state.size };
    if (ready) head.ready = ready;
    writeFileAtomic(paths.summaryCache, JSON.stringify(head) + '\n' + body + (body ? '\n' : ''), { fsync: false });
  } catch {
    // ignore
  }
}

/** The current state of the ledger, re-read only when a file changed since the last read. */
export function loadState(paths: LedgerPaths): LedgerState {
  const hit = states.get(paths.dir);
  if (hit && hit.issuesStamp === stamp(paths.issues) && hit.wispsStamp === stamp(paths.wisps)) return hit;
  const issues = readVersion(paths.issues);
  const wisps = readVersion(paths.wisps);
  const lines = new Map<string, string>();
  const wispIds = new Set<string>();
  const cached = readSummaryCache(paths);
  let state: LedgerState | undefined;
  let layout = new Layout(!issues.ascii);
  if (cached && cached.issues === issues.stamp && cached.wisps === wisps.stamp) {
    splitBeadFile(issues.text, false, lines, wispIds, layout);
    splitBeadFile(wisps.text, true, lines, wispIds);
    if (lines.size === cached.count) {
      state = new LedgerState(lines, wispIds, { body: cached.body }, issues.stamp, wisps.stamp);
      state.readyIndex = cached.ready;
    } else {
      lines.clear();
      wispIds.clear();
      layout = new Layout(!issues.ascii);
    }
  }
  if (!state) {
    const parsed = new Map<string, Bead>();
    parseBeadFile(paths.issues, issues.text, false, lines, parsed, wispIds, layout);
    parseBeadFile(paths.wisps, wisps.text, true, lines, parsed, wispIds);
    const summaryLines = new Map<string, string>();
    for (const [id, b] of parsed) summaryLines.set(id, summaryLine(b));
    state = new LedgerState(lines, wispIds, summaryLines, issues.stamp, wisps.stamp, parsed);
    if (existsSync(paths.dir)) writeSummaryCache(paths, state);
  }
  state.ascii = issues.ascii && wisps.ascii;
  if (layout.sorted) {
    if (issues.ascii) state.issueStarts = layout.starts;
    state.issueByteStarts = layout.byteStarts;
  }
  if (issues.ascii && layout.canonical(issues.text)) state.issuesText = issues.text;
  states.set(paths.dir, state);
  return state;
}

/**
 * Keep the ready work of `state` (all of it, in order, worked out at `now`) in the summary cache
 * for the next `readyJsonFromIndex`. Only for a state read from files that have not changed
 * since, whose ready beads are all lines bd wrote to issues.jsonl. Best effort.
 */
export function saveReadyIndex(paths: LedgerPaths, state: LedgerState, ready: readonly BeadSummary[], now: number): void {
  const starts = state.issueByteStarts;
  if (!starts || states.get(paths.dir) !== state) return;
  try {
    if (stamp(paths.issues) !== state.issuesStamp || stamp(paths.wisps) !== state.wispsStamp) return;
    const startOf = new Map<string, number>();
    let i = 0;
    for (const id of state.lines.keys()) {
      if (i >= starts.length) break;
      startOf.set(id, starts[i++]);
    }
    const beads: ReadyIndex['beads'] = [];
    for (const b of ready) {
      const raw = state.lines.get(b.id);
      const start = startOf.get(b.id);
      if (raw === undefined || start === undefined || state.wispIds.has(b.id) || beadJsonOf(raw) === undefined) return;
      const length = state.ascii ? raw.length : Buffer.byteLength(raw);
      beads.push(b.assignee ? [b.id, start, length, b.assignee] : [b.id, start, length]);
    }
    let until = Infinity;
    for (const s of state.summaries().values()) {
      if (!s.defer_until) continue;
      const t = Date.parse(s.defer_until);
      if (t > now && t < until) until = t;
    }
    const index: ReadyIndex = { at: now, until: until === Infinity ? null : until, beads };
    writeSummaryCache(paths, state, undefined, index);
    state.readyIndex = index;
  } catch {
    // a cache that cannot be written only makes the next command slower
  }
}

/**
 * `bd ready --json` (the same bytes) from the ready index of the summary cache, when the cache
 * matches the files and the index still holds at `now`; undefined otherwise (then the caller
 * works it out from the ledger). Reads issues.jsonl, but parses and splits nothing of it.
 */
export function readyJsonFromIndex(
  paths: LedgerPaths, now: number, filter: { assignee?: string; unassigned?: boolean; limit?: number } = {},
): Buffer | undefined {
  let head: CacheHead;
  try {
    const cache = readFileSync(paths.summaryCache);
    const nl = cache.indexOf(10);
    if (nl < 0) return undefined;
    head = JSON.parse(cache.toString('utf8', 0, nl)) as CacheHead;
  } catch {
    return undefined;
  }
  const index = head.ready;
  if (head.v !== CACHE_VERSION || !index || !Array.isArray(index.beads) || !(now >= index.at) || (index.until !== null && !(now < index.until))) return undefined;
  if (stamp(paths.wisps) !== head.wisps) return undefined;
  let buf: Buffer;
  try {
    const fd = openSync(paths.issues, 'r');
    try {
      if (statStamp(fstatSync(fd)) !== head.issues) return undefined;
      buf = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let beads = index.beads;
  if (filter.assignee !== undefined) beads = beads.filter((b) => b[3] === filter.assignee);
  if (filter.unassigned) beads = beads.filter((b) => !b[3]);
  if (filter.limit !== undefined) beads = beads.slice(0, filter.limit);
  if (!beads.length) return Buffer.from('[]\n');
  // Each bead prints as its stored line without `"_type":"issue",` (as beadJson does).
  const skip = OWN_LINE_HEAD.length - 5;
  let size = 4;
  for (const [id, start, len] of beads) {
    const end = start + len;
    // The line must still be the bead's own line: a cheap check that the index fits the file.
    if (end > buf.length || (buf[end] !== 10 && buf[end] !== 13) || buf.toString('latin1', start, start + OWN_ID_HEAD.length + id.length + 1) !== OWN_ID_HEAD + id + '"') {
      return undefined;
    }
    size += 1 + len - skip + 2;
  }
  const out = Buffer.allocUnsafe(size);
  let at = out.write('[\n', 0, 'latin1');
  for (let i = 0; i < beads.length; i++) {
    const [, start, len] = beads[i];
    if (i) at += out.write(',\n', at, 'latin1');
    out[at++] = 123; // {
    at += buf.copy(out, at, start + skip, start + len);
  }
  at += out.write('\n]\n', at, 'latin1');
  return at === size ? out : out.subarray(0, at);
}

/**
 * A write of the ledger, worked out but not made: the files to put down, in order, and what
 * follows once they are on disk (the new state, cached). The caller writes the files, with or
 * without blocking its thread (see Ledger.transaction and transactionAsync).
 */
export interface StateWrite {
  files: DurableWrite[];
  /** After the files are written: the new state (also cached). */
  done(): LedgerState;
}

/**
 * Write the beads in `changed` (id → new bead) over `base`: only the files holding a changed bead
 * are rewritten, each atomically, re-using the stored line of every unchanged bead.
 */
export function planState(paths: LedgerPaths, base: LedgerState, changed: Map<string, Bead>): StateWrite {
  const spliced = spliceWrite(paths, base, changed);
  if (spliced) return spliced;
  const lines = new Map(base.lines);
  const wispIds = new Set(base.wispIds);
  const summaryLines = new Map(base.summaryLines());
  const parsed = new Map(base.parsedBeads());
  let touchIssues = false;
  let touchWisps = false;
  let ascii = base.ascii;
  for (const [id, bead] of changed) {
    if (base.has(id)) {
      if (base.wispIds.has(id)) touchWisps = true;
      else touchIssues = true;
    }
    if (bead.ephemeral) {
      touchWisps = true;
      wispIds.add(id);
    } else {
      touchIssues = true;
      wispIds.delete(id);
    }
    const line = serializeBead(bead);
    if (ascii && !ASCII_RE.test(line)) ascii = false;
    lines.set(id, line);
    summaryLines.set(id, summaryLine(bead));
    parsed.set(id, bead);
  }
  const ids = [...lines.keys()].sort();
  // An all-ASCII file encodes as latin1: a plain copy instead of UTF-8 encoding 5 MB at 10k beads.
  const encode = (text: string) => Buffer.from(text, ascii ? 'latin1' : 'utf8');
  const files: DurableWrite[] = [];
  if (touchIssues) files.push({ path: paths.issues, data: encode(fileText(ids, lines, wispIds, false)) });
  if (touchWisps) files.push({ path: paths.wisps, data: encode(fileText(ids, lines, wispIds, true)) });
  return {
    files,
    done: () => {
      const next = new LedgerState(lines, wispIds, summaryLines, stamp(paths.issues), stamp(paths.wisps), parsed);
      next.ascii = ascii;
      writeSummaryCache(paths, next, ids);
      states.set(paths.dir, next);
      return next;
    },
  };
}

/**
 * writeState for the common case, without re-joining every line: the ledger has no wisps and
 * changes none, issues.jsonl is exactly as bd writes it (ASCII, sorted, one line a bead) and
 * the summary cache body is as read. Both files are sorted by id over the same beads, so the
 * n-th cache line is the n-th bead's: the changed lines are spliced into both texts. The result
 * is byte for byte what the full rewrite makes. Undefined when the case does not apply.
 */
function spliceWrite(paths: LedgerPaths, base: LedgerState, changed: Map<string, Bead>): StateWrite | undefined {
  const text = base.issuesText;
  const starts = base.issueStarts;
  const body = base.rawCacheBody();
  if (text === undefined || !starts || body === undefined || !base.ascii || base.wispIds.size || starts.length !== base.size) return undefined;
  const fileIds = [...base.lines.keys()];
  const n = fileIds.length;
  const edits: Array<{ i: number; id: string; line: string; summary: string; replace: boolean }> = [];
  for (const [id, bead] of changed) {
    if (bead.ephemeral) return undefined;
    const line = serializeBead(bead);
    if (!ASCII_RE.test(line)) return undefined;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (fileIds[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    edits.push({ i: lo, id, line, summary: summaryLine(bead), replace: lo < n && fileIds[lo] === id });
  }
  // In file order; new beads before the line they go in front of.
  edits.sort((a, b) => a.i - b.i || Number(a.replace) - Number(b.replace) || (a.id < b.id ? -1 : 1));

  const cache = body ? body + '\n' : '';
  const out: string[] = [];
  const cacheOut: string[] = [];
  let pos = 0;
  let cachePos = 0;
  let outLength = 0;
  /** Where each changed bead's line starts in the new file. */
  const newStarts = new Map<string, number>();
  for (const e of edits) {
    const cacheStart = cacheLineAtOrAfter(cache, e.id);
    if (cacheStart < cachePos) return undefined;
    const start = e.i < n ? starts[e.i] : text.length;
    // The cache line here must be the bead's the file has here: else the cache is not as expected.
    if (e.i < n ? !cache.startsWith(`["${fileIds[e.i]}"`, cacheStart) : cacheStart !== cache.length) return undefined;
    const before = text.slice(pos, start);
    newStarts.set(e.id, outLength + before.length);
    outLength += before.length + e.line.length + 1;
    out.push(before, e.line, '\n');
    cacheOut.push(cache.slice(cachePos, cacheStart), e.summary, '\n');
    if (e.replace) {
      pos = start + base.lines.get(e.id)!.length + 1;
      const nl = cache.indexOf('\n', cacheStart);
      if (nl < 0) return undefined;
      cachePos = nl + 1;
    } else {
      pos = start;
      cachePos = cacheStart;
    }
  }
  out.push(text.slice(pos));
  cacheOut.push(cache.slice(cachePos));
  const newBody = cacheOut.join('');

  const lines = new Map(base.lines);
  const parsed = new Map(base.parsedBeads());
  for (const e of edits) {
    lines.set(e.id, e.line);
    parsed.set(e.id, changed.get(e.id)!);
  }
  let ready: ReadyIndex | undefined;
  try {
    ready = updatedReadyIndex(base, { oldCache: cache, newCache: newBody, edits, fileIds, starts, textLength: text.length, newStarts }, Date.now());
  } catch {
    ready = undefined; // the next `bd ready` works it out
  }
  return {
    files: [{ path: paths.issues, data: Buffer.from(out.join(''), 'latin1') }],
    done: () => {
      const next = new LedgerState(lines, new Set(), { body: newBody.slice(0, -1) }, stamp(paths.issues), stamp(paths.wisps), parsed);
      next.ascii = true;
      next.readyIndex = ready;
      writeSummaryCache(paths, next, undefined, ready);
      states.set(paths.dir, next);
      return next;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The writer keeps the ready index
//
// A write changes the readiness of few beads: the changed ones, the beads that depend on them
// (any blocking edge), the beads that wait for (waits-for) a parent of a changed bead, and the
// descendants (parent-child, which inherit blockedness and deferral) of all of those. Every other
// bead is ready exactly when it was, so the writer, which knows what changed, checks only those
// against the new summaries, splices them into the ready list of the version it read, and moves
// the kept entries to where their lines are after the splice. The next `bd ready --json` then
// prints from the index instead of working ready work out anew. When that would not be cheap or
// certain (no index for the version read, defer times on a changed bead, many changes, a large
// or cyclic neighbourhood), the index is dropped and the next reader rebuilds it, as before.

const READY_MAX_CHANGED = 32;
const READY_MAX_AFFECTED = 2000;
const READY_MAX_SCANS = 64;

/** Thrown inside the update to give it up (caught by spliceWrite). */
class GiveUp extends Error {}

interface SpliceResult {
  /** The cache texts before and after the write (sorted lines, each ending in "\n"). */
  oldCache: string;
  newCache: string;
  /** The changed lines, in file order; `i` is where they go among the old lines. */
  edits: ReadonlyArray<{ i: number; id: string; line: string; replace: boolean }>;
  /** Ids of the old file in order, and where each line starts. */
  fileIds: readonly string[];
  starts: readonly number[];
  textLength: number;
  newStarts: ReadonlyMap<string, number>;
}

function summaryAt(cache: string, at: number): BeadSummary {
  const nl = cache.indexOf('\n', at);
  return fromTuple(JSON.parse(cache.slice(at, nl < 0 ? cache.length : nl)) as SummaryTuple);
}

function summaryIn(cache: string, id: string): BeadSummary | undefined {
  const at = cacheLineAtOrAfter(cache, id);
  return cache.startsWith(`["${id}"`, at) ? summaryAt(cache, at) : undefined;
}

function sortKey(s: BeadSummary): { p: number; t: number; id: string } {
  return { p: s.priority, t: Date.parse(s.created_at) || 0, id: s.id };
}

/** The order of `byPriorityThenAge`. */
function compareKeys(x: { p: number; t: number; id: string }, y: { p: number; t: number; id: string }): number {
  return x.p - y.p || x.t - y.t || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0);
}

/**
 * The ready index of the state a splice write makes, from the index of the state it read;
 * undefined when it cannot be carried over (see above).
 */
function updatedReadyIndex(base: LedgerState, w: SpliceResult, now: number): ReadyIndex | undefined {
  const old = base.readyIndex;
  if (!old || !(now >= old.at) || (old.until !== null && !(now < old.until))) return undefined;
  if (w.edits.length > READY_MAX_CHANGED) return undefined;
  const { newCache } = w;

  const known = new Map<string, BeadSummary | null>();
  const lookup = (id: string): BeadSummary | undefined => {
    let s = known.get(id);
    if (s === undefined) {
      s = summaryIn(newCache, id) ?? null;
      known.set(id, s);
    }
    return s ?? undefined;
  };

  // Lines of the new cache with a dependency on any of `targets`: one pass of one regex.
  let scans = 0;
  const scan = (targets: Set<string>, fn: (s: BeadSummary, d: { depends_on_id: string; type: string }) => void): void => {
    if (!targets.size) return;
    if (++scans > READY_MAX_SCANS) throw new GiveUp();
    const re = new RegExp('"(?:' + [...targets].map((t) => t.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|') + ')"', 'g');
    let lastLine = -1;
    for (const m of newCache.matchAll(re)) {
      const start = newCache.lastIndexOf('\n', m.index) + 1;
      if (start === lastLine) continue;
      lastLine = start;
      const s = summaryAt(newCache, start);
      known.set(s.id, s);
      for (const d of s.dependencies ?? []) if (targets.has(d.depends_on_id)) fn(s, d);
    }
  };

  // What changed, and the parents (before and after) whose children changed.
  const changed = new Set(w.edits.map((e) => e.id));
  const parents = new Set<string>();
  for (const e of w.edits) {
    const after = lookup(e.id);
    if (!after) return undefined;
    for (const s of e.replace ? [after, summaryIn(w.oldCache, e.id)] : [after]) {
      if (!s || s.defer_until) return undefined;
      for (const d of s.dependencies ?? []) if (d.type === 'parent-child') parents.add(d.depends_on_id);
    }
  }

  // Everything whose readiness may have changed.
  const affected = new Set(changed);
  let frontier: string[] = [];
  const add = (id: string) => {
    if (affected.has(id)) return;
    affected.add(id);
    frontier.push(id);
    if (affected.size > READY_MAX_AFFECTED) throw new GiveUp();
  };
  scan(new Set([...changed, ...parents]), (s, d) => {
    if ((changed.has(d.depends_on_id) && isBlockingType(d.type)) || (d.type === 'waits-for' && parents.has(d.depends_on_id))) add(s.id);
  });
  while (frontier.length) {
    const round = new Set(frontier);
    frontier = [];
    scan(round, (s, d) => {
      if (d.type === 'parent-child') add(s.id);
    });
  }

  // A parent-child cycle (only from hand edits) makes blockedness depend on the order beads are
  // looked at: leave such a ledger to the full computation.
  const done = new Set<string>();
  const onPath = new Set<string>();
  const walk = (id: string): void => {
    if (done.has(id)) return;
    if (onPath.has(id)) throw new GiveUp();
    onPath.add(id);
    for (const d of lookup(id)?.dependencies ?? []) if (d.type === 'parent-child') walk(d.depends_on_id);
    onPath.delete(id);
    done.add(id);
  };
  for (const id of affected) walk(id);

  const children = new Map<string, string[]>();
  const childrenOf = (id: string): string[] => {
    let kids = children.get(id);
    if (!kids) {
      const found: string[] = [];
      scan(new Set([id]), (s, d) => {
        if (d.type === 'parent-child') found.push(s.id);
      });
      kids = found;
      children.set(id, kids);
    }
    return kids;
  };
  const index = new BlockIndex(lookup, () => [], childrenOf);
  const nowReady: BeadSummary[] = [];
  for (const id of affected) {
    const s = lookup(id);
    if (s && isReady(s, lookup, index, now)) nowReady.push(s);
  }

  // Where lines start after the splice: an unchanged line moves by what changed before it.
  const editAt: number[] = [];
  const shiftAfter: number[] = [];
  let shift = 0;
  for (const e of w.edits) {
    editAt.push(e.i < w.fileIds.length ? w.starts[e.i] : w.textLength);
    shift += e.replace ? e.line.length - base.lines.get(e.id)!.length : e.line.length + 1;
    shiftAfter.push(shift);
  }
  const moved = (start: number): number => {
    let lo = 0;
    let hi = editAt.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (editAt[mid] <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo ? start + shiftAfter[lo - 1] : start;
  };
  const oldStart = (id: string): number => {
    let lo = 0;
    let hi = w.fileIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w.fileIds[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    if (w.fileIds[lo] !== id) throw new GiveUp();
    return w.starts[lo];
  };

  type Entry = ReadyIndex['beads'][number];
  const kept: Entry[] = [];
  for (const b of old.beads) {
    if (affected.has(b[0])) continue;
    kept.push(b.length > 3 ? [b[0], moved(b[1]), b[2], b[3]] : [b[0], moved(b[1]), b[2]]);
  }
  const lineOf = new Map(w.edits.map((e) => [e.id, e.line]));
  const fresh = nowReady.map((s) => ({ s, key: sortKey(s) })).sort((x, y) => compareKeys(x.key, y.key));
  const beads: Entry[] = [];
  let k = 0;
  const keptKey = (i: number) => {
    const s = lookup(kept[i][0]);
    if (!s) throw new GiveUp();
    return sortKey(s);
  };
  for (const { s, key } of fresh) {
    // Kept entries are in order: find where this one goes among those not yet placed.
    let lo = k;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keptKey(mid), key) < 0) lo = mid + 1;
      else hi = mid;
    }
    while (k < lo) beads.push(kept[k++]);
    const line = lineOf.get(s.id) ?? base.lines.get(s.id);
    if (line === undefined || beadJsonOf(line) === undefined) return undefined;
    const start = w.newStarts.get(s.id) ?? moved(oldStart(s.id));
    beads.push(s.assignee ? [s.id, start, line.length, s.assignee] : [s.id, start, line.length]);
  }
  while (k < kept.length) beads.push(kept[k++]);
  return { at: now, until: old.until, beads };
}

/** In cache text sorted by id (lines `["<id>",...]\n`): where the first line with an id >= `id` starts. */
function cacheLineAtOrAfter(cache: string, id: string): number {
  let lo = 0; // always a line start
  let hi = cache.length; // a line start, or the end
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const start = mid === 0 ? 0 : cache.lastIndexOf('\n', mid - 1) + 1;
    const lineId = cache.slice(start + SUMMARY_HEAD.length, cache.indexOf('"', start + SUMMARY_HEAD.length));
    if (lineId < id) {
      const nl = cache.indexOf('\n', start);
      lo = nl < 0 ? cache.length : nl + 1;
    } else {
      hi = start;
    }
  }
  return lo;
}

function fileText(sortedIds: string[], lines: Map<string, string>, wispIds: Set<string>, wisps: boolean): string {
  const out: string[] = [];
  for (const id of sortedIds) if (wispIds.has(id) === wisps) out.push(lines.get(id)!);
  return out.length ? out.join('\n') + '\n' : '';
}

/**
 * The JSON of a bead as printed by `--json` outputs: its stored line without `_type` when the
 * line is one bd wrote (so 10k beads print without being parsed and serialised again), else the
 * bead serialised.
 */
export function beadJson(state: LedgerState, id: string): string {
  const raw = state.lines.get(id);
  return (raw !== undefined && !state.wispIds.has(id) && beadJsonOf(raw)) || JSON.stringify(state.get(id));
}

/** The `--json` form of a stored line bd wrote (without `_type`); undefined for any other line. */
function beadJsonOf(raw: string): string | undefined {
  return ownLineId(raw) !== undefined && !raw.includes('"dependency_count":') ? '{' + raw.slice(OWN_LINE_HEAD.length - 5) : undefined;
}

/** Forget the cached state (tests that edit files by hand within one process). */
export function dropCachedState(dir?: string): void {
  if (dir) states.delete(dir);
  else states.clear();
}

// ---------------------------------------------------------------------------------------------
// Events: append-only

/** The events of a write, as the append to `path` that records them (none when there are none). */
export function eventsWrite(path: string, events: BeadEvent[]): DurableWrite[] {
  if (events.length === 0) return [];
  return [{ path, data: Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n'), append: true }];
}

export function readEvents(path: string): BeadEvent[] {
  if (!existsSync(path)) return [];
  return parseJsonl(readFileSync(path, 'utf8'), path).map((l) => l.record as unknown as BeadEvent);
}

export function writeGitignore(paths: LedgerPaths): void {
  if (!existsSync(paths.gitignore)) writeFileAtomic(paths.gitignore, LEDGER_GITIGNORE);
}
