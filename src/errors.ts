/**
 * The one error type for problems a user can fix. Its message says what was wrong; `hint` says
 * how to fix it. The CLI prints both and exits with `exitCode` (1 failure, 2 usage).
 * Import-free so workflows, activities and the CLI can all use it.
 */
export class GtError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, opts: { hint?: string; exitCode?: number } = {}) {
    super(message);
    this.name = 'GtError';
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Bad command-line input (exit code 2). */
export function usageError(message: string, hint?: string): GtError {
  return new GtError(message, { hint, exitCode: 2 });
}
