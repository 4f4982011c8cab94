import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { basename, delimiter, isAbsolute, join } from 'node:path';
import { GtError, usageError } from '../errors.js';
import { withLockSync } from '../lock.js';
import { instructionsFileProblem, integrationFor, readyPromptProblem } from './integrations.js';
import { readRigs, townPaths } from './layout.js';
import { readRigSettings, readTownSettings, writeTownSettings, type RigSettings, type RuntimeConfig, type TownSettings } from './settings.js';

/** `arg`: the first prompt goes on the command line; `none`: it is typed in once the agent runs. */
export type PromptMode = 'arg' | 'none';

/** An agent runtime with every field filled in: what it takes to start one agent process. */
export interface AgentRuntime {
  name: string;
  /** The preset family this runtime belongs to (its CLI's behaviour), or "custom". */
  provider: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  prompt_mode: PromptMode;
  /** With prompt_mode "arg": a flag written before the prompt (for CLIs whose positional argument is not a prompt). */
  prompt_flag?: string;
  /** A regular expression matching a screen line that shows the runtime waits at its input prompt. */
  ready_prompt?: string;
  /** The context file the runtime reads from its working folder (custom agents; presets know theirs). */
  instructions_file?: string;
}

/** A chosen runtime and the setting that chose it (for messages and `gt` status output). */
export interface ChosenRuntime extends AgentRuntime {
  source: string;
}

export const FALLBACK_AGENT = 'claude';

/**
 * Built-in agent runtimes. Commands and "no permission prompts" flags follow the original Gas
 * Town's presets. Prompt delivery follows each CLI's own usage: codex takes its first prompt
 * typed in (as in the original); opencode's positional argument is a project folder, so its prompt
 * goes behind --prompt; gemini's positional prompt runs one-shot and exits, so it goes behind
 * --prompt-interactive; copilot's interactive prompt goes behind -i.
 */
export const AGENT_PRESETS: Readonly<Record<string, Readonly<AgentRuntime>>> = Object.freeze({
  claude: { name: 'claude', provider: 'claude', command: 'claude', args: ['--dangerously-skip-permissions'], env: {}, prompt_mode: 'arg' },
  codex: { name: 'codex', provider: 'codex', command: 'codex', args: ['--dangerously-bypass-approvals-and-sandbox'], env: {}, prompt_mode: 'none' },
  gemini: { name: 'gemini', provider: 'gemini', command: 'gemini', args: ['--approval-mode', 'yolo'], env: {}, prompt_mode: 'arg', prompt_flag: '--prompt-interactive' },
  cursor: { name: 'cursor', provider: 'cursor', command: 'cursor-agent', args: ['-f'], env: {}, prompt_mode: 'arg' },
  auggie: { name: 'auggie', provider: 'auggie', command: 'auggie', args: ['--allow-indexing'], env: {}, prompt_mode: 'arg' },
  amp: { name: 'amp', provider: 'amp', command: 'amp', args: ['--dangerously-allow-all', '--no-ide'], env: {}, prompt_mode: 'arg' },
  // opencode has no permission flag; its permission config is read from this variable.
  opencode: { name: 'opencode', provider: 'opencode', command: 'opencode', args: [], env: { OPENCODE_PERMISSION: '{"*":"allow"}' }, prompt_mode: 'arg', prompt_flag: '--prompt' },
  copilot: { name: 'copilot', provider: 'copilot', command: 'copilot', args: ['--yolo'], env: {}, prompt_mode: 'arg', prompt_flag: '-i' },
});

export const PRESET_NAMES: readonly string[] = Object.keys(AGENT_PRESETS);

export function isPreset(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(AGENT_PRESETS, name);
}

function clonePreset(name: string): AgentRuntime {
  const p = AGENT_PRESETS[name]!;
  return { ...p, args: [...p.args], env: { ...p.env } };
}

/** The preset a command belongs to, by the command's file name ("/opt/bin/claude" → claude). */
function presetForCommand(command: string): string | undefined {
  const file = basename(command);
  return PRESET_NAMES.find((n) => AGENT_PRESETS[n]!.command === file);
}

