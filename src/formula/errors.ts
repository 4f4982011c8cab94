import { GtError } from '../errors.js';

/** Where a problem is: the formula file, a 1-based line (and column for TOML syntax), a field path. */
export interface FormulaLocation {
  file: string;
  line?: number;
  column?: number;
  /** e.g. `steps.build.needs`, `vars.version.pattern`, `compose.expand[0].target`. */
  field?: string;
}

/**
 * A problem in a formula or in the vars given to it. The message always starts with
 * `file:line[:column]: field:` so an editor can jump to it; `problem` is the bare sentence.
 */
export class FormulaError extends GtError {
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly field?: string;
  readonly problem: string;

  constructor(problem: string, at: FormulaLocation, opts: { hint?: string; exitCode?: number } = {}) {
    super(`${formatLocation(at)}: ${at.field ? `${at.field}: ` : ''}${problem}`, opts);
    this.name = 'FormulaError';
    this.file = at.file;
    this.line = at.line;
    this.column = at.column;
    this.field = at.field;
    this.problem = problem;
  }

  toJSON(): { file: string; line?: number; column?: number; field?: string; message: string; hint?: string } {
    return { file: this.file, line: this.line, column: this.column, field: this.field, message: this.problem, hint: this.hint };
  }
}

export function formatLocation(at: FormulaLocation): string {
  let s = at.file;
  if (at.line !== undefined) s += `:${at.line}`;
  if (at.line !== undefined && at.column !== undefined) s += `:${at.column}`;
  return s;
}

/**
 * Several problems found in one pass (lint wants them all). Thrown as one error whose message
 * lists each; `problems` keeps them apart for `--json`.
 */
export class FormulaProblems extends FormulaError {
  readonly problems: FormulaError[];
  constructor(problems: FormulaError[]) {
    const first = problems[0]!;
    // Each problem carries its own hint in the listing; a single trailing hint would belong to one only.
    super(first.problem, { file: first.file, line: first.line, column: first.column, field: first.field },
      { hint: problems.length > 1 ? undefined : first.hint, exitCode: Math.max(...problems.map((p) => p.exitCode)) });
    this.problems = problems;
    if (problems.length > 1) {
      this.message = `${problems.length} problems:\n` + problems.map((p) => `  ${p.message}${p.hint ? `\n    hint: ${p.hint}` : ''}`).join('\n');
    }
  }
}

/** Throw the problems found, if any: the single error itself, or all of them together. */
export function throwProblems(problems: FormulaError[]): void {
  problems.sort((a, b) => (a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : 0));
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new FormulaProblems(problems);
}

/** Every individual problem inside an error (for lint output). */
export function problemsOf(err: unknown): FormulaError[] {
  if (err instanceof FormulaProblems) return err.problems;
  if (err instanceof FormulaError) return [err];
  return [];
}

/** The closest candidate by edit distance, for "did you mean" hints; undefined when nothing is close. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
