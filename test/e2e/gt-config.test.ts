import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers/cli.js';
import { chooseRuntime } from '../../src/town/runtimes.js';

function makeTown(): string {
  const base = tempDir();
  const r = runCli('gt', ['install', 'town'], { cwd: base });
  expect(r.code).toBe(0);
  return join(base, 'town');
}

const gt = (town: string, ...args: string[]) => runCli('gt', args, { cwd: town });
const settingsPath = (town: string) => join(town, 'settings', 'config.json');
const settings = (town: string) => JSON.parse(readFileSync(settingsPath(town), 'utf8'));

describe('gt config agent', () => {
  it('lists the eight presets with their commands, marking claude as the default', () => {
    const town = makeTown();
    const r = gt(town, 'config', 'agent', 'list', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const agents = JSON.parse(r.stdout);
    expect(agents.map((a: { name: string }) => a.name)).toEqual(['claude', 'codex', 'gemini', 'cursor', 'auggie', 'amp', 'opencode', 'copilot']);
    expect(agents.filter((a: { default: boolean }) => a.default).map((a: { name: string }) => a.name)).toEqual(['claude']);
    expect(agents[0]).toMatchObject({ kind: 'preset', command: 'claude', args: ['--dangerously-skip-permissions'], prompt_mode: 'arg' });
    const text = gt(town, 'config', 'agent', 'list').stdout;
    expect(text).toMatch(/^\* claude\s+claude --dangerously-skip-permissions\s+\(prompt: arg\)$/m);
    expect(text).toMatch(/^ {2}codex\s+codex --dangerously-bypass-approvals-and-sandbox\s+\(prompt: none\)$/m);
  });

  it('sets custom agents from a command line, as the guide shows, and stores them in the town settings', () => {
    const town = makeTown();
    let r = gt(town, 'config', 'agent', 'set', 'claude-glm', 'claude-glm --model glm-4');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Agent claude-glm: claude-glm --model glm-4 \(prompt_mode arg\)/);
    r = gt(town, 'config', 'agent', 'set', 'codex-low', 'codex --thinking low', '--json');
    expect(r.code).toBe(0);
    // A command of a preset's family takes that family's prompt delivery.
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'codex-low', provider: 'codex', command: 'codex', args: ['--thinking', 'low'], prompt_mode: 'none' });
    r = gt(town, 'config', 'agent', 'set', 'quoted', `API_BASE="http://h:1/v1" my-agent --system 'be brief' --flag`, '--prompt-mode', 'none');
    expect(r.code).toBe(0);
    expect(settings(town).agents).toEqual({
      'claude-glm': { command: 'claude-glm', args: ['--model', 'glm-4'], prompt_mode: 'arg' },
      'codex-low': { command: 'codex', args: ['--thinking', 'low'], provider: 'codex', prompt_mode: 'none' },
      quoted: { command: 'my-agent', args: ['--system', 'be brief', '--flag'], env: { API_BASE: 'http://h:1/v1' }, prompt_mode: 'none' },
    });
    const listed = JSON.parse(gt(town, 'config', 'agent', 'list', '--json').stdout);
    expect(listed.find((a: { name: string }) => a.name === 'quoted')).toMatchObject({ kind: 'custom', command_line: `API_BASE=http://h:1/v1 my-agent --system 'be brief' --flag` });
    // Setting again replaces.
    expect(gt(town, 'config', 'agent', 'set', 'claude-glm', 'claude-glm --model glm-4.5').code).toBe(0);
    expect(settings(town).agents['claude-glm'].args).toEqual(['--model', 'glm-4.5']);
  });

  it('warns, without failing, when the command is not on PATH', () => {
    const town = makeTown();
    const r = gt(town, 'config', 'agent', 'set', 'ghost', 'surely-not-installed-agent-cli');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: "surely-not-installed-agent-cli" is not an executable on PATH/);
  });

  it('overrides a preset and removing the override brings the preset back', () => {
    const town = makeTown();
    expect(gt(town, 'config', 'agent', 'set', 'claude', 'claude --model opus').code).toBe(0);
    const listed = JSON.parse(gt(town, 'config', 'agent', 'list', '--json').stdout);
    expect(listed[0]).toMatchObject({ name: 'claude', kind: 'override', args: ['--model', 'opus'], default: true });
    expect(chooseRuntime({ root: town })).toMatchObject({ name: 'claude', args: ['--model', 'opus'] });
    const r = gt(town, 'config', 'agent', 'remove', 'claude');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/built-in preset applies again/);
    expect(chooseRuntime({ root: town })).toMatchObject({ args: ['--dangerously-skip-permissions'] });
  });

  it('removes a custom agent', () => {
    const town = makeTown();
    gt(town, 'config', 'agent', 'set', 'mine', 'mine-cli');
    const r = gt(town, 'config', 'agent', 'remove', 'mine');
    expect(r.code).toBe(0);
    expect(settings(town).agents).toEqual({});
  });

  describe('refuses bad input with a clear message, a non-zero exit, and settings unchanged', () => {
    const town = makeTown();
    gt(town, 'config', 'agent', 'set', 'in-use', 'some-cli');
    gt(town, 'config', 'agent', 'set', 'spare', 'spare-cli');
    // A rig whose settings name the agent keeps it from being removed.
    mkdirSync(join(town, 'proj', 'settings'), { recursive: true });
    writeFileSync(join(town, 'proj', 'settings', 'config.json'), JSON.stringify({ role_agents: { polecat: 'spare' } }));
    const rigs = JSON.parse(readFileSync(join(town, 'mayor', 'rigs.json'), 'utf8'));
    rigs.rigs.proj = { git_url: 'x', default_branch: 'main', prefix: 'pj', added_at: new Date().toISOString() };
    writeFileSync(join(town, 'mayor', 'rigs.json'), JSON.stringify(rigs));
    gt(town, 'config', 'default-agent', 'in-use');

    const cases: Array<[string, string[], RegExp]> = [
      ['an empty command', ['agent', 'set', 'x', ''], /agent command is empty/],
      ['a blank command', ['agent', 'set', 'x', '   '], /agent command is empty/],
      ['only environment, no command', ['agent', 'set', 'x', 'FOO=1'], /agent command is empty/],
      ['a pipe', ['agent', 'set', 'x', 'claude | tee log'], /'\|', which needs a shell/],
      ['a command substitution', ['agent', 'set', 'x', 'claude $(cat args)'], /command substitution/],
      ['an unterminated quote', ['agent', 'set', 'x', `claude 'oops`], /unterminated single quote/],
      ['a bad agent name', ['agent', 'set', 'a/b', 'claude'], /agent name "a\/b" is not valid/],
      ['a bad prompt mode', ['agent', 'set', 'x', 'claude', '--prompt-mode', 'stdin'], /--prompt-mode must be "arg" or "none"/],
      ['a preset name for another preset\'s command', ['agent', 'set', 'claude', 'codex --yolo'], /"claude" is the claude preset, but "codex" is the command of the codex preset/],
      ['a preset name with a contradicting --provider', ['agent', 'set', 'claude', 'claude --model opus', '--provider', 'gemini'], /"claude" is the claude preset; --provider gemini contradicts it/],
      ['a --provider the command contradicts', ['agent', 'set', 'x', 'gemini --approval-mode yolo', '--provider', 'codex'], /--provider codex contradicts the command "gemini", which is gemini/],
      ['an unknown --provider', ['agent', 'set', 'x', 'my-agent', '--provider', 'clod'], /--provider "clod" is not a preset/],
      ['claude with its own --settings', ['agent', 'set', 'claude', 'claude --settings mine.json'], /gt passes its own --settings file/],
      ['claude in one-shot print mode', ['agent', 'set', 'claude-p', 'claude -p'], /-p\/--print makes Claude Code answer once and exit/],
      ['gemini in one-shot prompt mode', ['agent', 'set', 'gemini-p', 'gemini -p "do it"'], /-p\/--prompt makes Gemini CLI answer once and exit/],
      ['codex exec', ['agent', 'set', 'codex-exec', 'codex exec --full-auto'], /`codex exec` runs one task without its TUI and exits/],
      ['a context file for claude', ['agent', 'set', 'claude-x', 'claude', '--instructions-file', 'AGENTS.md'], /not a context file: leave out --instructions-file/],
      ['a bad --ready-prompt', ['agent', 'set', 'x', 'my-agent', '--ready-prompt', '(unclosed'], /--ready-prompt "\(unclosed" is not a regular expression/],
      ['a bad --instructions-file', ['agent', 'set', 'x', 'my-agent', '--instructions-file', '../AGENTS.md'], /--instructions-file "..\/AGENTS.md" is not a context file name/],
      ['removing a preset', ['agent', 'remove', 'codex'], /"codex" is a built-in preset and cannot be removed/],
      ['removing an unknown agent', ['agent', 'remove', 'nobody'], /no custom agent named "nobody"/],
      ['removing the default agent', ['agent', 'remove', 'in-use'], /"in-use" is still in use \(default_agent in settings\/config.json\)/],
      ['removing an agent a rig uses', ['agent', 'remove', 'spare'], /still in use \(role_agents.polecat in proj\/settings\/config.json\)/],
      ['an unknown default agent', ['default-agent', 'nobody'], /unknown agent "nobody"[\s\S]*known agents: claude, codex/],
    ];
    it.each(cases)('%s', (_what, args, message) => {
      const before = readFileSync(settingsPath(town), 'utf8');
      const r = gt(town, 'config', ...args);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^error: /);
      expect(r.code).not.toBe(0);
      expect(readFileSync(settingsPath(town), 'utf8')).toBe(before);
    });
  });
});

