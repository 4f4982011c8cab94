import { trackedIds, hqLedger } from '../convoy/store.js';
import type { SessionsUsage } from '../polecat/state.js';
import { readSessions, type SessionRecord } from './sessions.js';
import { codexRolloutUsage, RolloutIndex } from './codex.js';
import { geminiChatUsage } from './gemini.js';
import { addUsage, claudeTranscriptUsage, emptyUsage, tokens, type Usage } from './usage.js';

/** `gt costs`: the tokens and dollars of every recorded session, summed per session, bead, convoy, rig or agent. */

export const COST_GROUPS = ['session', 'bead', 'convoy', 'rig', 'agent'] as const;
export type CostGroup = (typeof COST_GROUPS)[number];

export interface CostRow extends Usage {
  key: string;
  tokens: number;
  sessions: number;
}

export interface CostReport {
  by: CostGroup;
  rows: CostRow[];
  total: CostRow;
  /** Files or lines that could not be read (the rest still counts). */
  problems: string[];
}

interface SessionUsage {
  session: SessionRecord;
  usage: Usage;
}

/**
 * Each recorded session's usage: Claude Code's and Gemini CLI's from the transcript their hooks named; Codex's from
 * the rollouts started in its worktree after it started and before the next session there did.
 */
function sessionUsages(root: string): { list: SessionUsage[]; problems: string[] } {
  const { sessions, problems } = readSessions(root);
  const list: SessionUsage[] = [];
  const rollouts = new RolloutIndex();
  const startsIn = new Map<string, number[]>();
  for (const s of sessions) if (s.cwd) startsIn.set(s.cwd, [...(startsIn.get(s.cwd) ?? []), Date.parse(s.at)]);
  for (const session of sessions) {
    if (session.transcript_path) {
      const read = session.hook_runtime === 'gemini' ? geminiChatUsage(session.transcript_path) : claudeTranscriptUsage(session.transcript_path);
      problems.push(...read.problems);
      list.push({ session, usage: read.usage });
    } else if (session.usage_source === 'codex-rollout' && session.cwd && session.codex_home) {
      // Codex writes its session_meta just after it starts: a moment before our record still counts.
      const from = Date.parse(session.at) - 2000;
      const next = (startsIn.get(session.cwd) ?? []).filter((t) => t > Date.parse(session.at)).sort((a, b) => a - b)[0];
      const usage = emptyUsage();
      for (const file of rollouts.find(session.codex_home, session.cwd, from, next === undefined ? Date.now() + 60_000 : next - 2000)) {
        const read = codexRolloutUsage(file);
        problems.push(...read.problems);
        addUsage(usage, read.usage);
      }
      list.push({ session, usage });
    }
  }
  problems.push(...rollouts.problems);
  return { list, problems };
}

/** bead → the convoys that track it (every sling makes one; a bead may be in more). */
function convoysOfBeads(root: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const c of hqLedger(root).list({ issue_type: 'convoy', all: true })) {
    for (const id of trackedIds(c)) map.set(id, [...(map.get(id) ?? []), c.id]);
  }
  return map;
}

function row(key: string): CostRow {
  return { key, ...emptyUsage(), tokens: 0, sessions: 0 };
}

export function costReport(root: string, by: CostGroup): CostReport {
  const { list, problems } = sessionUsages(root);
  const convoys = by === 'convoy' ? convoysOfBeads(root) : undefined;
  const rows = new Map<string, CostRow>();
  const total = row('total');
  for (const { session, usage } of list) {
    const keys =
      by === 'session' ? [session.session_id]
      : by === 'bead' ? [session.bead ?? '(no bead)']
      : by === 'rig' ? [session.rig ?? '(town)']
      : by === 'agent' ? [session.agent]
      : (convoys!.get(session.bead ?? '') ?? ['(no convoy)']);
    for (const key of keys) {
      const r = rows.get(key) ?? row(key);
      addUsage(r, usage);
      r.sessions += 1;
      r.tokens = tokens(r);
      rows.set(key, r);
    }
    addUsage(total, usage);
    total.sessions += 1;
  }
  total.tokens = tokens(total);
  return { by, rows: [...rows.values()].sort((a, b) => b.tokens - a.tokens || a.key.localeCompare(b.key)), total, problems };
}

/** What the sessions of these beads have spent so far (for a convoy's budget). */
export function spentOn(root: string, beads: Iterable<string>): { usage: Usage; tokens: number; problems: string[] } {
  const wanted = new Set(beads);
  const { list, problems } = sessionUsages(root);
  const usage = emptyUsage();
  for (const s of list) if (s.session.bead && wanted.has(s.session.bead)) addUsage(usage, s.usage);
  return { usage, tokens: tokens(usage), problems };
}

/** A bead's sessions' usage in the polecat state's shape; undefined when no session recorded any. */
export function beadSessionsUsage(root: string, bead: string): SessionsUsage | undefined {
  const { list } = sessionUsages(root);
  const mine = list.filter((s) => s.session.bead === bead);
  if (!mine.length) return undefined;
  const u = emptyUsage();
  for (const s of mine) addUsage(u, s.usage);
  return { tokens: tokens(u), input: u.input, output: u.output, cacheWrite: u.cacheWrite, cacheRead: u.cacheRead, ...(u.usd !== undefined ? { usd: u.usd } : {}), sessions: mine.length };
}