/**
 * A stored runtime block (custom agent or `runtime` setting) filled in from its preset family:
 * fields it leaves out come from the preset named by `provider` (or recognised from `command`).
 */
export function runtimeFromConfig(name: string, cfg: RuntimeConfig, where: string): AgentRuntime {
  if (!cfg || typeof cfg !== 'object') throw new GtError(`agent "${name}" in ${where} is not an object`, { hint: 'fix it with `gt config agent set`' });
  const family = cfg.provider && isPreset(cfg.provider) ? cfg.provider : cfg.command ? presetForCommand(cfg.command) : undefined;
  const base = family ? AGENT_PRESETS[family] : undefined;
  const command = cfg.command || base?.command;
  if (!command) {
    throw new GtError(`agent "${name}" in ${where} has no command`, { hint: `set one with \`gt config agent set ${name} "<command> [args]"\`` });
  }
  const prompt_mode = cfg.prompt_mode ?? base?.prompt_mode ?? 'arg';
  if (prompt_mode !== 'arg' && prompt_mode !== 'none') {
    throw new GtError(`agent "${name}" in ${where} has prompt_mode "${String(prompt_mode)}"`, { hint: 'prompt_mode is "arg" or "none"' });
  }
  const runtime: AgentRuntime = {
    name,
    provider: cfg.provider ?? family ?? 'custom',
    command,
    args: [...(cfg.args ?? base?.args ?? [])],
    env: { ...(base?.env ?? {}), ...(cfg.env ?? {}) },
    prompt_mode,
  };
  // An explicit prompt_flag wins ("" means a bare positional prompt); else the family's flag.
  const flag = cfg.prompt_flag !== undefined ? cfg.prompt_flag : prompt_mode === 'arg' ? base?.prompt_flag : undefined;
  if (flag) runtime.prompt_flag = flag;
  if (cfg.ready_prompt !== undefined) {
    const problem = readyPromptProblem(cfg.ready_prompt);
    if (problem) throw new GtError(`agent "${name}" in ${where} has ready_prompt ${JSON.stringify(cfg.ready_prompt)}, which is not a regular expression (${problem})`, { hint: 'fix it with `gt config agent set ... --ready-prompt <regex>`' });
    runtime.ready_prompt = cfg.ready_prompt;
  }
  if (cfg.instructions_file !== undefined) {
    const problem = instructionsFileProblem(cfg.instructions_file);
    if (problem) throw new GtError(`agent "${name}" in ${where} has instructions_file ${JSON.stringify(cfg.instructions_file)}`, { hint: problem });
    runtime.instructions_file = cfg.instructions_file;
  }
  return runtime;
}

/** Every agent name the town knows: presets, then custom agents (a custom agent may override a preset). */
export function knownAgentNames(town: TownSettings): string[] {
  const custom = Object.keys(town.agents ?? {}).filter((n) => !isPreset(n)).sort();
  return [...PRESET_NAMES, ...custom];
}

/** The runtime an agent name stands for, or undefined for an unknown name. */
export function resolveAgent(name: string, town: TownSettings): AgentRuntime | undefined {
  const custom = town.agents?.[name];
  if (custom) return runtimeFromConfig(name, custom, 'settings/config.json agents');
  return isPreset(name) ? clonePreset(name) : undefined;
}

function unknownAgent(name: string, source: string | undefined, town: TownSettings): GtError {
  const add = `add it with \`gt config agent set ${name} "<command> [args]"\``;
  return new GtError(`unknown agent "${name}"${source ? ` (from ${source})` : ''}`, {
    hint: `known agents: ${knownAgentNames(town).join(', ')}; ${add}${source ? ` or fix ${source}` : ''}`,
  });
}

export interface RuntimeChoiceInput {
  town: TownSettings;
  rigSettings?: RigSettings;
  rig?: string;
  role?: string;
  agentFlag?: string;
}

