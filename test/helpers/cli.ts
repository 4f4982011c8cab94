import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const PROJECT = resolve(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built `gt` or `bd` as a user would. Environment is clean of GT_ and BEADS_ variables unless given. */
export function runCli(bin: 'gt' | 'bd', args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number }): CliResult {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('GT_') && !k.startsWith('BEADS_') && k !== 'BD_ACTOR' && k !== 'TEMPORAL_ADDRESS') env[k] = v;
  }
  const r = spawnSync(process.execPath, [join(PROJECT, 'bin', `${bin}.js`), ...args], {
    cwd: opts.cwd,
    env: { ...env, ...opts.env } as NodeJS.ProcessEnv,
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function tempDir(prefix = 'gt-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A TCP port on loopback that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}