describe('gt config default-agent', () => {
  it('shows the default, sets a preset or custom agent, and agent list marks it', () => {
    const town = makeTown();
    let r = gt(town, 'config', 'default-agent');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^claude\s/);
    expect(JSON.parse(gt(town, 'config', 'default-agent', '--json').stdout)).toMatchObject({ name: 'claude', command: 'claude' });

    expect(gt(town, 'config', 'agent', 'set', 'deepseek-x', 'deepseek-x --dangerously-skip-permissions').code).toBe(0);
    r = gt(town, 'config', 'default-agent', 'deepseek-x');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Default agent is now deepseek-x/);
    expect(settings(town).default_agent).toBe('deepseek-x');
    const listed = JSON.parse(gt(town, 'config', 'agent', 'list', '--json').stdout);
    expect(listed.filter((a: { default: boolean }) => a.default).map((a: { name: string }) => a.name)).toEqual(['deepseek-x']);
    expect(chooseRuntime({ root: town })).toMatchObject({ name: 'deepseek-x', command: 'deepseek-x', source: 'default_agent in settings/config.json' });

    expect(gt(town, 'config', 'default-agent', 'gemini').code).toBe(0);
    expect(JSON.parse(gt(town, 'config', 'default-agent', '--json').stdout)).toMatchObject({ name: 'gemini', args: ['--approval-mode', 'yolo'] });
  });

  it('an unknown default_agent written by hand is reported with where it came from', () => {
    const town = makeTown();
    const s = settings(town);
    s.default_agent = 'typo';
    writeFileSync(settingsPath(town), JSON.stringify(s));
    const r = gt(town, 'config', 'default-agent');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown agent "typo" \(from default_agent in settings\/config.json\)/);
  });
});

