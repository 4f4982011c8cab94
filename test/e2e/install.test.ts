import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';

describe('gt install', () => {
  it('creates the town layout of SPEC.md', () => {
    const base = tempDir();
    const r = runCli('gt', ['install', 'town', '--git', '--json'], { cwd: base });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const root = join(base, 'town');
    const town = JSON.parse(readFileSync(join(root, 'mayor', 'town.json'), 'utf8'));
    expect(town).toMatchObject({ type: 'town', version: 1, name: 'town' });
    expect(JSON.parse(readFileSync(join(root, 'mayor', 'rigs.json'), 'utf8'))).toEqual({ version: 1, rigs: {} });
    expect(JSON.parse(readFileSync(join(root, 'settings', 'config.json'), 'utf8')).default_agent).toBe('claude');
    expect(JSON.parse(readFileSync(join(root, '.beads', 'config.json'), 'utf8')).prefix).toBe('hq');
    for (const f of ['CLAUDE.md', 'AGENTS.md', '.gt']) expect(existsSync(join(root, f))).toBe(true);
    expect(readFileSync(join(root, '.gitignore'), 'utf8')).toContain('.gt/');
    const log = execFileSync('git', ['log', '--oneline'], { cwd: root, encoding: 'utf8' });
    expect(log).toContain('gt install');
    // .gt/ is ignored: git status stays clean after runtime files appear
    writeFileSync(join(root, '.gt', 'x.log'), 'x');
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' })).toBe('');
  });

  it('refuses a non-empty folder and changes nothing', () => {
    const base = tempDir();
    const target = join(base, 'busy');
    mkdirSync(target);
    writeFileSync(join(target, 'keep.txt'), 'mine');
    const r = runCli('gt', ['install', target], { cwd: base });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not empty/);
    expect(readdirSync(target)).toEqual(['keep.txt']);
  });

  it('finds the town from a subfolder or GT_ROOT, and says so when there is none', () => {
    const base = tempDir();
    runCli('gt', ['install', 'town'], { cwd: base });
    const outside = tempDir();
    const r = runCli('gt', ['status'], { cwd: outside });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not inside a Gas Town town/);
    const sub = join(base, 'town', 'mayor');
    const ok = runCli('gt', ['status', '--json'], { cwd: sub });
    expect(JSON.parse(ok.stdout).town).toBe('town');
    const viaEnv = runCli('gt', ['status', '--json'], { cwd: outside, env: { GT_ROOT: join(base, 'town') } });
    expect(JSON.parse(viaEnv.stdout).root).toBe(join(base, 'town'));
  });
});
