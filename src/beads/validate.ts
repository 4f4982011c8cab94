import { usageError } from '../errors.js';
import {
  DEP_TYPES, ISSUE_TYPES, MAX_PRIORITY, MAX_TITLE_LENGTH, MIN_PRIORITY, STATUSES, WAITS_FOR_GATES,
  type DepType, type IssueType, type Status, type WaitsForGate,
} from './model.js';

/**
 * Checks of every value a caller can hand the ledger. Each refusal is a usage error saying what
 * was wrong and what is allowed; the ledger runs them all before it changes anything.
 */

export function validateTitle(title: unknown): string {
  if (typeof title !== 'string' || title.trim() === '') {
    throw usageError('a bead needs a title', 'give a short title, e.g. bd create "Fix the login timeout"');
  }
  const length = [...title].length;
  if (length > MAX_TITLE_LENGTH) {
    throw usageError(`title is ${length} characters; the limit is ${MAX_TITLE_LENGTH}`, 'shorten the title and put details in the description (-d)');
  }
  if (/[\n\r]/.test(title)) throw usageError('a title must be one line', 'put further lines in the description (-d)');
  return title;
}

export function parseStatus(value: unknown): Status {
  if (typeof value === 'string' && (STATUSES as readonly string[]).includes(value)) return value as Status;
  throw usageError(`unknown status "${String(value)}"`, `use one of: ${STATUSES.join(', ')}`);
}

/** A status a command may set: a tombstone (a deleted bead) only arrives by import. */
export function parseSettableStatus(value: unknown): Status {
  const status = parseStatus(value);
  if (status === 'tombstone') {
    throw usageError('status "tombstone" marks a bead deleted by the original Beads; it only arrives by `bd import`', 'close the bead instead: bd close <id> -r "why"');
  }
  return status;
}

/** A name an import takes as the original wrote it (a custom type or status): one word. */
export function parseImportedName(what: string, value: unknown): string {
  if (typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(value)) return value;
  throw usageError(`invalid ${what} ${JSON.stringify(value)}`, `a ${what} is one word of letters, digits, "-", "_", "." or ":"`);
}

/** A status to filter by: a known status or any other one word (custom statuses of imported beads). */
export function parseStatusFilter(value: unknown): Status {
  try {
    return parseStatus(value);
  } catch {
    return parseImportedName('status', value);
  }
}

/** A dependency type to look for: a known type or any other one word (imported edges). */
export function parseDepTypeFilter(value: unknown): DepType {
  try {
    return parseDepType(value);
  } catch {
    return parseImportedName('dependency type', value);
  }
}

/** A type to filter by: a known type (aliases too) or any other one word (custom types of imported beads). */
export function parseTypeFilter(value: unknown): IssueType {
  try {
    return parseIssueType(value);
  } catch {
    return parseImportedName('issue type', value);
  }
}

const TYPE_ALIASES: Record<string, IssueType> = { enhancement: 'feature', feat: 'feature', mr: 'merge-request' };

export function parseIssueType(value: unknown): IssueType {
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    if ((ISSUE_TYPES as readonly string[]).includes(v)) return v as IssueType;
    if (v in TYPE_ALIASES) return TYPE_ALIASES[v];
  }
  throw usageError(`unknown issue type "${String(value)}"`, `use one of: ${ISSUE_TYPES.join(', ')}`);
}

/** 0-4, also written P0-P4. */
export function parsePriority(value: unknown): number {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim().replace(/^[pP]/, '') : '';
  if (/^[0-9]$/.test(text)) {
    const n = Number(text);
    if (n >= MIN_PRIORITY && n <= MAX_PRIORITY) return n;
  }
  throw usageError(`unknown priority "${String(value)}"`, `use ${MIN_PRIORITY} (critical) to ${MAX_PRIORITY} (lowest), or P0-P4`);
}

export function parseDepType(value: unknown): DepType {
  if (typeof value === 'string' && (DEP_TYPES as readonly string[]).includes(value)) return value as DepType;
  throw usageError(`unknown dependency type "${String(value)}"`, `use one of: ${DEP_TYPES.join(', ')}`);
}

export function parseWaitsForGate(value: unknown): WaitsForGate {
  if (typeof value === 'string' && (WAITS_FOR_GATES as readonly string[]).includes(value)) return value as WaitsForGate;
  throw usageError(`unknown waits-for gate "${String(value)}"`, `use one of: ${WAITS_FOR_GATES.join(', ')}`);
}

export function validateLabel(label: unknown): string {
  if (typeof label !== 'string' || label.trim() === '' || label !== label.trim() || /[,\n\r]/.test(label) || label.length > 100) {
    throw usageError(`invalid label "${String(label)}"`, 'a label is 1-100 characters without commas, line breaks or surrounding spaces');
  }
  return label;
}

/** A person or agent name (assignee, owner, actor): one line, not empty. */
export function validateName(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || /[\n\r]/.test(value) || value.length > 200) {
    throw usageError(`invalid ${what} "${String(value)}"`, `give a ${what} as one line of at most 200 characters`);
  }
  return value;
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A point in time as an ISO string: an ISO 8601 date or date-time, or relative to now as
 * `+30m`, `+4h`, `+2d`, `+1w`.
 */
export function parseTime(what: string, value: unknown, now = Date.now()): string {
  if (typeof value === 'string') {
    const rel = /^\+(\d+)([mhdw])$/.exec(value.trim());
    if (rel) return new Date(now + Number(rel[1]) * UNIT_MS[rel[2]]).toISOString();
    if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
      const t = Date.parse(value.trim());
      if (!Number.isNaN(t)) return new Date(t).toISOString();
    }
  }
  throw usageError(`invalid ${what} "${String(value)}"`, 'use an ISO date (2025-06-01 or 2025-06-01T09:00:00Z) or a relative time (+30m, +4h, +2d, +1w)');
}

/** Metadata: any JSON value, given as JSON text on the command line. */
export function parseMetadata(value: unknown): Record<string, unknown> {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (err) {
      throw usageError(`metadata is not valid JSON: ${(err as Error).message}`, `give a JSON object, e.g. '{"source":"ci"}'`);
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw usageError('metadata must be a JSON object', `give a JSON object, e.g. '{"source":"ci"}'`);
  }
  return parsed as Record<string, unknown>;
}
