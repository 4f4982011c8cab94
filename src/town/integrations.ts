/**
 * How each agent runtime is wired in, beyond its command line: where its role instructions go,
 * what puts them back after a compaction or a restart, what its screen looks like when it is
 * ready for input, and which screens mean it waits for a person (a trust, permission or input
 * prompt) rather than being stuck. Pure data and pure functions over screen text: the polecat's
 * agent activity does the I/O. Facts come from each runtime's own documentation and the original
 * Gas Town's presets.
 */

/**
 * `claude-settings`: a settings file passed with `--settings` whose hooks run `gt prime --hook`
 * at SessionStart (startup, resume, clear, compact) and PreCompact, and `gt mail check --inject`
 * at UserPromptSubmit. `context-file`: the runtime has no hooks we drive; its context file
 * (AGENTS.md, GEMINI.md) in the worktree carries the role instructions, which it reads at every
 * start, and tells it to run `gt prime` after a compaction.
 */
export type InstructionStyle = 'claude-settings' | 'context-file';

export type WaitKind = 'trust' | 'permission' | 'input';

export interface WaitPattern {
  kind: WaitKind;
  /** Tested against each of the last screen lines (spaces normalised, box borders stripped). */
  pattern: RegExp;
  /** tmux key names that answer it the way a polecat needs (e.g. trust this worktree); none: a person must. */
  remedy?: string[];
}

export interface RuntimeIntegration {
  style: InstructionStyle;
  /** For `context-file`: the file the runtime reads from its working folder. */
  contextFile?: string;
  /** A line of the screen that shows the runtime waits at its input prompt; none known: the screen settling stands for it. */
  ready?: RegExp;
  /** Hooks declared in a settings file in the worktree, beside the context file: Gemini CLI's `.gemini/settings.json`. */
  hooks?: 'gemini-settings';
  /** Where its token usage can be read: Claude Code's transcripts (named by its hooks), Codex's rollout files (found by worktree and time). */
  usage?: 'claude-transcript' | 'codex-rollout';
  waits: WaitPattern[];
}

/** Screens every runtime may show (a tool asking for a password, a y/n question). Checked after the runtime's own. */
const GENERIC_WAITS: WaitPattern[] = [
  { kind: 'trust', pattern: /\bdo you trust (the files|the contents|this folder|this workspace|this directory)/i },
  { kind: 'permission', pattern: /\bdo you want to (proceed|continue|run|allow|make|create|apply|edit|execute)\b.*\?/i },
  { kind: 'permission', pattern: /\b(allow|approve) (this )?(command|execution|tool|edit|change|action)s?\b.*\?/i },
  { kind: 'input', pattern: /\((y\/n|y\/N|Y\/n|yes\/no)\)\s*:?\s*$/ },
  { kind: 'input', pattern: /\b(password|passphrase)( for [^:]+)?:\s*$/i },
  { kind: 'input', pattern: /^Username for '[^']+':\s*$/ },
  { kind: 'input', pattern: /\bpress enter to continue\b/i },
];

const CLAUDE: RuntimeIntegration = {
  style: 'claude-settings',
  // Its input box: "❯ " (often with a no-break space, normalised before matching), older versions "> ".
  ready: /^[❯>](\s|$)/,
  usage: 'claude-transcript',
  waits: [
    // The first start in a folder: "Do you trust the files in this folder?", "1. Yes, proceed" preselected.
    { kind: 'trust', pattern: /\bdo you trust the files in this folder\b/i, remedy: ['Enter'] },
    // --dangerously-skip-permissions asks once to accept Bypass Permissions mode: "1. No, exit" / "2. Yes, I accept".
    { kind: 'trust', pattern: /\bBypass Permissions mode\b/, remedy: ['Down', 'Enter'] },
    // A tool permission dialog ("Do you want to proceed?", "Do you want to make this edit to x?"): a person decides.
    { kind: 'permission', pattern: /\bdo you want to (proceed|make this edit|create|allow)\b/i },
  ],
};

const contextFile = (file: string, waits: WaitPattern[] = []): RuntimeIntegration => ({ style: 'context-file', contextFile: file, waits });

/** Per preset family; a custom agent takes its family's, else the generic one. */
const INTEGRATIONS: Record<string, RuntimeIntegration> = {
  claude: CLAUDE,
  // Codex reads AGENTS.md; its first start in a folder asks to trust it ("Yes, allow Codex to work in this folder" preselected).
  codex: { ...contextFile('AGENTS.md', [{ kind: 'trust', pattern: /\ballow codex to work in this folder\b/i, remedy: ['Enter'] }]), usage: 'codex-rollout' },
  // Gemini CLI reads GEMINI.md; its folder trust dialog has "1. Trust folder" preselected.
  // Its hooks (SessionStart, PreCompress, AfterTool, BeforeAgent) go in the worktree's .gemini/settings.json.
  gemini: { ...contextFile('GEMINI.md', [{ kind: 'trust', pattern: /\bdo you trust this folder\b/i, remedy: ['Enter'] }]), hooks: 'gemini-settings' },
  cursor: contextFile('AGENTS.md'),
  auggie: contextFile('AGENTS.md'),
  amp: contextFile('AGENTS.md'),
  opencode: contextFile('AGENTS.md'),
  // Copilot CLI reads AGENTS.md; it asks to trust the folder on first start ("1. Yes, proceed").
  copilot: contextFile('AGENTS.md', [{ kind: 'trust', pattern: /\bconfirm folder trust\b|\bdo you trust the files in this folder\b/i, remedy: ['Enter'] }]),
};

