/**
 * The Beads ledger: one folder (`.beads/`) whose `issues.jsonl` is the source of truth.
 *
 * Public API (everything else in src/beads is an implementation detail):
 *
 *   initLedger(dir, prefix): void                 create an empty ledger folder (used by `gt install`)
 *   Ledger.open(dir): Ledger                      `dir` is the `.beads` folder or the folder holding it;
 *                                                 GtError when there is no ledger
 *   ledger.prefix, ledger.dir
 *
 * Reads (never take the lock; always see the latest committed write of any process):
 *   get(idOrShort): Bead                          short ids resolve by unique prefix; GtError for an
 *                                                 unknown id or an ambiguous one (listing candidates)
 *   resolveId(idOrShort): string
 *   tryGet(id): Bead | undefined                  exact id only
 *   list(filter?: ListFilter): Bead[]             closed and deleted (tombstone) beads only with `all` or a
 *                                                 status filter
 *   ready(opts?: { limit? }): Bead[]              ready work, by priority then age (SPEC "Ready")
 *   readyIds(opts?) / readySummaries(opts?)       the same without parsing whole beads (fast at 10k)
 *   readyJson(filter?): string | Buffer           `bd ready --json` output (filter: assignee, unassigned,
 *                                                 limit); from the summary cache's ready index when it
 *                                                 holds, without loading the ledger (writes keep the index
 *                                                 up to date for the beads they change)
 *   listSummaries(filter?): BeadSummary[]         `list` without parsing whole beads
 *   blocked(): BlockedBead[]                      open work held up, with `blocked_by`
 *   dependents(id): Dependency[]                  edges pointing at `id`
 *   children(id): Bead[]                          beads whose parent is `id`
 *   cycles(): string[][]                          cycles through blocking edges (only from hand edits)
 *   search(text, filter?): Bead[]
 *   stats(): LedgerStats
 *   events(id?): BeadEvent[]
 *   exportJsonl({ all? }): string                 the original's export format (with counts)
 *   jsonArray(beads): string                      beads as a JSON array, one a line (fast for 10k)
 *
 * Writes (each is one locked read-modify-write; all input is checked before anything changes;
 * every change is recorded as an event; in a git work tree the change is queued for a commit):
 *   create(input: CreateInput): Bead
 *   createMany(inputs: CreateInput[]): Bead[]     one write; inputs may name each other by `key`
 *   update(id, patch: UpdatePatch): Bead
 *   claim(id, actor?): Bead                       only an open bead, unassigned or self-assigned
 *   close(id, { reason?, force? }): Bead          refuses while blockers are open unless `force`
 *   reopen(id, reason?): Bead
 *   addDependency(id, dependsOn, type?, { gate?, metadata? }): Dependency
 *   removeDependency(id, dependsOn, type?): Dependency[]
 *   addComment(id, text): Comment
 *   addLabel(id, label): Bead    removeLabel(id, label): Bead
 *   importJsonl(text, file): ImportResult         an export of the original (or ours), nothing lost; for a known id
 *                                                 the newer updated_at wins (see the method)
 *   transaction(fn: (tx: LedgerTx) => T): T       any mix of the above on `tx`, atomically
 * and the same with `Async` appended (createAsync, transactionAsync, ...): they wait for the lock
 * without blocking the event loop (for the worker process); the write itself takes a few ms.
 *
 *   flushLedgerCommits(dir): FlushResult          commit queued git changes now (for `gt down`)
 *   currentActor(): string                        BD_ACTOR, else the login name, else "overseer"
 *
 * Beads returned by reads are shared with the ledger's cache: treat them as read-only.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { currentActor } from '../actor.js';
import { GtError, usageError } from '../errors.js';
import { writeDurably, writeDurablySync, type DurableWrite } from '../fsutil.js';
import { acquireLock, acquireLockSync } from '../lock.js';
import { writeJsonFile } from '../town/layout.js';
import { queueLedgerCommit } from './git.js';
import {
  BlockIndex, blockedBeads, byPriorityThenAge, childrenIndex, cycleThrough, dependentsOf, findCycles, isBlockingType, parentOf, readyBeads,
  type GraphBead,
} from './graph.js';
import { dottedParent, generateId, nextChildId, validateExplicitId, validatePrefix } from './ids.js';
import {
  FINISHED_STATUSES, ISSUE_TYPES, STATUSES, type Bead, type BeadEvent, type BlockedBead, type Comment, type DepType, type Dependency, type EventType, type IssueType,
  type LedgerConfig, type Status, type WaitsForGate,
} from './model.js';
import {
  eventsWrite, beadJson, corruptLine, dropCachedState, fromRecord, ledgerPaths, loadState, parseJsonl, readEvents, readLedgerConfig, readyJsonFromIndex, saveReadyIndex,
  serializeBead, toRecord, writeGitignore, planState,
  type BeadSummary, type LedgerPaths, type LedgerState,
} from './store.js';
import {
  parseDepType, parseDepTypeFilter, parseImportedName, parseIssueType, parseMetadata, parsePriority, parseSettableStatus, parseStatusFilter, parseTime,
  parseTypeFilter, parseWaitsForGate, validateLabel, validateName, validateTitle,
} from './validate.js';

export { flushLedgerCommits, type FlushResult } from './git.js';

/** Create an empty ledger in `dir` (a `.beads` folder) whose ids start with `<prefix>-`. */
export function initLedger(dir: string, prefix: string): void {
  validatePrefix(prefix);
  mkdirSync(dir, { recursive: true });
  writeJsonFile(join(dir, 'config.json'), { prefix, version: 1 });
  if (!existsSync(join(dir, 'issues.jsonl'))) writeFileSync(join(dir, 'issues.jsonl'), '');
  writeGitignore(ledgerPaths(dir));
}

export { currentActor };

/** The ledger folder for `dir`: `dir` itself if it holds config.json, else `dir/.beads`. */
export function findLedgerDir(dir: string): string | undefined {
  if (existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'issues.jsonl'))) return dir;
  if (existsSync(join(dir, '.beads', 'config.json'))) return join(dir, '.beads');
  if (basename(dir) === '.beads' && existsSync(join(dir, 'config.json'))) return dir;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** A reference to a bead being created in the same `createMany`. */
export interface KeyRef {
  key: string;
}

export interface DepInput {
  /** An existing bead (short ids allowed) ... */
  id?: string;
  /** ... or another input of the same createMany. */
  key?: string;
  type?: DepType;
  gate?: WaitsForGate;
  metadata?: string;
}

