import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { replaceFile } from '../fsutil.js';
import { commonGitDir, runGit } from '../activities/git.js';
import { GtError } from '../errors.js';
import { rigPaths } from '../town/layout.js';
import { contextFileText, integrationFor, type RuntimeIntegration } from '../town/integrations.js';
import type { AgentRuntime } from '../town/runtimes.js';

/**
 * The files that carry a polecat's role instructions to its runtime, never into the user's
 * repository history: Claude Code's settings file (hooks) lives outside the worktree and is
 * passed with `--settings`; a context file (AGENTS.md, GEMINI.md) and Gemini CLI's project
 * settings (`.gemini/settings.json`, hooks) are written into the worktree and excluded through
 * the repository's `info/exclude`, and are left alone when the repository tracks a file of that name.
 */

/** A person's own Claude Code settings for polecats, merged under ours: the town's, then the rig's. */
export function claudeSettingsSources(root: string, rig?: string): string[] {
  const town = join(root, 'settings', 'claude-settings.json');
  return rig ? [town, join(rigPaths(root, rig).dir, 'settings', 'claude-settings.json')] : [town];
}

type HookEntry = { matcher?: string; hooks: { type: 'command'; command: string }[] };
type Settings = Record<string, unknown> & { hooks?: Record<string, HookEntry[]> };

/** Claude Code and Gemini CLI declare hooks alike: `"hooks": { "<Event>": [{ "matcher", "hooks": [{ "type": "command", "command" }] }] }`. */
function readSettingsFile(root: string, file: string, runtime: string): Settings | undefined {
  if (!existsSync(file)) return undefined;
  const shown = relative(root, file) || file;
  const fix = { hint: `fix ${shown} (${runtime} settings JSON: an object, with "hooks": { "<Event>": [{ "matcher": "", "hooks": [{ "type": "command", "command": "…" }] }] }) or remove it` };
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GtError(`${shown} cannot be parsed: ${(err as Error).message}`, fix);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new GtError(`${shown} is not a JSON object`, fix);
  const hooks = (value as Settings).hooks;
  if (hooks !== undefined) {
    if (!hooks || typeof hooks !== 'object' || Array.isArray(hooks)) throw new GtError(`${shown}: "hooks" is not an object of events`, fix);
    for (const [event, list] of Object.entries(hooks)) {
      // Gemini CLI keeps its hook switches beside the events ("disabled": [names], older "enabled": true).
      if (runtime === 'Gemini CLI' && (event === 'disabled' || event === 'enabled')) continue;
      const ok = Array.isArray(list) && list.every((e) => e && typeof e === 'object' && Array.isArray((e as HookEntry).hooks) && (e as HookEntry).hooks.every((h) => h && h.type === 'command' && typeof h.command === 'string'));
      if (!ok) throw new GtError(`${shown}: hooks.${event} is not a list of { matcher, hooks: [{ type: "command", command }] }`, fix);
    }
  }
  return value as Settings;
}

/** A person's settings files merged in order (later keys win, hooks of an event add up), then ours. */
function mergeSettings(root: string, files: string[], runtime: string, base: Settings, ours: Record<string, HookEntry[]>): Settings {
  const merged: Settings = { ...base };
  const hooks: Record<string, HookEntry[]> = {};
  for (const file of files) {
    const s = readSettingsFile(root, file, runtime);
    if (!s) continue;
    for (const [k, v] of Object.entries(s)) if (k !== 'hooks') merged[k] = v;
    for (const [event, list] of Object.entries(s.hooks ?? {})) hooks[event] = Array.isArray(list) ? [...(hooks[event] ?? []), ...list] : (list as HookEntry[]);
  }
  for (const [event, list] of Object.entries(ours)) hooks[event] = [...(hooks[event] ?? []), ...list];
  return { ...merged, hooks };
}

/** Our hooks: the role and hook again at every session start (startup, resume, clear, compact) and before a compaction; unread mail at each prompt. */
const GT_HOOKS: Record<string, HookEntry[]> = {
  SessionStart: [{ matcher: '', hooks: [{ type: 'command', command: 'gt prime --hook && gt mail check --inject' }] }],
  PreCompact: [{ matcher: '', hooks: [{ type: 'command', command: 'gt prime --hook' }] }],
  UserPromptSubmit: [{ matcher: '', hooks: [{ type: 'command', command: 'gt mail check --inject' }] }],
};

/** The settings a polecat's Claude Code starts with. Throws, naming the file, when a person's settings cannot be parsed. */
export function claudeSettings(root: string, rig?: string): Settings {
  // Polecats run with --dangerously-skip-permissions: its one-time confirmation is answered here.
  return mergeSettings(root, claudeSettingsSources(root, rig), 'Claude Code', { skipDangerousModePermissionPrompt: true }, GT_HOOKS);
}

