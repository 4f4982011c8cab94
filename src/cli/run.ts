import { GtError } from '../errors.js';

/** Print a value as JSON on stdout (used by every `--json` flag). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Report an error the way every command does: message and hint on stderr, non-zero exit. */
export function reportError(err: unknown): never {
  if (err instanceof GtError) {
    process.stderr.write(`error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    process.exit(err.exitCode);
  }
  if (err && typeof err === 'object' && 'code' in err && (err as { code: unknown }).code === 'commander.executeSubCommandAsync') {
    process.exit(1);
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${message}\n`);
  if (process.env.GT_DEBUG && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
  process.exit(1);
}

/**
 * Wrap a commander action so any thrown error is reported consistently.
 * Usage: `.action(action(async (opts) => { ... }))`.
 */
export function action<A extends unknown[]>(fn: (...args: A) => unknown | Promise<unknown>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      reportError(err);
    }
  };
}

/** Collect a repeatable option (`--var a=1 --var b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