export interface CreateInput {
  title: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  status?: Status;
  priority?: number | string;
  issue_type?: IssueType | string;
  assignee?: string;
  owner?: string;
  labels?: string[];
  /** Parent bead: adds a parent-child edge, and the new id is the next `<parent>.N`. */
  parent?: string | KeyRef;
  /** What the new bead depends on: ids (type `blocks`) or full entries. */
  deps?: Array<string | DepInput>;
  /** An explicit id (validated against the prefix). */
  id?: string;
  /** A word between prefix and hash: `cv` gives `hq-cv-x7k2m`. */
  idPrefix?: string;
  due_at?: string;
  defer_until?: string;
  ephemeral?: boolean;
  metadata?: Record<string, unknown>;
  /** Names this input for `parent`/`deps` references in the same createMany. */
  key?: string;
}

export interface UpdatePatch {
  title?: string;
  description?: string;
  design?: string;
  acceptance_criteria?: string;
  notes?: string;
  /** Appended to the notes on a new line. */
  append_notes?: string;
  status?: Status | string;
  priority?: number | string;
  issue_type?: IssueType | string;
  /** null or "" clears. */
  assignee?: string | null;
  owner?: string | null;
  due_at?: string | null;
  defer_until?: string | null;
  ephemeral?: boolean;
  metadata?: Record<string, unknown> | null;
  add_labels?: string[];
  remove_labels?: string[];
  /** With status closed: the close reason; with force: close even with open blockers. */
  close_reason?: string;
  force?: boolean;
}

export interface ListFilter {
  status?: Status | Status[];
  issue_type?: IssueType | IssueType[];
  assignee?: string;
  /** Beads carrying all these labels. */
  labels?: string[];
  priority?: number;
  /** Children of this bead. */
  parent?: string;
  /** true: only ephemeral beads; false: only kept ones; undefined: both. */
  ephemeral?: boolean;
  /** Include closed and deleted (tombstone) beads (implied by a status filter). */
  all?: boolean;
  limit?: number;
}

export interface LedgerStats {
  total: number;
  by_status: Record<string, number>;
  by_type: Record<string, number>;
  ready: number;
  blocked: number;
  ephemeral: number;
  average_lead_time_hours: number | null;
}

/** A line of an import that changed nothing, and why. */
export interface ImportSkip {
  line: number;
  id?: string;
  reason: string;
}

export interface ImportResult {
  /** New ids. */
  added: number;
  /** Known ids whose line in the file is newer (`updated_at`) than the ledger's copy. */
  updated: number;
  /** Known ids whose line is the same bead as the ledger's copy. */
  unchanged: number;
  /** Lines left out: an older copy of a bead the ledger has, or a record that is not an issue. */
  skipped: number;
  /** Ids added or updated. */
  ids: string[];
  skips: ImportSkip[];
}

// ---------------------------------------------------------------------------------------------
// Transactions

const FINISHED = new Set(FINISHED_STATUSES);

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function unknownId(id: string, dir: string): GtError {
  return new GtError(`no bead "${id}" in the ledger at ${dir}`, { hint: 'check the id with `bd list --all` (a short id must match the start of exactly one id)' });
}

/**
 * One read-modify-write of the ledger. Changes are kept here until the transaction ends; a
 * thrown error discards them all. Use only inside `ledger.transaction(...)`.
 */
export class LedgerTx {
  readonly events: BeadEvent[] = [];
  /** One line per change, for the git commit message. */
  readonly summaries: string[] = [];
  readonly now: string;
  private readonly working = new Map<string, Bead>();
  private readonly keys = new Map<string, string>();

  constructor(
    readonly ledger: Ledger,
    private readonly base: LedgerState,
    readonly actor: string,
  ) {
    this.now = new Date().toISOString();
  }

  /** The current version of a bead (pending changes included), exact id. */
  lookup = (id: string): Bead | undefined => this.working.get(id) ?? this.base.get(id);

  /** The stored line of a bead as read (none for one changed in this transaction). */
  storedLine(id: string): string | undefined {
    return this.working.has(id) ? undefined : this.base.lines.get(id);
  }

  /** For graph checks: pending changes over the cached summaries (no need to parse every bead). */
  graphLookup = (id: string): GraphBead | undefined => this.working.get(id) ?? this.base.summary(id);

  private exists(id: string): boolean {
    return this.working.has(id) || this.base.has(id);
  }

  /** Every bead, parsed (slow at 10k beads: graph checks use summaries instead). */
  *all(): Iterable<Bead> {
    for (const id of this.base.ids()) yield this.working.get(id) ?? this.base.get(id)!;
    for (const [id, b] of this.working) if (!this.base.has(id)) yield b;
  }

  private *graphAll(): Iterable<GraphBead> {
    for (const [id, s] of this.base.summaries()) yield this.working.get(id) ?? s;
    for (const [id, b] of this.working) if (!this.base.has(id)) yield b;
  }

  get size(): number {
    let n = this.base.size;
    for (const id of this.working.keys()) if (!this.base.has(id)) n++;
    return n;
  }

  /** Beads changed or created in this transaction. */
  get changed(): ReadonlyMap<string, Bead> {
    return this.working;
  }

  resolve(idOrShort: string): string {
    return resolveIn(idOrShort, this.ledger.prefix, this.ledger.dir, (id) => this.exists(id), () => this.idList());
  }

  private idList(): string[] {
    const ids = [...this.base.ids()];
    for (const id of this.working.keys()) if (!this.base.has(id)) ids.push(id);
    return ids;
  }

  get(idOrShort: string): Bead {
    return this.lookup(this.resolve(idOrShort))!;
  }

  /** A bead to change: copied on first touch so a failed transaction leaves the cache intact. */
  private mut(id: string): Bead {
    let b = this.working.get(id);
    if (!b) {
      const base = this.base.get(id);
      if (!base) throw unknownId(id, this.ledger.dir);
      b = clone(base);
      this.working.set(id, b);
    }
    return b;
  }

  private event(issue_id: string, event_type: EventType, extra: Partial<BeadEvent> = {}): void {
    this.events.push({ issue_id, event_type, actor: this.actor, ...extra, created_at: this.now });
  }

  /** A dependency target: a bead here, or (for ids of another ledger's prefix) taken as given. */
  private resolveTarget(ref: string | DepInput): string {
    if (typeof ref !== 'string') {
      if (ref.key !== undefined) {
        const id = this.keys.get(ref.key);
        if (!id) throw usageError(`no input with key "${ref.key}" in this batch`, 'give each referenced input a matching `key`');
        return id;
      }
      if (ref.id === undefined) throw usageError('a dependency needs an id or a key');
      return this.resolveTarget(ref.id);
    }
    const foreign = /^[a-z][a-z0-9-]*-[a-z0-9]/.test(ref) && !ref.startsWith(this.ledger.prefix + '-') && !this.exists(ref);
    const otherLedger = foreign && !this.idList().some((id) => id.startsWith(ref));
    return otherLedger ? ref : this.resolve(ref);
  }