export interface IntegrationOverrides {
  /** A regular expression for a ready screen line (custom agents). */
  ready_prompt?: string;
  /** The context file a custom agent reads (default AGENTS.md). */
  instructions_file?: string;
}

export function integrationFor(provider: string, overrides: IntegrationOverrides = {}): RuntimeIntegration {
  const base = INTEGRATIONS[provider] ?? contextFile('AGENTS.md');
  const out: RuntimeIntegration = { ...base, waits: [...base.waits, ...GENERIC_WAITS] };
  if (overrides.ready_prompt) out.ready = new RegExp(overrides.ready_prompt);
  if (overrides.instructions_file && out.style === 'context-file') out.contextFile = overrides.instructions_file;
  return out;
}

/** A problem with a ready_prompt pattern, or undefined when it compiles. */
export function readyPromptProblem(text: string): string | undefined {
  try {
    new RegExp(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const CONTEXT_FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\.md$/;

export function instructionsFileProblem(name: string): string | undefined {
  return CONTEXT_FILE_RE.test(name) ? undefined : 'give a plain file name in the worktree root ending in .md, e.g. AGENTS.md';
}

/** Screen text as lines to match: no-break spaces as spaces, box borders and trailing blanks gone. */
export function screenLines(screen: string): string[] {
  return screen
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.replace(/\u00a0/g, ' ').replace(/^[\s│┃|╭╰─]+/, '').replace(/[\s│┃|╮╯─]+$/, ''));
}

/** The last non-empty lines of a screen, at most `n`. */
export function lastLines(screen: string, n: number): string[] {
  return screenLines(screen).filter((l) => l.trim()).slice(-n);
}

/** A screen line matches the ready pattern (its trailing blanks, trimmed away on screen, count as one space: "› " matches an empty input line). */
function readyLine(ready: RegExp, line: string): boolean {
  return ready.test(line) || ready.test(`${line} `);
}

/** Whether the screen shows the runtime's input prompt (in its last lines: older output scrolls above). */
export function showsReady(integration: RuntimeIntegration, screen: string): boolean {
  const ready = integration.ready;
  if (!ready) return false;
  return screenLines(screen).filter((l) => l.trim()).slice(-8).some((l) => readyLine(ready, l));
}

/** What an input line of most TUIs starts with, for runtimes whose own ready prompt is not known. */
const GENERIC_PROMPT = /^[>›❯→▌$%](\s|$)/;

/** The screen's last line looks like an input prompt ("> ", "› ", "❯ ", ...). */
export function looksLikePrompt(screen: string): boolean {
  const last = lastLines(screen, 1)[0];
  return last !== undefined && readyLine(GENERIC_PROMPT, last);
}

/** The input line holds `text` still (typed but not submitted). */
export function inputHolds(integration: RuntimeIntegration, screen: string, text: string): boolean {
  const ready = integration.ready ?? GENERIC_PROMPT;
  const needle = text.replace(/\s+/g, ' ').trim().slice(0, 24);
  if (!ready || !needle) return false;
  return lastLines(screen, 8).some((l) => readyLine(ready, l) && l.replace(/\s+/g, ' ').includes(needle));
}

export interface ScreenWait {
  kind: WaitKind;
  /** The prompt's own lines: the matching one and what follows it (its options), on one line. */
  text: string;
  remedy?: string[];
}

/** The trust, permission or input prompt the screen shows at its bottom, if any. */
export function waitingPrompt(integration: RuntimeIntegration, screen: string): ScreenWait | undefined {
  const lines = lastLines(screen, 14);
  for (const w of integration.waits) {
    const at = lines.findIndex((l) => w.pattern.test(l));
    if (at < 0) continue;
    const text = lines
      .slice(Math.max(0, at - 1), at + 4)
      .map((l) => l.trim())
      .filter(Boolean)
      .join(' / ')
      .slice(0, 300);
    return { kind: w.kind, text, ...(w.remedy ? { remedy: [...w.remedy] } : {}) };
  }
  return undefined;
}

/** Runtimes whose hooks take their output as JSON rather than plain text. */
export const JSON_HOOK_RUNTIMES = ['gemini'] as const;
export type JsonHookRuntime = (typeof JSON_HOOK_RUNTIMES)[number];

/**
 * A hook's stdout for `runtime`: Gemini CLI parses it as JSON, adding
 * `hookSpecificOutput.additionalContext` to the agent's context (SessionStart, BeforeAgent,
 * AfterTool) and showing `systemMessage` to the person; nothing to add is an empty object.
 */
export function hookReply(_runtime: JsonHookRuntime, event: string, context: string, message?: string): string {
  const reply: Record<string, unknown> = {};
  if (context && ['SessionStart', 'BeforeAgent', 'AfterTool'].includes(event)) reply.hookSpecificOutput = { hookEventName: event, additionalContext: context };
  if (message) reply.systemMessage = message;
  return JSON.stringify(reply) + '\n';
}

/** The role instructions a context-file runtime reads at every start (and so again after a restart or compaction). */
export function contextFileText(p: { rig: string; name: string; bead: string }): string {
  return [
    '<!-- Written by Gas Town for this polecat session; not part of the repository (excluded in .git/info/exclude). -->',
    `# Gas Town: you are polecat ${p.name} of rig ${p.rig}`,
    '',
    `You work bead ${p.bead} in this worktree, on its own branch.`,
    '',
    '- Run `gt prime` first: it prints your role, the bead on your hook and its checklist.',
    '- Run `gt prime` again whenever your context was compacted or cleared, or you lost track.',
    '- Run `gt mail check` now and then: unread mail is listed there.',
    '- Commit your work; when it is done run `gt done` (or `gt done --status ESCALATED` / `--status DEFERRED`).',
    '',
  ].join('\n');
}
