import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/cli.js';
import { claudeSettings, geminiSettings, writeContextFile, writeGeminiSettings } from '../../../src/polecat/runtime-files.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function repoWithWorktree(files: Record<string, string> = {}): { repo: string; worktree: string } {
  const base = tempDir('gt-ctx-');
  const repo = join(base, 'repo');
  mkdirSync(repo);
  git(repo, 'init', '-q', '-b', 'main');
  writeFileSync(join(repo, 'README.md'), '# r\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git(repo, 'add', '.');
  git(repo, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'init');
  const worktree = join(base, 'wt');
  git(repo, 'worktree', 'add', '-q', '-b', 'polecat/toast/x', worktree);
  return { repo, worktree };
}

describe('runtime files', () => {
  const who = { rig: 'r', name: 'toast', bead: 'r-abc12' };

  it("Gemini's project settings: a person's merged under gt's hooks with hooks switched on, written into the worktree excluded from git, never over the repository's own", async () => {
    const root = tempDir('gt-gs-');
    mkdirSync(join(root, 'settings'), { recursive: true });
    writeFileSync(join(root, 'settings', 'gemini-settings.json'), JSON.stringify({ model: { name: 'gemini-2.5-pro' }, hooksConfig: { notifications: false }, hooks: { disabled: ['noisy'], BeforeTool: [{ matcher: 'write_file', hooks: [{ type: 'command', command: 'echo mine' }] }] } }));
    const s = geminiSettings(root, 'r');
    expect(s.model).toEqual({ name: 'gemini-2.5-pro' });
    expect(s.hooksConfig).toEqual({ notifications: false, enabled: true });
    expect((s.hooks as Record<string, unknown>).disabled).toEqual(['noisy']);
    expect(s.hooks!.BeforeTool!.map((e) => e.hooks[0]!.command)).toEqual(['echo mine']);
    expect(s.hooks!.SessionStart!.map((e) => e.hooks[0]!.command)).toEqual(['gt prime --hook gemini']);
    expect(s.hooks!.BeforeAgent!.map((e) => e.hooks[0]!.command)).toEqual(['gt mail check --inject gemini']);

    const { repo, worktree } = repoWithWorktree();
    expect(await writeGeminiSettings(worktree, s)).toMatchObject({ written: true });
    expect(JSON.parse(readFileSync(join(worktree, '.gemini', 'settings.json'), 'utf8'))).toEqual(s);
    expect(git(worktree, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(repo, '.git', 'info', 'exclude'), 'utf8')).toContain('/.gemini/settings.json\n');

    const tracked = repoWithWorktree();
    mkdirSync(join(tracked.repo, '.gemini'));
    writeFileSync(join(tracked.repo, '.gemini', 'settings.json'), '{"theme": "ours"}\n');
    git(tracked.repo, 'add', '.');
    git(tracked.repo, '-c', 'user.name=t', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'gemini settings');
    git(tracked.worktree, 'merge', '-q', '--ff-only', 'main');
    expect(await writeGeminiSettings(tracked.worktree, s)).toMatchObject({ written: false, reason: 'the repository tracks its own .gemini/settings.json' });
    expect(readFileSync(join(tracked.worktree, '.gemini', 'settings.json'), 'utf8')).toBe('{"theme": "ours"}\n');
  });

  it('a context file is written into the worktree and excluded from git, once', async () => {
    const { repo, worktree } = repoWithWorktree();
    expect(await writeContextFile(worktree, 'AGENTS.md', who)).toMatchObject({ written: true });
    expect(await writeContextFile(worktree, 'AGENTS.md', who)).toMatchObject({ written: true });
    expect(readFileSync(join(worktree, 'AGENTS.md'), 'utf8')).toContain('polecat toast of rig r');
    expect(git(worktree, 'status', '--porcelain')).toBe('');
    const exclude = readFileSync(join(repo, '.git', 'info', 'exclude'), 'utf8');
    expect(exclude.split('\n').filter((l) => l === '/AGENTS.md')).toHaveLength(1);
  });

  it("the repository's own AGENTS.md is left alone", async () => {
    const { worktree } = repoWithWorktree({ 'AGENTS.md': '# Our conventions\n' });
    expect(await writeContextFile(worktree, 'AGENTS.md', who)).toMatchObject({ written: false, reason: 'the repository tracks its own AGENTS.md' });
    expect(readFileSync(join(worktree, 'AGENTS.md'), 'utf8')).toBe('# Our conventions\n');
    expect(git(worktree, 'status', '--porcelain')).toBe('');
  });

  it("a person's Claude settings are merged under gt's hooks, town then rig; theirs come first in each event", () => {
    const root = tempDir('gt-cs-');
    mkdirSync(join(root, 'settings'), { recursive: true });
    mkdirSync(join(root, 'r', 'settings'), { recursive: true });
    expect(claudeSettings(root, 'r').hooks!.SessionStart!.map((e) => e.hooks[0]!.command)).toEqual(['gt prime --hook && gt mail check --inject']);
    writeFileSync(join(root, 'settings', 'claude-settings.json'), JSON.stringify({ model: 'opus', hooks: { SessionStart: [{ matcher: 'startup', hooks: [{ type: 'command', command: 'echo town' }] }] } }));
    writeFileSync(join(root, 'r', 'settings', 'claude-settings.json'), JSON.stringify({ model: 'sonnet', hooks: { Stop: [{ matcher: '', hooks: [{ type: 'command', command: 'echo stop' }] }] } }));
    const s = claudeSettings(root, 'r');
    expect(s.model).toBe('sonnet');
    expect(s.skipDangerousModePermissionPrompt).toBe(true);
    expect(s.hooks!.SessionStart!.map((e) => e.hooks[0]!.command)).toEqual(['echo town', 'gt prime --hook && gt mail check --inject']);
    expect(s.hooks!.Stop!.map((e) => e.hooks[0]!.command)).toEqual(['echo stop']);
    expect(s.hooks!.PreCompact!.map((e) => e.hooks[0]!.command)).toEqual(['gt prime --hook']);
    writeFileSync(join(root, 'r', 'settings', 'claude-settings.json'), '[1, 2]');
    expect(() => claudeSettings(root, 'r')).toThrow(/r\/settings\/claude-settings\.json is not a JSON object/);
    expect(existsSync(join(root, '.gt'))).toBe(false);
  });
});