  create(input: CreateInput): Bead {
    const title = validateTitle(input.title);
    const status = input.status === undefined ? 'open' : parseSettableStatus(input.status);
    const priority = input.priority === undefined ? 2 : parsePriority(input.priority);
    const issueType = parseIssueType(input.issue_type ?? 'task');
    const labels = [...new Set((input.labels ?? []).map(validateLabel))];
    const assignee = input.assignee === undefined || input.assignee === '' ? undefined : validateName('assignee', input.assignee);
    const owner = input.owner === undefined || input.owner === '' ? undefined : validateName('owner', input.owner);
    const dueAt = input.due_at === undefined ? undefined : parseTime('due date', input.due_at);
    const deferUntil = input.defer_until === undefined ? undefined : parseTime('defer time', input.defer_until);
    const metadata = input.metadata === undefined ? undefined : parseMetadata(input.metadata);
    if (input.key !== undefined && this.keys.has(input.key)) throw usageError(`two inputs have the key "${input.key}"`);
    if (input.idPrefix !== undefined && !/^[a-z0-9]+$/.test(input.idPrefix)) {
      throw usageError(`invalid id sub-prefix "${input.idPrefix}"`, 'use lowercase letters and digits, e.g. "cv"');
    }
    const parentId =
      input.parent === undefined ? undefined : typeof input.parent === 'string' ? this.resolve(input.parent) : this.resolveTarget(input.parent);
    const deps = (input.deps ?? []).map((d) => (typeof d === 'string' ? { id: d } : d));
    for (const d of deps) if (d.type !== undefined) parseDepType(d.type);
    // Targets resolve before the new bead exists, so it can never match a short id.
    // A key of a later input is left for createMany, which adds those edges once every input exists.
    const targets = deps.map((d) => (d.key !== undefined && !this.keys.has(d.key) ? undefined : this.resolveTarget(d)));

    let id: string;
    if (input.id !== undefined) {
      id = validateExplicitId(input.id, this.ledger.prefix);
      if (this.exists(id)) throw new GtError(`a bead with id ${id} already exists`, { hint: 'choose another id, or leave out --id to get a new one' });
      const dotted = dottedParent(id);
      if (dotted && !this.exists(dotted)) {
        throw usageError(`${id} is a child id but its parent ${dotted} does not exist`, 'create the parent first');
      }
    } else if (parentId && !input.idPrefix) {
      id = nextChildId(parentId, this.idList());
    } else {
      id = generateId(
        { prefix: this.ledger.prefix, subPrefix: input.idPrefix, title, actor: this.actor, time: this.now, count: this.size },
        (candidate) => this.exists(candidate),
      );
    }

    const bead: Bead = {
      id,
      title,
      description: input.description || undefined,
      design: input.design || undefined,
      acceptance_criteria: input.acceptance_criteria || undefined,
      notes: input.notes || undefined,
      status,
      priority,
      issue_type: issueType,
      assignee,
      owner,
      created_at: this.now,
      created_by: this.actor,
      updated_at: this.now,
      started_at: status === 'in_progress' ? this.now : undefined,
      closed_at: status === 'closed' ? this.now : undefined,
      due_at: dueAt,
      defer_until: deferUntil,
      metadata,
      labels: labels.length ? labels : undefined,
      ephemeral: input.ephemeral ? true : undefined,
    };
    for (const k of Object.keys(bead) as Array<keyof Bead>) if (bead[k] === undefined) delete bead[k];
    this.working.set(id, bead);
    if (input.key !== undefined) this.keys.set(input.key, id);
    this.event(id, 'created', { new_value: title });
    this.summaries.push(`create ${id} "${title}"`);
    if (parentId) this.addDependency(id, parentId, 'parent-child');
    deps.forEach((d, i) => {
      if (targets[i] !== undefined) this.addDependency(id, targets[i]!, d.type ?? 'blocks', { gate: d.gate, metadata: d.metadata });
    });
    return bead;
  }

  createMany(inputs: CreateInput[]): Bead[] {
    const made = inputs.map((input) => this.create(input));
    inputs.forEach((input, i) => {
      for (const d of input.deps ?? []) {
        if (typeof d === 'string' || d.key === undefined) continue;
        if (this.lookup(made[i].id)?.dependencies?.some((x) => x.depends_on_id === this.keys.get(d.key!) && x.type === (d.type ?? 'blocks'))) continue;
        this.addDependency(made[i].id, this.resolveTarget(d), d.type ?? 'blocks', { gate: d.gate, metadata: d.metadata });
      }
    });
    return made.map((b) => this.lookup(b.id)!);
  }

  update(idOrShort: string, patch: UpdatePatch): Bead {
    const id = this.resolve(idOrShort);
    const current = this.lookup(id)!;
    // Check every value before touching the bead.
    const next: Partial<Record<keyof Bead, unknown>> = {};
    if (patch.title !== undefined) next.title = validateTitle(patch.title);
    for (const k of ['description', 'design', 'acceptance_criteria', 'notes'] as const) {
      if (patch[k] !== undefined) next[k] = patch[k] || undefined;
    }
    if (patch.append_notes !== undefined && patch.append_notes !== '') {
      const base = (next.notes as string | undefined) ?? current.notes;
      next.notes = base ? `${base}\n${patch.append_notes}` : patch.append_notes;
    }
    const status = patch.status === undefined ? undefined : parseSettableStatus(patch.status);
    if (patch.priority !== undefined) next.priority = parsePriority(patch.priority);
    if (patch.issue_type !== undefined) next.issue_type = parseIssueType(patch.issue_type);
    if (patch.assignee !== undefined) next.assignee = patch.assignee ? validateName('assignee', patch.assignee) : undefined;
    if (patch.owner !== undefined) next.owner = patch.owner ? validateName('owner', patch.owner) : undefined;
    if (patch.due_at !== undefined) next.due_at = patch.due_at ? parseTime('due date', patch.due_at) : undefined;
    if (patch.defer_until !== undefined) next.defer_until = patch.defer_until ? parseTime('defer time', patch.defer_until) : undefined;
    if (patch.metadata !== undefined) next.metadata = patch.metadata === null ? undefined : parseMetadata(patch.metadata);
    if (patch.ephemeral !== undefined) next.ephemeral = patch.ephemeral ? true : undefined;
    const addLabels = (patch.add_labels ?? []).map(validateLabel);
    const removeLabels = (patch.remove_labels ?? []).map(validateLabel);

    if (status === 'closed' && current.status !== 'closed') {
      this.close(id, { reason: patch.close_reason, force: patch.force });
    } else if (status !== undefined && status !== current.status) {
      this.setStatus(id, status);
    }
    const b = this.lookup(id)!;
    let changed = false;
    for (const [k, v] of Object.entries(next) as Array<[keyof Bead, unknown]>) {
      const old = b[k];
      if (JSON.stringify(old) === JSON.stringify(v)) continue;
      const m = this.mut(id) as unknown as Record<string, unknown>;
      if (v === undefined) delete m[k];
      else m[k] = v;
      changed = true;
      this.event(id, 'updated', { field: k, old_value: old, new_value: v });
      this.summaries.push(`update ${id} ${k}: ${short(old)} → ${short(v)}`);
    }
    if (changed) this.mut(id).updated_at = this.now;
    for (const l of addLabels) this.addLabel(id, l);
    for (const l of removeLabels) this.removeLabel(id, l);
    return this.lookup(id)!;
  }