/**
 * The agent runtime for one start, from settings already read. Order: `--agent`, the rig's
 * `role_agents[role]`, the town's `role_agents[role]`, the rig's `agent`, the rig's `runtime`
 * block, the town's `default_agent`, the town's `runtime` block, then claude. The first setting
 * present decides; if it names an unknown agent that is an error naming the setting, never a
 * silent fall-through to the next one.
 */
export function chooseRuntimeFrom(input: RuntimeChoiceInput): ChosenRuntime {
  const { town, rigSettings = {}, rig, role, agentFlag } = input;
  const rigFile = rig ? `${rig}/settings/config.json` : 'the rig settings';
  const byName = (name: string, source: string): ChosenRuntime => {
    const runtime = resolveAgent(name, town);
    if (!runtime) throw unknownAgent(name, source, town);
    return { ...runtime, source };
  };
  if (agentFlag !== undefined) {
    if (!agentFlag.trim()) throw usageError('--agent is empty', `give an agent name: ${knownAgentNames(town).join(', ')}`);
    return byName(agentFlag, '--agent');
  }
  if (role && rigSettings.role_agents?.[role]) return byName(rigSettings.role_agents[role]!, `role_agents.${role} in ${rigFile}`);
  if (role && town.role_agents?.[role]) return byName(town.role_agents[role]!, `role_agents.${role} in settings/config.json`);
  if (rigSettings.agent) return byName(rigSettings.agent, `agent in ${rigFile}`);
  if (rigSettings.runtime) {
    const source = `runtime in ${rigFile}`;
    return { ...runtimeFromConfig(rigSettings.runtime.provider ?? `${rig ?? 'rig'}-runtime`, rigSettings.runtime, rigFile), source };
  }
  if (town.default_agent) return byName(town.default_agent, 'default_agent in settings/config.json');
  if (town.runtime) {
    const source = 'runtime in settings/config.json';
    return { ...runtimeFromConfig(town.runtime.provider ?? 'town-runtime', town.runtime, 'settings/config.json'), source };
  }
  // Through resolveAgent, so a custom override of the fallback preset applies here too.
  return byName(FALLBACK_AGENT, 'built-in default');
}

/** `chooseRuntimeFrom` with the town's and the rig's settings read from disk. */
export function chooseRuntime(opts: { root: string; rig?: string; role?: string; agentFlag?: string }): ChosenRuntime {
  const town = readTownSettings(opts.root);
  let rigSettings: RigSettings | undefined;
  if (opts.rig !== undefined) {
    const rigs = readRigs(opts.root).rigs;
    if (!rigs[opts.rig]) {
      throw new GtError(`no rig named "${opts.rig}" in this town`, { hint: `known rigs: ${Object.keys(rigs).join(', ') || '(none)'}` });
    }
    rigSettings = readRigSettings(opts.root, opts.rig);
  }
  return chooseRuntimeFrom({ town, rigSettings, rig: opts.rig, role: opts.role, agentFlag: opts.agentFlag });
}

export interface StartCommand {
  /** argv[0] is the command; pass argv.slice(1) as arguments, never through a shell. */
  argv: string[];
  env: Record<string, string>;
  /** For prompt_mode "none": the prompt to type into the agent once it is ready. */
  typedPrompt?: string;
}

/**
 * How to start `runtime` with `prompt` as its first prompt. A runtime wired in by a settings
 * file (Claude Code) gets `--settings <file>` when the caller wrote one.
 */
export function buildStartCommand(runtime: AgentRuntime, prompt?: string, opts: { settingsFile?: string } = {}): StartCommand {
  const argv = [runtime.command, ...runtime.args];
  if (opts.settingsFile && integrationFor(runtime.provider, runtime).style === 'claude-settings') argv.push('--settings', opts.settingsFile);
  const env = { ...runtime.env };
  if (!prompt) return { argv, env };
  if (runtime.prompt_mode === 'none') return { argv, env, typedPrompt: prompt };
  if (runtime.prompt_flag) argv.push(runtime.prompt_flag, prompt);
  else argv.push(prompt);
  return { argv, env };
}

/**
 * The argv to start `runtime` with `prompt`: `[command, ...args, prompt]` for prompt_mode "arg"
 * (with its prompt flag if it has one); for "none" the prompt is not in the argv and the caller
 * types it in (`buildStartCommand(...).typedPrompt`).
 */
