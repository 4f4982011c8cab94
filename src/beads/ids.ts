import { createRequire } from 'node:module';
import { GtError, usageError } from '../errors.js';

/** Ledger prefixes: lowercase, start with a letter, hyphen-separated words (`hq`, `gt`, `my-rig`). */
export const PREFIX_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const MAX_PREFIX_LENGTH = 20;
/** The part after the prefix: optional sub-prefix words (`cv-`), a base36 hash, then `.N` child numbers. */
const ID_BODY_RE = /^(?:[a-z0-9]+-)*[a-z0-9]+(?:\.[1-9][0-9]*)*$/;
export const MIN_HASH_LENGTH = 5;
const MAX_HASH_LENGTH = 12;

export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix) || prefix.length > MAX_PREFIX_LENGTH) {
    throw usageError(
      `invalid ledger prefix "${prefix}"`,
      `a prefix is 1-${MAX_PREFIX_LENGTH} lowercase letters and digits, starting with a letter (words may be joined by '-'), e.g. "gt"`,
    );
  }
  return prefix;
}

/** Check an explicit id (`--id`, imports) against the ledger's prefix. */
export function validateExplicitId(id: string, prefix: string): string {
  const head = `${prefix}-`;
  if (!id.startsWith(head) || !ID_BODY_RE.test(id.slice(head.length))) {
    throw usageError(
      `invalid bead id "${id}" for this ledger`,
      `ids here look like ${prefix}-abc12 (prefix "${prefix}-", then lowercase letters and digits, children as ${prefix}-abc12.1)`,
    );
  }
  return id;
}

/**
 * How many hash characters new ids get: at least 5, more once the ledger is big enough that the
 * chance of any two ids colliding (n²/2·36^L, the birthday bound) would pass 5%. Ids made in
 * different clones never see each other until they merge, so retrying on collision is not enough.
 */
export function hashLengthFor(count: number): number {
  let len = MIN_HASH_LENGTH;
  while (len < MAX_HASH_LENGTH && (count * count) / (2 * 36 ** len) > 0.05) len++;
  return len;
}

// node:crypto loads (about 2 ms) only when an id is made: most ledger commands never make one.
const require = createRequire(import.meta.url);
let crypto: typeof import('node:crypto') | undefined;

/** The base36 hash characters for (title, actor, time, nonce). */
export function hashChars(title: string, actor: string, time: string, nonce: number, length: number): string {
  crypto ??= require('node:crypto') as typeof import('node:crypto');
  const digest = crypto.createHash('sha256').update(`${title}\0${actor}\0${time}\0${nonce}`).digest();
  // 64 bits give 12+ base36 digits: enough for MAX_HASH_LENGTH.
  return digest.readBigUInt64BE(0).toString(36).padStart(13, '0').slice(0, length);
}

/**
 * A new id `<prefix>-[<sub>-]<hash>` not in `taken`. On a collision the nonce is bumped; the
 * length only grows if many nonces in a row collide (a nearly full id space).
 */
export function generateId(
  opts: { prefix: string; subPrefix?: string; title: string; actor: string; time: string; count: number },
  taken: (id: string) => boolean,
): string {
  const head = opts.subPrefix ? `${opts.prefix}-${opts.subPrefix}-` : `${opts.prefix}-`;
  let length = hashLengthFor(opts.count);
  for (let nonce = 0; nonce < 10_000; nonce++) {
    if (nonce > 0 && nonce % 100 === 0 && length < MAX_HASH_LENGTH) length++;
    const id = head + hashChars(opts.title, opts.actor, opts.time, nonce, length);
    if (!taken(id)) return id;
  }
  throw new GtError(`could not find a free id with prefix ${head} after 10000 tries`, { hint: 'report this as a bug' });
}

/** The next child id of `parent`: `X.1`, `X.2`, ... after the highest existing child. */
export function nextChildId(parent: string, ids: Iterable<string>): string {
  const head = `${parent}.`;
  let max = 0;
  for (const id of ids) {
    if (!id.startsWith(head)) continue;
    const rest = id.slice(head.length);
    if (!/^[0-9]+$/.test(rest)) continue;
    max = Math.max(max, Number(rest));
  }
  return `${parent}.${max + 1}`;
}

/** The parent part of a dotted child id (`X.2` → `X`), or undefined for a root id. */
export function dottedParent(id: string): string | undefined {
  const dot = id.lastIndexOf('.');
  return dot > 0 ? id.slice(0, dot) : undefined;
}