  /** Status change other than closing, keeping started_at / closed_at right. */
  private setStatus(id: string, status: Status): void {
    const b = this.mut(id);
    const old = b.status;
    if (old === status) return;
    b.status = status;
    b.updated_at = this.now;
    if (status === 'in_progress' && !b.started_at) b.started_at = this.now;
    if (old === 'closed') {
      delete b.closed_at;
      delete b.close_reason;
      this.event(id, 'reopened', { old_value: old, new_value: status });
    } else {
      this.event(id, 'status_changed', { old_value: old, new_value: status });
    }
    this.summaries.push(`update ${id} status: ${old} → ${status}`);
  }

  claim(idOrShort: string, actor: string = this.actor): Bead {
    const who = validateName('actor', actor);
    const id = this.resolve(idOrShort);
    const b = this.lookup(id)!;
    if ((b.status === 'in_progress' || b.status === 'hooked') && b.assignee === who) return b;
    if (b.status !== 'open' || (b.assignee && b.assignee !== who)) {
      const by = b.assignee ? `, assigned to ${b.assignee}` : '';
      throw new GtError(`cannot claim ${id}: it is ${b.status}${by}`, {
        hint: 'only an open bead that is unassigned (or assigned to you) can be claimed; find one with `bd ready`',
      });
    }
    const m = this.mut(id);
    const oldAssignee = m.assignee;
    m.assignee = who;
    m.status = 'in_progress';
    m.started_at ??= this.now;
    m.updated_at = this.now;
    this.event(id, 'claimed', { old_value: oldAssignee ?? null, new_value: who });
    this.event(id, 'status_changed', { old_value: 'open', new_value: 'in_progress' });
    this.summaries.push(`claim ${id} for ${who}`);
    return m;
  }

  /** Unfinished things keeping `id` from being done (blocks / waits-for targets, a blocked parent). */
  openBlockers(id: string): string[] {
    return new BlockIndex(this.graphLookup, () => this.graphAll()).blockers(id);
  }

  close(idOrShort: string, opts: { reason?: string; force?: boolean } = {}): Bead {
    const id = this.resolve(idOrShort);
    const b = this.lookup(id)!;
    if (b.status === 'closed') return b;
    if (!opts.force) {
      const blockers = this.openBlockers(id);
      if (blockers.length) {
        throw new GtError(`cannot close ${id}: it is blocked by open ${blockers.length === 1 ? 'bead' : 'beads'} ${blockers.join(', ')}`, {
          hint: 'close the blockers first, or pass --force to close it anyway',
        });
      }
    }
    const m = this.mut(id);
    const old = m.status;
    m.status = 'closed';
    m.closed_at = this.now;
    m.updated_at = this.now;
    if (opts.reason) m.close_reason = opts.reason;
    else delete m.close_reason;
    this.event(id, 'closed', { old_value: old, new_value: 'closed', comment: opts.reason });
    this.summaries.push(`close ${id}${opts.reason ? `: ${opts.reason}` : ''}`);
    return m;
  }

  reopen(idOrShort: string, reason?: string): Bead {
    const id = this.resolve(idOrShort);
    if (this.lookup(id)!.status !== 'closed') return this.lookup(id)!;
    this.setStatus(id, 'open');
    if (reason) this.events[this.events.length - 1].comment = reason;
    return this.lookup(id)!;
  }

  addDependency(idOrShort: string, dependsOn: string, type: DepType | string = 'blocks', opts: { gate?: WaitsForGate; metadata?: string } = {}): Dependency {
    const depType = parseDepType(type);
    const id = this.resolve(idOrShort);
    const target = this.resolveTarget(dependsOn);
    if (id === target) {
      throw new GtError(`${id} cannot depend on itself`, { hint: 'name two different beads: bd dep add <bead> <what it depends on>' });
    }
    let metadata = opts.metadata;
    if (opts.gate !== undefined) {
      if (depType !== 'waits-for') throw usageError('a gate (all-children / any-children) applies only to waits-for dependencies');
      metadata = JSON.stringify({ gate: parseWaitsForGate(opts.gate) });
    }
    if (metadata !== undefined) {
      try {
        JSON.parse(metadata);
      } catch {
        throw usageError('dependency metadata must be JSON text');
      }
    }
    const existing = this.lookup(id)!.dependencies?.find((d) => d.depends_on_id === target && d.type === depType);
    if (existing) return existing;
    if (depType === 'parent-child') {
      const parent = parentOf(this.lookup(id)!);
      if (parent && parent !== target) {
        throw new GtError(`${id} already has the parent ${parent}`, { hint: `remove it first: bd dep remove ${id} ${parent} -t parent-child` });
      }
    }
    if (isBlockingType(depType)) {
      const cycle = cycleThrough(id, target, this.graphLookup);
      if (cycle) {
        throw new GtError(`adding ${id} → ${target} (${depType}) would make a dependency cycle: ${cycle.join(' → ')}`, {
          hint: 'remove one of the dependencies in the cycle, or use a non-blocking type such as related',
        });
      }
    }
    const dep: Dependency = { issue_id: id, depends_on_id: target, type: depType, created_at: this.now, created_by: this.actor };
    if (metadata !== undefined) dep.metadata = metadata;
    const m = this.mut(id);
    (m.dependencies ??= []).push(dep);
    m.updated_at = this.now;
    this.event(id, 'dependency_added', { new_value: `${target} (${depType})` });
    this.summaries.push(`dep add ${id} → ${target} (${depType})`);
    return dep;
  }