export function runtimeArgv(runtime: AgentRuntime, prompt?: string): string[] {
  return buildStartCommand(runtime, prompt).argv;
}

/** The words of a command line, split as a POSIX shell would split them, without running one. */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  let tildeOk = true;
  const refuse = (what: string) =>
    usageError(`the command line contains ${what}, which needs a shell`, 'gt starts agents without a shell; put pipes, redirections or substitutions in a script and name the script');
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && i + 1 < text.length && '$`"\\\n'.includes(text[i + 1]!)) {
        if (text[i + 1] !== '\n') word += text[i + 1];
        i++;
      } else if (c === '`' || (c === '$' && text[i + 1] === '(')) throw refuse('a command substitution');
      else word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      tildeOk = true;
      continue;
    }
    if (c === '\\') {
      if (i + 1 < text.length) {
        if (text[i + 1] !== '\n') {
          word += text[i + 1];
          inWord = true;
        }
        i++;
      }
      tildeOk = false;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
      tildeOk = false;
      continue;
    }
    if ('|&;<>()'.includes(c)) throw refuse(`'${c}'`);
    if (c === '`' || (c === '$' && text[i + 1] === '(')) throw refuse('a command substitution');
    if (c === '~' && tildeOk && !inWord && (i + 1 === text.length || /[\s/]/.test(text[i + 1]!))) {
      word += homedir();
    } else {
      word += c;
    }
    inWord = true;
    tildeOk = false;
  }
  if (quote) throw usageError(`the command line has an unterminated ${quote === "'" ? 'single' : 'double'} quote`);
  if (inWord) words.push(word);
  return words;
}

/** `"FOO=1 claude --model x"` → env {FOO: "1"}, command "claude", args ["--model", "x"]. */
export function parseAgentCommand(text: string): { command: string; args: string[]; env: Record<string, string> } {
  const words = splitCommandLine(text);
  const env: Record<string, string> = {};
  while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) {
    const w = words.shift()!;
    const eq = w.indexOf('=');
    env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  const command = words.shift();
  if (!command) {
    throw usageError('the agent command is empty', 'give the command and its arguments, e.g. `gt config agent set claude-glm "claude-glm --model glm-4"`');
  }
  return { command, args: words, env };
}