describe('chooseRuntime in a town', () => {
  it('reads rig and town settings and refuses an unknown rig', () => {
    const town = makeTown();
    gt(town, 'config', 'agent', 'set', 'fast', 'claude --model haiku');
    const s = settings(town);
    s.role_agents = { refinery: 'fast' };
    writeFileSync(settingsPath(town), JSON.stringify(s));
    mkdirSync(join(town, 'proj', 'settings'), { recursive: true });
    writeFileSync(join(town, 'proj', 'settings', 'config.json'), JSON.stringify({ agent: 'codex' }));
    const rigs = JSON.parse(readFileSync(join(town, 'mayor', 'rigs.json'), 'utf8'));
    rigs.rigs.proj = { git_url: 'x', default_branch: 'main', prefix: 'pj', added_at: new Date().toISOString() };
    writeFileSync(join(town, 'mayor', 'rigs.json'), JSON.stringify(rigs));

    expect(chooseRuntime({ root: town, rig: 'proj', role: 'polecat' })).toMatchObject({ name: 'codex', prompt_mode: 'none' });
    expect(chooseRuntime({ root: town, rig: 'proj', role: 'refinery' })).toMatchObject({ name: 'fast', args: ['--model', 'haiku'] });
    expect(chooseRuntime({ root: town, rig: 'proj', role: 'polecat', agentFlag: 'amp' })).toMatchObject({ name: 'amp' });
    expect(() => chooseRuntime({ root: town, rig: 'nope' })).toThrow(/no rig named "nope"/);
  });
});