  removeDependency(idOrShort: string, dependsOn: string, type?: DepType | string): Dependency[] {
    const depType = type === undefined ? undefined : parseDepTypeFilter(type);
    const id = this.resolve(idOrShort);
    const deps = this.lookup(id)!.dependencies ?? [];
    const target = deps.some((d) => d.depends_on_id === dependsOn) ? dependsOn : this.resolveTarget(dependsOn);
    const gone = deps.filter((d) => d.depends_on_id === target && (depType === undefined || d.type === depType));
    if (!gone.length) {
      throw new GtError(`${id} has no ${depType ?? ''}${depType ? ' ' : ''}dependency on ${target}`, { hint: `see its dependencies with bd dep list ${id}` });
    }
    const m = this.mut(id);
    m.dependencies = deps.filter((d) => !gone.includes(d));
    if (!m.dependencies.length) delete m.dependencies;
    m.updated_at = this.now;
    for (const d of gone) {
      this.event(id, 'dependency_removed', { old_value: `${d.depends_on_id} (${d.type})` });
      this.summaries.push(`dep remove ${id} → ${d.depends_on_id} (${d.type})`);
    }
    return gone;
  }

  addComment(idOrShort: string, text: string): Comment {
    if (typeof text !== 'string' || text.trim() === '') throw usageError('a comment needs text', 'bd comments add <id> "what you want to say"');
    const id = this.resolve(idOrShort);
    const m = this.mut(id);
    const next = (m.comments ?? []).reduce((n, c) => Math.max(n, Number(c.id) || 0), 0) + 1;
    const comment: Comment = { id: String(next), issue_id: id, author: this.actor, text, created_at: this.now };
    (m.comments ??= []).push(comment);
    m.updated_at = this.now;
    this.event(id, 'commented', { comment: text });
    this.summaries.push(`comment on ${id}: ${short(text)}`);
    return comment;
  }

  addLabel(idOrShort: string, label: string): Bead {
    validateLabel(label);
    const id = this.resolve(idOrShort);
    if (this.lookup(id)!.labels?.includes(label)) return this.lookup(id)!;
    const m = this.mut(id);
    (m.labels ??= []).push(label);
    m.updated_at = this.now;
    this.event(id, 'label_added', { new_value: label });
    this.summaries.push(`label add ${id} ${label}`);
    return m;
  }

  removeLabel(idOrShort: string, label: string): Bead {
    validateLabel(label);
    const id = this.resolve(idOrShort);
    if (!this.lookup(id)!.labels?.includes(label)) return this.lookup(id)!;
    const m = this.mut(id);
    m.labels = m.labels!.filter((l) => l !== label);
    if (!m.labels.length) delete m.labels;
    m.updated_at = this.now;
    this.event(id, 'label_removed', { old_value: label });
    this.summaries.push(`label remove ${id} ${label}`);
    return m;
  }

  /** Add or replace beads from export records (already validated by `checkImported`). */
  put(bead: Bead, how: 'created' | 'updated'): void {
    this.working.set(bead.id, bead);
    this.event(bead.id, how === 'created' ? 'created' : 'updated', { comment: 'import', new_value: how === 'created' ? bead.title : undefined });
  }
}

function short(v: unknown): string {
  const s = v === undefined || v === null ? '(none)' : typeof v === 'string' ? v : JSON.stringify(v);
  const line = s.replace(/\s+/g, ' ');
  return line.length > 60 ? line.slice(0, 57) + '...' : line;
}

/**
 * Resolve a full or short id. Exact ids win; otherwise the id must be the start of exactly one
 * id (with or without the `<prefix>-`). A short id without a dot matches root ids before
 * children, so `abc` finds `hq-abc12` even though `hq-abc12.1` exists.
 */
function resolveIn(input: string, prefix: string, dir: string, has: (id: string) => boolean, ids: () => Iterable<string>): string {
  const q = input.trim().toLowerCase();
  if (!q) throw usageError('an id is empty', 'give a bead id such as ' + prefix + '-abc12');
  if (has(q)) return q;
  if (has(`${prefix}-${q}`)) return `${prefix}-${q}`;
  const heads = q.startsWith(prefix + '-') ? [q] : [q, `${prefix}-${q}`];
  let matches: string[] = [];
  for (const id of ids()) if (heads.some((h) => id.startsWith(h))) matches.push(id);
  if (matches.length > 1 && !q.includes('.')) {
    const roots = matches.filter((m) => !m.includes('.'));
    if (roots.length) matches = roots;
  }
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw unknownId(input, dir);
  matches.sort();
  const shown = matches.slice(0, 10).join(', ') + (matches.length > 10 ? `, ... (${matches.length} in all)` : '');
  throw new GtError(`"${input}" is ambiguous: it matches ${shown}`, { hint: 'type more characters of the id' });
}

// ---------------------------------------------------------------------------------------------
// The ledger

export class Ledger {
  readonly paths: LedgerPaths;
  readonly config: LedgerConfig;

  private constructor(readonly dir: string) {
    this.paths = ledgerPaths(dir);
    this.config = readLedgerConfig(this.paths);
  }

  static open(dir: string): Ledger {
    const found = findLedgerDir(dir);
    if (!found) {
      throw new GtError(`no beads ledger at ${dir}`, { hint: 'run `bd init` to make one here, or cd into a town, rig or folder that has .beads' });
    }
    return new Ledger(found);
  }

  get prefix(): string {
    return this.config.prefix;
  }

  private state(): LedgerState {
    return loadState(this.paths);
  }

  // --- reads ----------------------------------------------------------------------------------

  resolveId(idOrShort: string): string {
    const s = this.state();
    return resolveIn(idOrShort, this.prefix, this.dir, (id) => s.has(id), () => s.ids());
  }

  /** Beads (by id) as a JSON array, one a line, re-using stored lines: the fast path of `--json` lists. */
  jsonArray(ids: Array<string | { id: string }>): string {
    const s = this.state();
    return ids.length ? '[\n' + ids.map((x) => beadJson(s, typeof x === 'string' ? x : x.id)).join(',\n') + '\n]\n' : '[]\n';
  }

  tryGet(id: string): Bead | undefined {
    return this.state().get(id);
  }

  get(idOrShort: string): Bead {
    return this.state().get(this.resolveId(idOrShort))!;
  }

  all(): Bead[] {
    return [...this.state().beads()];
  }

  list(filter: ListFilter = {}): Bead[] {
    const s = this.state();
    return this.listSummaries(filter).map((b) => s.get(b.id)!);
  }

