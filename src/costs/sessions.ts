import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { townPaths } from '../town/layout.js';

/**
 * Which runtime session worked what: one line per hook call that names a session, written by
 * `gt prime --hook` from what Claude Code passes its hooks (session id, transcript path) and from
 * the agent's environment (rig, polecat, bead, attempt). `gt costs` reads the transcripts it names.
 * A runtime whose hooks name no session (Codex) gets a line from the polecat's session activity
 * when it starts the runtime: its worktree and start time, by which its records are found.
 */
export interface SessionRecord {
  at: string;
  agent: string;
  rig?: string;
  polecat?: string;
  bead?: string;
  attempt?: number;
  runtime?: string;
  session_id: string;
  transcript_path?: string;
  event?: string;
  source?: string;
  /** Where the runtime ran (a polecat's worktree): what its own records are matched by. */
  cwd?: string;
  /** How its usage is found when no hook named a transcript: Codex's rollout files under `codex_home`. */
  usage_source?: 'codex-rollout';
  codex_home?: string;
  /** The runtime whose hooks recorded it, when not Claude Code's (Gemini CLI's transcript is its chat record, read as such). */
  hook_runtime?: string;
}

/** What Claude Code writes on a hook's stdin (the fields we use). */
export interface HookInput {
  session_id?: string;
  transcript_path?: string;
  cwd?: string;
  hook_event_name?: string;
  /** SessionStart: startup | resume | clear | compact. */
  source?: string;
  /** PreCompact: manual | auto. */
  trigger?: string;
}

export function sessionsFile(root: string): string {
  return join(townPaths(root).gt, 'costs', 'sessions.jsonl');
}

/** The hook's stdin as JSON, or nothing when it is a terminal or not JSON (a person running the command). */
export function readHookInput(): HookInput {
  if (process.stdin.isTTY) return {};
  try {
    const text = readFileSync(0, 'utf8').trim();
    if (!text) return {};
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as HookInput) : {};
  } catch {
    return {};
  }
}

export function recordSession(root: string, agent: string, input: HookInput, env: NodeJS.ProcessEnv = process.env, hookRuntime?: string): SessionRecord | undefined {
  if (!input.session_id || typeof input.session_id !== 'string') return undefined;
  const attempt = Number(env.GT_ATTEMPT);
  const record: SessionRecord = {
    at: new Date().toISOString(),
    agent,
    ...(env.GT_RIG ? { rig: env.GT_RIG } : {}),
    ...(env.GT_POLECAT ? { polecat: env.GT_POLECAT } : {}),
    ...(env.GT_BEAD ? { bead: env.GT_BEAD } : {}),
    ...(Number.isInteger(attempt) && attempt > 0 ? { attempt } : {}),
    ...(env.GT_AGENT ? { runtime: env.GT_AGENT } : {}),
    session_id: input.session_id,
    ...(typeof input.transcript_path === 'string' ? { transcript_path: input.transcript_path } : {}),
    ...(input.hook_event_name ? { event: input.hook_event_name } : {}),
    ...(input.source ?? input.trigger ? { source: input.source ?? input.trigger } : {}),
    ...(hookRuntime ? { hook_runtime: hookRuntime } : {}),
  };
  const file = sessionsFile(root);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, JSON.stringify(record) + '\n');
  return record;
}

/** A line for a session its runtime's hooks do not name (written by the polecat's session activity as it starts the runtime). */
export function recordStartedSession(root: string, record: SessionRecord): void {
  const file = sessionsFile(root);
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, JSON.stringify(record) + '\n');
}

/** Every session the town knows, one per session id (the first record names its bead; a later one may name its transcript). */
export function readSessions(root: string): { sessions: SessionRecord[]; problems: string[] } {
  let text = '';
  try {
    text = readFileSync(sessionsFile(root), 'utf8');
  } catch {
    return { sessions: [], problems: [] };
  }
  const byId = new Map<string, SessionRecord>();
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: SessionRecord;
    try {
      r = JSON.parse(line) as SessionRecord;
    } catch {
      problems.push(`${sessionsFile(root)}:${i + 1}: not JSON, skipped`);
      return;
    }
    if (!r || typeof r.session_id !== 'string') return;
    const known = byId.get(r.session_id);
    byId.set(r.session_id, known ? { ...r, ...known, transcript_path: known.transcript_path ?? r.transcript_path } : r);
  });
  return { sessions: [...byId.values()], problems };
}
