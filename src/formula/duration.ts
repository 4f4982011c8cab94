/**
 * Durations as written in formulas: one or more `<integer><unit>` parts, largest unit first, each
 * unit at most once: "90s", "30m", "24h", "1h30m", "2d", "500ms". Import-free (workflows use it).
 */

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

// A unit must end the text or be followed by the next number, so "5minutes" is not read as 5m.
const PART = /(\d+)(ms|d|h|m|s)(?=\d|$)/y;

export const DURATION_HINT = 'write a duration such as "90s", "30m", "24h", "1h30m" or "2d" (units: d, h, m, s, ms)';

/** Why `text` is not a duration, or undefined when it is one. */
export function durationProblem(text: unknown): string | undefined {
  if (typeof text === 'number') return `${text} has no unit`;
  if (typeof text !== 'string') return `expected a duration string, got ${describeValue(text)}`;
  const s = text.trim();
  if (s === '') return 'empty duration';
  let pos = 0;
  let lastRank = -1;
  const seen = new Set<string>();
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) {
      const rest = s.slice(pos);
      if (/^\d+(\.\d+)?$/.test(rest)) return `"${text}" has no unit after ${rest}`;
      if (/^\d+\.\d+/.test(rest)) return `"${text}" has a fraction; use a smaller unit (e.g. "1h30m" for 1.5h)`;
      return pos === 0 ? `"${text}" is not a duration` : `"${text}" is not a duration (cannot read "${rest}")`;
    }
    const unit = m[2]!;
    const rank = UNITS.findIndex(([u]) => u === unit);
    if (seen.has(unit)) return `"${text}" gives the unit "${unit}" twice`;
    if (rank < lastRank) return `"${text}" has its units out of order; write the largest unit first`;
    seen.add(unit);
    lastRank = rank;
    pos = PART.lastIndex;
  }
  return undefined;
}

/** Milliseconds in a duration string; throws an Error saying what is wrong otherwise. */
export function parseDuration(text: string): number {
  const problem = durationProblem(text);
  if (problem) throw new Error(`${problem}: ${DURATION_HINT}`);
  let ms = 0;
  PART.lastIndex = 0;
  const s = text.trim();
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s)!;
    ms += Number(m[1]) * UNITS.find(([u]) => u === m[2])![1];
    pos = PART.lastIndex;
  }
  if (!Number.isSafeInteger(ms)) throw new Error(`"${text}" is too long a duration`);
  return ms;
}

/** The shortest formula-style string for a number of milliseconds, e.g. 5400000 → "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

export function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return v instanceof Date ? 'a date' : 'a table';
  if (typeof v === 'string') return `"${v}"`;
  return `${typeof v} ${String(v)}`;
}