  /** `list` without parsing the beads (what `bd list --json` prints from). */
  listSummaries(filter: ListFilter = {}): BeadSummary[] {
    const statuses = filter.status === undefined ? undefined : new Set((Array.isArray(filter.status) ? filter.status : [filter.status]).map(parseStatusFilter));
    const types = filter.issue_type === undefined ? undefined : new Set((Array.isArray(filter.issue_type) ? filter.issue_type : [filter.issue_type]).map(parseTypeFilter));
    const priority = filter.priority === undefined ? undefined : parsePriority(filter.priority);
    const parent = filter.parent === undefined ? undefined : this.resolveId(filter.parent);
    const all = this.state().summaries();
    // A name we do not know is a typo unless an imported bead carries it (a custom one).
    if (statuses) checkPresent('status', statuses, STATUSES, all.values(), (b) => b.status);
    if (types) checkPresent('issue type', types, ISSUE_TYPES, all.values(), (b) => b.issue_type);
    const out: BeadSummary[] = [];
    for (const b of all.values()) {
      if (statuses ? !statuses.has(b.status) : !filter.all && FINISHED.has(b.status)) continue;
      if (types && !types.has(b.issue_type)) continue;
      if (filter.assignee !== undefined && (b.assignee ?? '') !== filter.assignee) continue;
      if (priority !== undefined && b.priority !== priority) continue;
      if (filter.labels?.length && !filter.labels.every((l) => b.labels?.includes(l))) continue;
      if (filter.ephemeral !== undefined && Boolean(b.ephemeral) !== filter.ephemeral) continue;
      if (parent !== undefined && parentOf(b) !== parent) continue;
      out.push(b);
    }
    const sorted = byPriorityThenAge(out);
    return filter.limit !== undefined && filter.limit >= 0 ? sorted.slice(0, filter.limit) : sorted;
  }

  ready(opts: { limit?: number; now?: number } = {}): Bead[] {
    const s = this.state();
    return this.readyIds(opts).map((id) => s.get(id)!);
  }

  /** Ids of the ready work, in order, without parsing the beads (what `bd ready --json` prints from). */
  readyIds(opts: { limit?: number; now?: number } = {}): string[] {
    return this.readySummaries(opts).map((b) => b.id);
  }

  readySummaries(opts: { limit?: number; now?: number } = {}): BeadSummary[] {
    const s = this.state();
    const sums = s.summaries();
    const now = opts.now ?? Date.now();
    const out = readyBeads(sums.values(), (id) => sums.get(id), now);
    // The answer for this file version, kept for the next `bd ready --json` (see readyJson).
    if (opts.now === undefined) saveReadyIndex(this.paths, s, out, now);
    return opts.limit !== undefined && opts.limit >= 0 ? out.slice(0, opts.limit) : out;
  }

  /** The ready work as `--json` prints it: a JSON array of beads, one a line. */
  readyJson(filter: { assignee?: string; unassigned?: boolean; limit?: number } = {}): string | Buffer {
    const hit = readyJsonFromIndex(this.paths, Date.now(), filter);
    if (hit) return hit;
    let ready = this.readySummaries();
    if (filter.assignee !== undefined) ready = ready.filter((b) => b.assignee === filter.assignee);
    if (filter.unassigned) ready = ready.filter((b) => !b.assignee);
    if (filter.limit !== undefined) ready = ready.slice(0, filter.limit);
    return this.jsonArray(ready);
  }

  blocked(): BlockedBead[] {
    const s = this.state();
    const sums = s.summaries();
    return blockedBeads(sums.values(), (id) => sums.get(id)).map(({ bead, blocked_by }) => ({
      ...s.get(bead.id)!,
      blocked_by,
      blocked_by_count: blocked_by.length,
    }));
  }

  /** Open blockers of one bead (what keeps it from being ready or closed). */
  blockersOf(idOrShort: string): string[] {
    const sums = this.state().summaries();
    return new BlockIndex((id) => sums.get(id), () => sums.values()).blockers(this.resolveId(idOrShort));
  }

  dependents(idOrShort: string): Dependency[] {
    return dependentsOf(this.resolveId(idOrShort), this.state().summaries().values());
  }

  children(idOrShort: string): Bead[] {
    const id = this.resolveId(idOrShort);
    const s = this.state();
    return (childrenIndex(s.summaries().values()).get(id) ?? []).map((c) => s.get(c)!);
  }

  cycles(): string[][] {
    return findCycles(this.state().summaries().values());
  }

  search(text: string, filter: ListFilter = {}): Bead[] {
    const q = text.toLowerCase();
    if (!q.trim()) throw usageError('search needs some text', 'bd search "login timeout"');
    // Closed beads are found too; deleted ones (tombstones) only with `all` or a status filter.
    const hideTombstones = !filter.all && filter.status === undefined;
    return this.list({ ...filter, all: true }).filter(
      (b) =>
        !(hideTombstones && b.status === 'tombstone') &&
        [b.id, b.title, b.description, b.notes, b.design, b.acceptance_criteria].some((f) => f?.toLowerCase().includes(q)),
    );
  }

  stats(): LedgerStats {
    const beads = [...this.state().summaries().values()];
    const byStatus: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    const byType: Record<string, number> = {};
    let lead = 0;
    let closed = 0;
    for (const b of beads) {
      byStatus[b.status] = (byStatus[b.status] ?? 0) + 1;
      // Types count live beads: a tombstone keeps the type it had, but is no longer one.
      if (b.status !== 'tombstone') byType[b.issue_type] = (byType[b.issue_type] ?? 0) + 1;
      if (b.status === 'closed' && b.closed_at) {
        const t = Date.parse(b.closed_at) - Date.parse(b.created_at);
        if (Number.isFinite(t)) {
          lead += t;
          closed++;
        }
      }
    }
    return {
      total: beads.length,
      by_status: byStatus,
      by_type: byType,
      ready: this.readyIds().length,
      blocked: this.blocked().length,
      ephemeral: beads.filter((b) => b.ephemeral).length,
      average_lead_time_hours: closed ? Math.round((lead / closed / 3_600_000) * 100) / 100 : null,
    };
  }

