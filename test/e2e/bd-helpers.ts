import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, tempDir, type CliResult } from '../helpers/cli.js';

/** A temp folder with a fresh ledger (prefix `tt`); `bd(...)` runs the built CLI there as `alice`. */
export function bdFolder(prefix = 'tt') {
  const cwd = tempDir('bd-e2e-');
  const bd = (args: string[], env: Record<string, string> = {}): CliResult => runCli('bd', args, { cwd, env: { BD_ACTOR: 'alice', ...env } });
  const init = bd(['init', '--prefix', prefix]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  const json = <T = any>(args: string[], env: Record<string, string> = {}): T => {
    const r = bd([...args, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as T;
  };
  const files = () => {
    const read = (f: string) => (existsSync(join(cwd, '.beads', f)) ? readFileSync(join(cwd, '.beads', f)) : Buffer.alloc(0));
    return { issues: read('issues.jsonl'), events: read('events.jsonl') };
  };
  return { cwd, bd, json, files, issuesPath: join(cwd, '.beads', 'issues.jsonl') };
}
