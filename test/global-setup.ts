import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { findTemporalCli } from '../src/temporal/binary.js';
import { devServerSearchAttributeFlags } from '../src/temporal/search-attributes.js';
import { devServerDynamicConfigFlags, waitForPort } from '../src/temporal/services.js';
import { freePort } from './helpers/cli.js';

/**
 * One real Temporal dev server for the whole run (in-memory, free port), and a check that the
 * build (CLI + workflow bundle) exists. Tests reach the server through TEMPORAL_ADDRESS.
 */

let server: ChildProcess | undefined;

export default async function setup(project: TestProject) {
  if (!existsSync('dist/workflow-bundle.js')) {
    throw new Error('dist/ is missing: run `npm run build` first (`npm test` does it)');
  }
  const port = await freePort();
  const cli = findTemporalCli();
  server = spawn(cli, [
    'server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port),
    '--log-level', 'error', ...devServerDynamicConfigFlags(), ...devServerSearchAttributeFlags(),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitForPort('127.0.0.1', port, 60_000, () => server?.exitCode === null);
  const address = `127.0.0.1:${port}`;
  process.env.GT_TEST_TEMPORAL_ADDRESS = address;
  project.provide('temporalAddress', address);
  return async () => {
    server?.kill('SIGTERM');
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
  }
}