  events(idOrShort?: string): BeadEvent[] {
    const all = [...readEvents(this.paths.events), ...readEvents(this.paths.wispEvents)];
    const id = idOrShort === undefined ? undefined : this.resolveId(idOrShort);
    const out = id === undefined ? all : all.filter((e) => e.issue_id === id);
    return out.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0));
  }

  /** The original's export: one `{"_type":"issue",...}` line per bead, sorted by id, with counts. */
  exportJsonl(opts: { all?: boolean } = {}): string {
    const beads = this.all().filter((b) => opts.all || !b.ephemeral);
    const dependents = new Map<string, number>();
    for (const b of this.all()) for (const d of b.dependencies ?? []) dependents.set(d.depends_on_id, (dependents.get(d.depends_on_id) ?? 0) + 1);
    beads.sort((a, b) => (a.id < b.id ? -1 : 1));
    return beads
      .map((b) =>
        JSON.stringify(
          toRecord(b, { dependency_count: b.dependencies?.length ?? 0, dependent_count: dependents.get(b.id) ?? 0, comment_count: b.comments?.length ?? 0 }),
        ) + '\n',
      )
      .join('');
  }

  // --- writes ---------------------------------------------------------------------------------

  /** Run `fn` as one atomic read-modify-write under the ledger lock (waits synchronously). */
  transaction<T>(fn: (tx: LedgerTx) => T, opts: { actor?: string } = {}): T {
    const release = acquireLockSync(this.paths.lock, { what: `the ledger in ${this.dir}` });
    try {
      const w = this.prepareWrite(fn, opts.actor);
      writeDurablySync(w.files);
      w.done();
      return w.result;
    } finally {
      release();
    }
  }

  /** Like `transaction`, but waits for the lock, and writes and fsyncs the files, without blocking the event loop. */
  async transactionAsync<T>(fn: (tx: LedgerTx) => T, opts: { actor?: string } = {}): Promise<T> {
    const release = await acquireLock(this.paths.lock, { what: `the ledger in ${this.dir}`, timeoutMs: 60_000 });
    try {
      const w = this.prepareWrite(fn, opts.actor);
      await writeDurably(w.files);
      w.done();
      return w.result;
    } finally {
      release();
    }
  }

  /** Under the lock: `fn`'s changes worked out as the files to write (beads, then events), and what follows once they are written. */
  private prepareWrite<T>(fn: (tx: LedgerTx) => T, actor?: string): { result: T; files: DurableWrite[]; done: () => void } {
    const base = this.state();
    const tx = new LedgerTx(this, base, actor ?? currentActor());
    const result = fn(tx);
    if (tx.changed.size === 0) return { result, files: [], done: () => undefined };
    for (const b of tx.changed.values()) {
      // The one invariant every write keeps, whatever path changed the bead.
      if (b.status === 'closed') b.closed_at ??= tx.now;
      else if (b.status !== 'tombstone') delete b.closed_at;
    }
    const state = planState(this.paths, base, new Map(tx.changed));
    const wispIds = new Set([...tx.changed.values()].filter((b) => b.ephemeral).map((b) => b.id));
    const files = [
      ...state.files,
      ...eventsWrite(this.paths.events, tx.events.filter((e) => !wispIds.has(e.issue_id))),
      ...eventsWrite(this.paths.wispEvents, tx.events.filter((e) => wispIds.has(e.issue_id))),
    ];
    const done = () => {
      state.done();
      if (this.config.auto_commit === false) return;
      const kept = tx.summaries.filter((s) => ![...wispIds].some((w) => s.includes(w)));
      if (kept.length) {
        writeGitignore(this.paths);
        queueLedgerCommit(this.dir, tx.actor, kept);
      }
    };
    return { result, files, done };
  }

  create(input: CreateInput): Bead {
    return this.transaction((tx) => tx.create(input));
  }
  createMany(inputs: CreateInput[]): Bead[] {
    return this.transaction((tx) => tx.createMany(inputs));
  }
  update(id: string, patch: UpdatePatch): Bead {
    return this.transaction((tx) => tx.update(id, patch));
  }
  claim(id: string, actor?: string): Bead {
    return this.transaction((tx) => tx.claim(id, actor), { actor });
  }
  close(id: string, opts: { reason?: string; force?: boolean } = {}): Bead {
    return this.transaction((tx) => tx.close(id, opts));
  }
  reopen(id: string, reason?: string): Bead {
    return this.transaction((tx) => tx.reopen(id, reason));
  }
  addDependency(id: string, dependsOn: string, type: DepType | string = 'blocks', opts: { gate?: WaitsForGate; metadata?: string } = {}): Dependency {
    return this.transaction((tx) => tx.addDependency(id, dependsOn, type, opts));
  }
  removeDependency(id: string, dependsOn: string, type?: DepType | string): Dependency[] {
    return this.transaction((tx) => tx.removeDependency(id, dependsOn, type));
  }
  addComment(id: string, text: string): Comment {
    return this.transaction((tx) => tx.addComment(id, text));
  }
  addLabel(id: string, label: string): Bead {
    return this.transaction((tx) => tx.addLabel(id, label));
  }
  removeLabel(id: string, label: string): Bead {
    return this.transaction((tx) => tx.removeLabel(id, label));
  }

  createAsync(input: CreateInput): Promise<Bead> {
    return this.transactionAsync((tx) => tx.create(input));
  }
  createManyAsync(inputs: CreateInput[]): Promise<Bead[]> {
    return this.transactionAsync((tx) => tx.createMany(inputs));
  }
  updateAsync(id: string, patch: UpdatePatch): Promise<Bead> {
    return this.transactionAsync((tx) => tx.update(id, patch));
  }
  claimAsync(id: string, actor?: string): Promise<Bead> {
    return this.transactionAsync((tx) => tx.claim(id, actor), { actor });
  }
  closeAsync(id: string, opts: { reason?: string; force?: boolean } = {}): Promise<Bead> {
    return this.transactionAsync((tx) => tx.close(id, opts));
  }
  reopenAsync(id: string, reason?: string): Promise<Bead> {
    return this.transactionAsync((tx) => tx.reopen(id, reason));
  }
  addDependencyAsync(id: string, dependsOn: string, type: DepType | string = 'blocks', opts: { gate?: WaitsForGate; metadata?: string } = {}): Promise<Dependency> {
    return this.transactionAsync((tx) => tx.addDependency(id, dependsOn, type, opts));
  }
  removeDependencyAsync(id: string, dependsOn: string, type?: DepType | string): Promise<Dependency[]> {
    return this.transactionAsync((tx) => tx.removeDependency(id, dependsOn, type));
  }
  addCommentAsync(id: string, text: string): Promise<Comment> {
    return this.transactionAsync((tx) => tx.addComment(id, text));
  }
  addLabelAsync(id: string, label: string): Promise<Bead> {
    return this.transactionAsync((tx) => tx.addLabel(id, label));
  }
  removeLabelAsync(id: string, label: string): Promise<Bead> {
    return this.transactionAsync((tx) => tx.removeLabel(id, label));
  }

  /**
   * Import a JSONL export of the original Beads (or of ours), losing nothing: every field is kept
   * as it came, known or not (custom types and statuses, tombstones, fields of newer versions).
   * A new id is added. For an id the ledger has, the newer `updated_at` wins: a newer line
   * updates the bead, an older one is skipped (and reported), the same bead is unchanged; the
   * same `updated_at` with different content is an error, since nothing says which is right.
   * Records of other types (`"_type":"memory"`) are skipped. Every line is checked before
   * anything is written; a bad one is an error naming the file and line, and nothing is written.
   */
  importJsonl(text: string, file: string): ImportResult {
    const lines = parseJsonl(text, file);
    const incoming: Array<{ line: number; bead: Bead }> = [];
    const skips: ImportSkip[] = [];
    const seen = new Map<string, number>();
    for (const { line, record } of lines) {
      if (record._type !== undefined && record._type !== 'issue') {
        skips.push({ line, reason: `a "${String(record._type)}" record, not an issue` });
        continue;
      }
      const bead = checkImported(record, file, line, this.prefix);
      const prev = seen.get(bead.id);
      if (prev !== undefined) throw corruptLine(file, line, `bead ${bead.id} appears twice (also line ${prev})`);
      seen.set(bead.id, line);
      incoming.push({ line, bead });
    }
    const imported = this.transaction((tx) => {
      const result: ImportResult = { added: 0, updated: 0, unchanged: 0, skipped: 0, ids: [], skips };
      for (const { line, bead } of incoming) {
        // The common case of a re-import, without parsing the stored bead: the very same line.
        const stored = tx.storedLine(bead.id);
        if (stored !== undefined && stored === serializeBead(bead)) {
          result.unchanged++;
          continue;
        }
        const current = tx.lookup(bead.id);
        if (!current) {
          tx.put(bead, 'created');
          result.added++;
          result.ids.push(bead.id);
          continue;
        }
        const differing = differingFields(toRecord(current), toRecord(bead));
        if (!differing.length) {
          result.unchanged++;
          continue;
        }
        const order = compareTimes(bead.updated_at, current.updated_at);
        if (order > 0) {
          tx.put(bead, 'updated');
          result.updated++;
          result.ids.push(bead.id);
        } else if (order < 0) {
          skips.push({ line, id: bead.id, reason: `the ledger's copy is newer (updated_at ${current.updated_at}; this line's ${bead.updated_at})` });
        } else {
          throw new GtError(
            `${file}:${line}: bead ${bead.id} has the same updated_at (${bead.updated_at}) as the ledger's copy but different ${differing.join(', ')}`,
            {
              hint: `nothing was imported; say which is right: fix or remove line ${line} of the file, or change the bead in the ledger (bd update ${bead.id} ...) so the newer copy wins`,
            },
          );
        }
      }
      result.skipped = skips.length;
      if (result.added + result.updated) tx.summaries.push(`import ${basename(file)}: ${result.added} added, ${result.updated} updated`);
      const cycles = result.added + result.updated ? findCycles(tx.all()) : [];
      if (cycles.length) {
        throw new GtError(`importing ${file} would make dependency cycles: ${cycles.map((c) => c.join(' → ')).join('; ')}`, {
          hint: 'fix the dependencies in the file; nothing was imported',
        });
      }
      return result;
    });
    if (imported.ids.length) {
      // Work out the ready work of the new version now (and keep it in the summary cache), so the
      // first `bd ready` after a large import prints from the index. Best effort.
      try {
        dropCachedState(this.dir);
        this.readySummaries();
      } catch {
        // the next `bd ready` works it out
      }
    }
    return imported;
  }
}