/** Quote a word for display so the shown command line splits back into the same words. */
export function quoteWord(word: string): string {
  if (word && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function formatCommandLine(runtime: Pick<AgentRuntime, 'command' | 'args' | 'env'>): string {
  const env = Object.entries(runtime.env).map(([k, v]) => `${k}=${quoteWord(v)}`);
  return [...env, runtime.command, ...runtime.args].map((w, i) => (i < env.length ? w : quoteWord(w))).join(' ');
}

/** Whether `command` names an executable: a path that can be run, or a name found on PATH. */
export function commandExists(command: string, path: string = process.env.PATH ?? ''): boolean {
  const canRun = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return canRun(isAbsolute(command) ? command : join(process.cwd(), command));
  return path.split(delimiter).some((dir) => dir && canRun(join(dir, command)));
}

const AGENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function validateAgentName(name: string): void {
  if (!AGENT_NAME_RE.test(name)) {
    throw usageError(`agent name "${name}" is not valid`, 'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
}

/** Read-modify-write of the town's settings/config.json under a cross-process lock. */
export function updateTownSettings<T>(root: string, fn: (settings: TownSettings) => T): T {
  return withLockSync(townPaths(root).settings + '.lock', () => {
    const settings = readTownSettings(root);
    const result = fn(settings);
    writeTownSettings(root, settings);
    return result;
  }, { what: 'settings/config.json' });
}

export interface AgentListing extends AgentRuntime {
  kind: 'preset' | 'custom' | 'override';
  default: boolean;
  command_line: string;
}

export function listAgents(root: string): AgentListing[] {
  const town = readTownSettings(root);
  const def = town.default_agent ?? FALLBACK_AGENT;
  return knownAgentNames(town).map((name) => {
    const runtime = resolveAgent(name, town)!;
    const custom = Boolean(town.agents?.[name]);
    const kind = !custom ? 'preset' : isPreset(name) ? 'override' : 'custom';
    return { ...runtime, kind, default: name === def, command_line: formatCommandLine(runtime) };
  });
}

export interface AgentSetOptions {
  promptMode?: string;
  /** The preset family whose integration it takes (hooks or context file, ready prompt, waits). */
  provider?: string;
  readyPrompt?: string;
  instructionsFile?: string;
}

/** Flags that fight what gt does for a runtime family: refused, naming what to do instead. */
function conflictingArgs(family: string | undefined, args: string[], opts: AgentSetOptions): string | undefined {
  if (family === 'claude') {
    if (args.includes('--settings')) return 'gt passes its own --settings file (the hooks that re-prime the agent); put your settings in settings/claude-settings.json (or <rig>/settings/claude-settings.json) and gt merges them in';
    if (args.includes('-p') || args.includes('--print')) return '-p/--print makes Claude Code answer once and exit; a polecat needs the interactive session';
    if (opts.instructionsFile !== undefined) return 'Claude Code gets its instructions from the hooks in its settings file, not a context file: leave out --instructions-file';
  }
  if (family === 'gemini' && (args.includes('-p') || args.includes('--prompt'))) return '-p/--prompt makes Gemini CLI answer once and exit; gt gives the first prompt with --prompt-interactive';
  if (family === 'codex' && (args[0] === 'exec' || args[0] === 'e')) return '`codex exec` runs one task without its TUI and exits; a polecat needs the interactive session (gt types the first prompt in)';
  return undefined;
}

/**
 * `gt config agent set`: store a custom agent (or an override of a preset) in the town settings.
 * The prompt mode comes from `promptMode`, else from the preset the command belongs to, else "arg".
 * Refused with a usage error, changing nothing: a preset's name for another preset's command, a
 * `--provider` the command contradicts, flags that fight gt's own integration of the runtime.
 */
export function setCustomAgent(root: string, name: string, commandLine: string, opts: AgentSetOptions = {}): AgentRuntime {
  validateAgentName(name);
  if (opts.promptMode !== undefined && opts.promptMode !== 'arg' && opts.promptMode !== 'none') {
    throw usageError(`--prompt-mode must be "arg" or "none", not "${opts.promptMode}"`);
  }
  if (opts.provider !== undefined && !isPreset(opts.provider)) {
    throw usageError(`--provider "${opts.provider}" is not a preset`, `presets: ${PRESET_NAMES.join(', ')}; leave it out for a runtime of its own`);
  }
  if (opts.readyPrompt !== undefined) {
    const problem = readyPromptProblem(opts.readyPrompt);
    if (problem || !opts.readyPrompt) throw usageError(`--ready-prompt ${JSON.stringify(opts.readyPrompt)} is not a regular expression${problem ? ` (${problem})` : ''}`, 'give a pattern for a line of its screen when it waits for input, e.g. "^> "');
  }
  if (opts.instructionsFile !== undefined) {
    const problem = instructionsFileProblem(opts.instructionsFile);
    if (problem) throw usageError(`--instructions-file "${opts.instructionsFile}" is not a context file name`, problem);
  }
  const { command, args, env } = parseAgentCommand(commandLine);
  const commandFamily = presetForCommand(command);
  if (isPreset(name) && commandFamily && commandFamily !== name) {
    throw usageError(`"${name}" is the ${name} preset, but "${command}" is the command of the ${commandFamily} preset`, `give the override another name (e.g. gt config agent set ${commandFamily}-custom "${commandLine}"), or run ${AGENT_PRESETS[name]!.command} under the name ${name}`);
  }
  if (opts.provider && isPreset(name) && opts.provider !== name) {
    throw usageError(`"${name}" is the ${name} preset; --provider ${opts.provider} contradicts it`, `leave out --provider, or give the agent another name`);
  }
  if (opts.provider && commandFamily && opts.provider !== commandFamily) {
    throw usageError(`--provider ${opts.provider} contradicts the command "${command}", which is ${commandFamily}`, `leave out --provider (it is ${commandFamily}), or use ${AGENT_PRESETS[opts.provider]!.command}`);
  }
  const family = opts.provider ?? commandFamily ?? (isPreset(name) ? name : undefined);
  const conflict = conflictingArgs(family, args, opts);
  if (conflict) throw usageError(`agent "${name}": ${conflict}`);
  const cfg: RuntimeConfig = { command, args };
  if (family) cfg.provider = family;
  if (Object.keys(env).length) cfg.env = env;
  const base = family ? AGENT_PRESETS[family] : undefined;
  cfg.prompt_mode = (opts.promptMode as PromptMode | undefined) ?? base?.prompt_mode ?? 'arg';
  if (opts.readyPrompt !== undefined) cfg.ready_prompt = opts.readyPrompt;
  if (opts.instructionsFile !== undefined) cfg.instructions_file = opts.instructionsFile;
  updateTownSettings(root, (settings) => {
    settings.agents = { ...(settings.agents ?? {}), [name]: cfg };
  });
  return runtimeFromConfig(name, cfg, 'settings/config.json agents');
}

/** Every setting that names `agent`: the town's and every rig's, for refusing to remove an agent in use. */
function usesOf(root: string, town: TownSettings, agent: string): string[] {
  const uses: string[] = [];
  if ((town.default_agent ?? FALLBACK_AGENT) === agent) uses.push('default_agent in settings/config.json');
  for (const [role, a] of Object.entries(town.role_agents ?? {})) if (a === agent) uses.push(`role_agents.${role} in settings/config.json`);
  for (const rig of Object.keys(readRigs(root).rigs)) {
    const rs = readRigSettings(root, rig);
    if (rs.agent === agent) uses.push(`agent in ${rig}/settings/config.json`);
    for (const [role, a] of Object.entries(rs.role_agents ?? {})) if (a === agent) uses.push(`role_agents.${role} in ${rig}/settings/config.json`);
  }
  return uses;
}

/**
 * `gt config agent remove`: drop a custom agent, or a custom override of a preset (the preset
 * itself stays). Built-in presets and unknown names are refused, and so is a custom agent that a
 * setting still names, since every later start would then fail.
 */
export function removeCustomAgent(root: string, name: string): { removed: string; reverted_to_preset: boolean } {
  return updateTownSettings(root, (settings) => {
    if (!settings.agents?.[name]) {
      if (isPreset(name)) throw new GtError(`"${name}" is a built-in preset and cannot be removed`, { hint: 'set another default with `gt config default-agent <name>` if you do not want to use it' });
      throw new GtError(`no custom agent named "${name}"`, { hint: `custom agents: ${Object.keys(settings.agents ?? {}).join(', ') || '(none)'}` });
    }
    if (!isPreset(name)) {
      const uses = usesOf(root, settings, name);
      if (uses.length) {
        throw new GtError(`agent "${name}" is still in use (${uses.join('; ')})`, { hint: 'point those settings at another agent first, e.g. `gt config default-agent claude`' });
      }
    }
    const { [name]: _removed, ...rest } = settings.agents;
    settings.agents = rest;
    return { removed: name, reverted_to_preset: isPreset(name) };
  });
}

/** `gt config default-agent <name>`: refuses names that are neither presets nor custom agents. */
export function setDefaultAgent(root: string, name: string): AgentRuntime {
  return updateTownSettings(root, (settings) => {
    const runtime = resolveAgent(name, settings);
    if (!runtime) throw unknownAgent(name, undefined, settings);
    settings.default_agent = name;
    return runtime;
  });
}

export function getDefaultAgent(root: string): AgentRuntime & { source: string } {
  const town = readTownSettings(root);
  const name = town.default_agent ?? FALLBACK_AGENT;
  const runtime = resolveAgent(name, town);
  if (!runtime) throw unknownAgent(name, 'default_agent in settings/config.json', town);
  return { ...runtime, source: town.default_agent ? 'default_agent in settings/config.json' : 'built-in default' };
}
