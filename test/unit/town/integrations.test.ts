import { describe, expect, it } from 'vitest';
import { hookReply, inputHolds, integrationFor, looksLikePrompt, showsReady, waitingPrompt } from '../../../src/town/integrations.js';

describe('runtime integrations', () => {
  const claude = integrationFor('claude');

  it('Claude Code is wired by a settings file; the others by their own context file', () => {
    expect(claude.style).toBe('claude-settings');
    expect(integrationFor('codex').contextFile).toBe('AGENTS.md');
    expect(integrationFor('gemini').contextFile).toBe('GEMINI.md');
    for (const p of ['cursor', 'auggie', 'amp', 'opencode', 'copilot', 'my-own']) expect(integrationFor(p).contextFile).toBe('AGENTS.md');
    expect(integrationFor('my-own', { instructions_file: 'CONVENTIONS.md' }).contextFile).toBe('CONVENTIONS.md');
    // Gemini CLI has hooks in its worktree settings besides; usage is read from Claude's transcripts and Codex's rollouts.
    expect(integrationFor('gemini').hooks).toBe('gemini-settings');
    expect(integrationFor('codex').hooks).toBeUndefined();
    expect(integrationFor('claude').usage).toBe('claude-transcript');
    expect(integrationFor('codex').usage).toBe('codex-rollout');
  });

  it("a hook's answer for Gemini CLI: context only where the event can add it, a message for the person, {} for nothing", () => {
    expect(JSON.parse(hookReply('gemini', 'SessionStart', 'ctx'))).toEqual({ hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: 'ctx' } });
    expect(JSON.parse(hookReply('gemini', 'AfterTool', ''))).toEqual({});
    expect(JSON.parse(hookReply('gemini', 'PreCompress', 'ctx', 'note'))).toEqual({ systemMessage: 'note' });
  });

  it("Claude's ready prompt is seen with a no-break space after the prompt sign and inside its box", () => {
    expect(showsReady(claude, 'Welcome\n\n❯\u00a0\n')).toBe(true);
    expect(showsReady(claude, '╭────╮\n│ > │\n╰────╯')).toBe(true);
    expect(showsReady(claude, 'Loading Claude Code…\n')).toBe(false);
    expect(showsReady(integrationFor('amp'), '> ')).toBe(false);
    expect(showsReady(integrationFor('x', { ready_prompt: '^› ' }), 'fake TUI\n\n› \n')).toBe(true);
  });

  it('with no ready prompt known, a last line like an input prompt is one', () => {
    expect(looksLikePrompt('codex 1.0\n\n› \n')).toBe(true);
    expect(looksLikePrompt('Welcome\n> ')).toBe(true);
    expect(looksLikePrompt('Starting…\n')).toBe(false);
    expect(inputHolds(integrationFor('codex'), '› Fix the bug in the parser, then test', 'Fix the bug in the parser, then test it')).toBe(true);
  });

  it('typed text still on the input line is not submitted', () => {
    const tui = integrationFor('x', { ready_prompt: '^› ' });
    expect(inputHolds(tui, 'banner\n› You are polecat toast of rig r', 'You are polecat toast of rig r, working bead')).toBe(true);
    expect(inputHolds(tui, 'user: You are polecat toast\nworking…\n› ', 'You are polecat toast of rig r')).toBe(false);
  });

  it('trust, permission and input prompts are seen at the bottom of the screen, with the known answer where there is one', () => {
    const trust = waitingPrompt(claude, 'Do you trust the files in this folder?\n/home/me/project\n❯ 1. Yes, proceed\n  2. No, exit\n');
    expect(trust).toMatchObject({ kind: 'trust', remedy: ['Enter'] });
    expect(trust!.text).toContain('1. Yes, proceed');
    expect(waitingPrompt(claude, 'WARNING: Claude Code running in Bypass Permissions mode\n  1. No, exit\n❯ 2. Yes, I accept')).toMatchObject({ kind: 'trust', remedy: ['Down', 'Enter'] });
    const permission = waitingPrompt(claude, 'Bash command\n  git push\nDo you want to proceed?\n❯ 1. Yes\n  2. No');
    expect(permission?.kind).toBe('permission');
    expect(permission?.remedy).toBeUndefined();
    expect(waitingPrompt(integrationFor('codex'), "Enter passphrase for key '/home/u/.ssh/id_ed25519':")?.kind).toBe('input');
    expect(waitingPrompt(integrationFor('amp'), "Username for 'https://github.com':")?.kind).toBe('input');
    expect(waitingPrompt(integrationFor('gemini'), 'Overwrite config? (y/n)')?.kind).toBe('input');
    expect(waitingPrompt(integrationFor('gemini'), 'Do you trust this folder?\n● 1. Trust folder')).toMatchObject({ kind: 'trust', remedy: ['Enter'] });
    // Work going on is no prompt, and a question far above the bottom has scrolled away.
    expect(waitingPrompt(claude, '● Bash(npm test)\n  ⎿ 42 passed\n❯ ')).toBeUndefined();
    expect(waitingPrompt(claude, ['Do you want to proceed?', ...Array.from({ length: 20 }, (_, i) => `line ${i}`)].join('\n'))).toBeUndefined();
  });
});