/** A person's own Gemini CLI settings for polecats, merged under ours: the town's, then the rig's. */
export function geminiSettingsSources(root: string, rig?: string): string[] {
  const town = join(root, 'settings', 'gemini-settings.json');
  return rig ? [town, join(rigPaths(root, rig).dir, 'settings', 'gemini-settings.json')] : [town];
}

/**
 * Gemini CLI's hooks (its settings.json, same shape as Claude Code's, its own event names; a
 * hook's stdout is JSON, `gt … gemini` prints it so): the role and hook at SessionStart
 * (startup, resume, clear); PreCompress cannot add to the context, so `gt prime --hook` notes the
 * compaction there and the first tool result after it carries the context again (AfterTool,
 * which costs nothing until then); unread mail before each turn (BeforeAgent).
 */
const GEMINI_HOOKS: Record<string, HookEntry[]> = {
  SessionStart: [{ matcher: '', hooks: [{ type: 'command', command: 'gt prime --hook gemini' }] }],
  PreCompress: [{ matcher: '', hooks: [{ type: 'command', command: 'gt prime --hook gemini' }] }],
  AfterTool: [{ matcher: '', hooks: [{ type: 'command', command: '[ ! -e "$GT_REPRIME_FILE" ] || gt prime --hook gemini' }] }],
  BeforeAgent: [{ matcher: '', hooks: [{ type: 'command', command: 'gt mail check --inject gemini' }] }],
};

/** The project settings a polecat's Gemini CLI finds in its worktree (`.gemini/settings.json`), hooks switched on. Throws, naming the file, when a person's settings cannot be parsed. */
export function geminiSettings(root: string, rig?: string): Settings {
  const s = mergeSettings(root, geminiSettingsSources(root, rig), 'Gemini CLI', {}, GEMINI_HOOKS);
  const hooksConfig = s.hooksConfig && typeof s.hooksConfig === 'object' ? (s.hooksConfig as Record<string, unknown>) : {};
  return { ...s, hooksConfig: { ...hooksConfig, enabled: true } };
}

/** Everything a start of `runtime` needs that can be wrong before anything runs (for `gt sling` and the session activity). */
export function checkRuntimeFiles(root: string, rig: string, runtime: AgentRuntime): RuntimeIntegration {
  const integration = integrationFor(runtime.provider, runtime);
  if (integration.style === 'claude-settings') claudeSettings(root, rig);
  if (integration.hooks === 'gemini-settings') geminiSettings(root, rig);
  return integration;
}

/** git's trimmed output, or undefined when it fails. Started from the worker's launcher (never forked from the worker itself). */
async function gitOut(args: string[], cwd: string): Promise<string | undefined> {
  const r = await runGit(args, cwd);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface ContextFileResult {
  file: string;
  written: boolean;
  /** Why it was not written. */
  reason?: string;
}

/** Keep a file we write into a worktree out of git: a rule in the repository's `info/exclude`. Returns why not, if it cannot. */
async function excludeFromGit(worktree: string, name: string): Promise<string | undefined> {
  const common = await commonGitDir(worktree);
  if (!common) return `${worktree} is not a git worktree`;
  const exclude = join(common, 'info', 'exclude');
  const rule = `/${name}`;
  let current = '';
  try {
    current = readFileSync(exclude, 'utf8');
  } catch {
    mkdirSync(dirname(exclude), { recursive: true });
  }
  if (!current.split('\n').includes(rule)) appendFileSync(exclude, `${current && !current.endsWith('\n') ? '\n' : ''}# Gas Town: polecat runtime files, never committed\n${rule}\n`);
  return undefined;
}

/** Write `text` at `name` in the worktree, excluded from git, unless the repository tracks a file of that name (then the repository's own stays). */
async function writeWorktreeFile(worktree: string, name: string, text: string): Promise<ContextFileResult> {
  const file = join(worktree, name);
  if ((await gitOut(['ls-files', '--error-unmatch', '--', name], worktree)) !== undefined) {
    return { file, written: false, reason: `the repository tracks its own ${name}` };
  }
  const problem = await excludeFromGit(worktree, name);
  if (problem) return { file, written: false, reason: problem };
  await replaceFile(file, text);
  return { file, written: true };
}

/**
 * Write the context file into the worktree, excluded from git, unless the repository tracks a
 * file of that name (then the repository's own instructions stay and ours go in the first prompt).
 */
export function writeContextFile(worktree: string, name: string, p: { rig: string; name: string; bead: string }): Promise<ContextFileResult> {
  return writeWorktreeFile(worktree, name, contextFileText(p));
}

/** Gemini CLI's project settings with our hooks, in the worktree's `.gemini/settings.json`, excluded from git (not when the repository tracks its own). */
export function writeGeminiSettings(worktree: string, settings: Settings): Promise<ContextFileResult> {
  return writeWorktreeFile(worktree, '.gemini/settings.json', JSON.stringify(settings, null, 2) + '\n');
}
