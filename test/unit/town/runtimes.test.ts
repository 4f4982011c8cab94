import { describe, expect, it } from 'vitest';
import {
  AGENT_PRESETS,
  buildStartCommand,
  chooseRuntimeFrom,
  parseAgentCommand,
  PRESET_NAMES,
  runtimeArgv,
  runtimeFromConfig,
  splitCommandLine,
} from '../../../src/town/runtimes.js';
import type { RigSettings, TownSettings } from '../../../src/town/settings.js';

describe('presets', () => {
  it('has the eight runtimes of the spec, each with its no-permission-prompt flags and prompt mode', () => {
    expect(PRESET_NAMES).toEqual(['claude', 'codex', 'gemini', 'cursor', 'auggie', 'amp', 'opencode', 'copilot']);
    expect(AGENT_PRESETS.claude).toMatchObject({ command: 'claude', args: ['--dangerously-skip-permissions'], prompt_mode: 'arg' });
    expect(AGENT_PRESETS.codex).toMatchObject({ command: 'codex', args: ['--dangerously-bypass-approvals-and-sandbox'], prompt_mode: 'none' });
    expect(AGENT_PRESETS.gemini).toMatchObject({ command: 'gemini', args: ['--approval-mode', 'yolo'] });
    expect(AGENT_PRESETS.cursor).toMatchObject({ command: 'cursor-agent', args: ['-f'] });
    expect(AGENT_PRESETS.amp).toMatchObject({ command: 'amp', args: ['--dangerously-allow-all', '--no-ide'] });
    expect(AGENT_PRESETS.opencode!.env).toEqual({ OPENCODE_PERMISSION: '{"*":"allow"}' });
    expect(AGENT_PRESETS.copilot).toMatchObject({ command: 'copilot', args: ['--yolo'] });
    for (const name of PRESET_NAMES) expect(['arg', 'none']).toContain(AGENT_PRESETS[name]!.prompt_mode);
  });
});

describe('chooseRuntimeFrom: --agent, rig role agent, town role agent, rig agent, town default_agent, claude', () => {
  const town: TownSettings = {
    default_agent: 'gemini',
    role_agents: { polecat: 'codex' },
    agents: { 'claude-glm': { command: 'claude-glm', args: ['--model', 'glm-4'], prompt_mode: 'arg' } },
  };
  const rigSettings: RigSettings = { agent: 'amp', role_agents: { polecat: 'cursor' } };

  it('takes each level in order, the first present one deciding', () => {
    const base = { town, rigSettings, rig: 'r', role: 'polecat' };
    expect(chooseRuntimeFrom({ ...base, agentFlag: 'claude-glm' })).toMatchObject({ name: 'claude-glm', source: '--agent' });
    expect(chooseRuntimeFrom(base)).toMatchObject({ name: 'cursor', source: 'role_agents.polecat in r/settings/config.json' });
    expect(chooseRuntimeFrom({ ...base, rigSettings: { agent: 'amp' } })).toMatchObject({ name: 'codex', source: 'role_agents.polecat in settings/config.json' });
    expect(chooseRuntimeFrom({ ...base, role: 'refinery' })).toMatchObject({ name: 'amp', source: 'agent in r/settings/config.json' });
    expect(chooseRuntimeFrom({ town, rig: 'r', rigSettings: {} })).toMatchObject({ name: 'gemini', source: 'default_agent in settings/config.json' });
    expect(chooseRuntimeFrom({ town: {} })).toMatchObject({ name: 'claude', command: 'claude', source: 'built-in default' });
  });

  it('returns the full runtime', () => {
    const r = chooseRuntimeFrom({ town, agentFlag: 'claude-glm' });
    expect(r).toEqual({
      name: 'claude-glm', provider: 'custom', command: 'claude-glm', args: ['--model', 'glm-4'], env: {}, prompt_mode: 'arg', source: '--agent',
    });
  });

  it('names the setting an unknown agent came from, never falling through', () => {
    expect(() => chooseRuntimeFrom({ town, agentFlag: 'nope' })).toThrow(/unknown agent "nope" \(from --agent\)/);
    expect(() => chooseRuntimeFrom({ town, rig: 'r', role: 'polecat', rigSettings: { role_agents: { polecat: 'ghost' } } }))
      .toThrow(/"ghost" \(from role_agents.polecat in r\/settings\/config.json\)/);
    expect(() => chooseRuntimeFrom({ town: { role_agents: { mayor: 'ghost' } }, role: 'mayor' }))
      .toThrow(/from role_agents.mayor in settings\/config.json/);
    expect(() => chooseRuntimeFrom({ town, rig: 'r', rigSettings: { agent: 'ghost' } })).toThrow(/from agent in r\/settings\/config.json/);
    expect(() => chooseRuntimeFrom({ town: { default_agent: 'ghost' } })).toThrow(/from default_agent in settings\/config.json/);
    expect(() => chooseRuntimeFrom({ town, agentFlag: '' })).toThrow(/--agent is empty/);
  });

  it('uses a rig runtime block (the guide\'s form) filled in from its provider preset', () => {
    const r = chooseRuntimeFrom({ town, rig: 'r', rigSettings: { runtime: { provider: 'codex', command: 'codex', args: [], prompt_mode: 'none' } } });
    expect(r).toMatchObject({ command: 'codex', args: [], prompt_mode: 'none', source: 'runtime in r/settings/config.json' });
    // An agent name at the same level wins over the runtime block.
    expect(chooseRuntimeFrom({ town, rig: 'r', rigSettings: { agent: 'amp', runtime: { command: 'codex' } } }).name).toBe('amp');
  });

  it('lets a custom agent override a preset of the same name', () => {
    const r = chooseRuntimeFrom({ town: { agents: { claude: { command: 'claude', args: ['--model', 'opus'] } } } });
    expect(r).toMatchObject({ name: 'claude', provider: 'claude', args: ['--model', 'opus'], prompt_mode: 'arg' });
  });
});