/** Refuse filter names that are neither known nor carried by any bead, listing what is. */
function checkPresent(what: string, wanted: Set<string>, known: readonly string[], beads: Iterable<BeadSummary>, of: (b: BeadSummary) => string): void {
  const unknown = [...wanted].filter((w) => !known.includes(w));
  if (!unknown.length) return;
  const present = new Set<string>();
  for (const b of beads) present.add(of(b));
  const missing = unknown.find((u) => !present.has(u));
  if (missing === undefined) return;
  const custom = [...present].filter((p) => !known.includes(p)).sort();
  throw usageError(`unknown ${what} "${missing}"`, `use one of: ${[...known, ...custom].join(', ')}`);
}

/** Top-level keys whose values differ between two records (key order does not matter). */
function differingFields(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) if (canonical(a[k]) !== canonical(b[k])) out.push(k);
  return out;
}

/** JSON with object keys sorted, so equal values give equal text. */
function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return '{' + Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

/**
 * Order of two RFC 3339 times, to the nanosecond the original writes (Date.parse keeps
 * milliseconds only): negative, 0 or positive.
 */
function compareTimes(a: string, b: string): number {
  const key = (t: string): [number, number] => {
    const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(.*)$/.exec(t);
    if (!m) return [Date.parse(t), 0];
    const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
    return [Date.parse(m[1] + m[3]), Number(frac)];
  };
  const [am, an] = key(a);
  const [bm, bn] = key(b);
  return am - bm || an - bn;
}

/**
 * Check one imported record and make it a bead. Only what the ledger cannot work without is
 * checked (an id of this ledger's prefix, a title, a creation time, dependencies naming this
 * bead); every value is kept as the original wrote it, multi-line titles and unknown names too.
 */
function checkImported(record: Record<string, unknown>, file: string, line: number, prefix: string): Bead {
  const fail = (what: string) => corruptLine(file, line, what);
  if (typeof record.id !== 'string' || !record.id) throw fail('record has no "id"');
  const id = record.id;
  if (/["\\\s]/.test(id)) throw fail(`invalid id ${JSON.stringify(id)}`);
  if (!id.startsWith(prefix + '-')) {
    throw new GtError(`${file}:${line}: bead ${id} does not have this ledger's prefix "${prefix}-"`, {
      hint: `import into a ledger with that prefix (bd init --prefix ${id.split('-')[0]}) ; nothing was imported`,
    });
  }
  const isTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  const bead = fromRecord(record);
  try {
    if (typeof bead.title !== 'string' || bead.title.trim() === '') throw usageError('a bead needs a title');
    parseImportedName('status', bead.status);
    parseImportedName('issue type', bead.issue_type);
    parsePriority(bead.priority);
    if (!isTime(bead.created_at)) throw usageError('"created_at" is missing or not a time');
    if (bead.updated_at !== undefined && !isTime(bead.updated_at)) throw usageError('"updated_at" is not a time');
    if (bead.dependencies !== undefined && !Array.isArray(bead.dependencies)) throw usageError('"dependencies" is not a list');
    for (const d of bead.dependencies ?? []) {
      if (!d || typeof d !== 'object') throw usageError('a dependency is not an object');
      if (d.issue_id !== id) throw usageError(`a dependency has issue_id ${String(d.issue_id)}, not ${id}`);
      if (typeof d.depends_on_id !== 'string' || !d.depends_on_id) throw usageError('a dependency has no depends_on_id');
      parseImportedName('dependency type', d.type);
    }
    if (bead.labels !== undefined && (!Array.isArray(bead.labels) || bead.labels.some((l) => typeof l !== 'string'))) throw usageError('labels must be strings');
    if (bead.comments !== undefined && !Array.isArray(bead.comments)) throw usageError('"comments" is not a list');
  } catch (err) {
    throw fail(`bead ${id}: ${(err as Error).message}`);
  }
  bead.updated_at ??= bead.created_at;
  if (bead.status === 'closed') bead.closed_at ??= bead.updated_at;
  if (!bead.ephemeral) delete bead.ephemeral;
  return bead;
}