describe('buildStartCommand / runtimeArgv', () => {
  it('puts the prompt last for prompt_mode arg, behind the prompt flag when there is one', () => {
    expect(runtimeArgv(AGENT_PRESETS.claude!, 'run gt prime')).toEqual(['claude', '--dangerously-skip-permissions', 'run gt prime']);
    expect(runtimeArgv(AGENT_PRESETS.opencode!, 'hi')).toEqual(['opencode', '--prompt', 'hi']);
  });

  it('leaves the prompt out of the argv for prompt_mode none and hands it back to type in', () => {
    const start = buildStartCommand(AGENT_PRESETS.codex!, 'run gt prime');
    expect(start.argv).toEqual(['codex', '--dangerously-bypass-approvals-and-sandbox']);
    expect(start.typedPrompt).toBe('run gt prime');
  });

  it('starts without a prompt when none is given, with the runtime env', () => {
    expect(buildStartCommand(AGENT_PRESETS.opencode!)).toEqual({ argv: ['opencode'], env: { OPENCODE_PERMISSION: '{"*":"allow"}' } });
  });

  it('an explicit empty prompt_flag means a bare positional prompt', () => {
    const r = runtimeFromConfig('oc', { provider: 'opencode', command: 'opencode', prompt_flag: '' }, 'test');
    expect(runtimeArgv(r, 'p')).toEqual(['opencode', 'p']);
  });
});

describe('splitCommandLine / parseAgentCommand', () => {
  it('splits like a shell: quotes, escapes, empty quoted words', () => {
    expect(splitCommandLine(`a  "b c" 'd "e"' f\\ g "" h"i"j`)).toEqual(['a', 'b c', 'd "e"', 'f g', '', 'hij']);
    expect(splitCommandLine(`"a\\"b" 'x\\y'`)).toEqual(['a"b', 'x\\y']);
    expect(splitCommandLine('  ')).toEqual([]);
  });

  it('takes leading NAME=value words as environment', () => {
    expect(parseAgentCommand('FOO=1 BAR="x y" claude --model opus')).toEqual({ env: { FOO: '1', BAR: 'x y' }, command: 'claude', args: ['--model', 'opus'] });
  });

  it('refuses what needs a shell, unterminated quotes and an empty command', () => {
    for (const bad of ['a | b', 'a; b', 'a > f', 'a $(b)', 'a `b`', 'a && b', '"a $(b)"']) expect(() => splitCommandLine(bad)).toThrow(/needs a shell/);
    expect(() => splitCommandLine(`a 'b`)).toThrow(/unterminated single quote/);
    expect(() => splitCommandLine(`a "b`)).toThrow(/unterminated double quote/);
    expect(() => parseAgentCommand('')).toThrow(/empty/);
    expect(() => parseAgentCommand('FOO=1')).toThrow(/empty/);
  });

  it('keeps $VAR and globs literal: nothing is expanded but ~', () => {
    expect(splitCommandLine('a $HOME *.ts')).toEqual(['a', '$HOME', '*.ts']);
  });
});
