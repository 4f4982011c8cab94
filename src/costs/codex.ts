import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addUsage, emptyUsage, n, openaiUsd, readUsageFile, type TranscriptUsage, type Usage } from './usage.js';

/**
 * Codex CLI's records of its sessions: one rollout file per session,
 * `<CODEX_HOME, else ~/.codex>/sessions/YYYY/MM/DD/rollout-<local time>-<id>.jsonl`, one
 * `{timestamp, type, payload}` object a line. The first is `session_meta` (payload: id,
 * timestamp, cwd, cli_version, ...); `turn_context` lines name the model of the turns that follow;
 * `event_msg` lines with payload.type `token_count` carry `info.total_token_usage`
 * {input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens, total_tokens}, the
 * session's running total (cached input is part of input, reasoning part of output). Codex runs
 * no hook that names its session, so a polecat's session is matched to the rollouts by its
 * worktree (the rollout's cwd) and the time it ran.
 */

export function codexHome(env: Record<string, string | undefined> = process.env): string {
  return env.CODEX_HOME || join(env.HOME || homedir(), '.codex');
}

interface RolloutLine {
  timestamp?: string;
  type?: string;
  payload?: {
    type?: string;
    id?: string;
    timestamp?: string;
    cwd?: string;
    model?: string;
    info?: { total_token_usage?: { input_tokens?: number; cached_input_tokens?: number; output_tokens?: number } } | null;
  };
}

/** A rollout's usage: the increase of its running total at each token_count, priced at the model of the turn it belongs to. */
export function codexRolloutUsage(file: string): TranscriptUsage {
  const text = readUsageFile(file);
  if (typeof text !== 'string') return text;
  const usage = emptyUsage();
  const problems: string[] = [];
  let model = 'unknown';
  let last = { input: 0, cached: 0, output: 0 };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let entry: RolloutLine;
    try {
      entry = JSON.parse(line) as RolloutLine;
    } catch {
      // The last line of a live session may be half written: not a problem.
      if (i === lines.length - 1) return;
      problems.push(`${file}:${i + 1}: not a JSON line, skipped`);
      return;
    }
    if (entry?.type === 'turn_context' && typeof entry.payload?.model === 'string') model = entry.payload.model;
    if (entry?.type !== 'event_msg' || entry.payload?.type !== 'token_count') return;
    const total = entry.payload.info?.total_token_usage;
    if (!total) return;
    const now = { input: n(total.input_tokens), cached: n(total.cached_input_tokens), output: n(total.output_tokens) };
    // The same total again (a rate-limit update) is no new response; a smaller one starts over.
    const base = now.input < last.input || now.output < last.output ? { input: 0, cached: 0, output: 0 } : last;
    const d = { input: now.input - base.input, cached: Math.max(0, now.cached - base.cached), output: now.output - base.output };
    last = now;
    if (!d.input && !d.output) return;
    const cached = Math.min(d.cached, d.input);
    const one: Usage = { input: d.input - cached, output: d.output, cacheWrite: 0, cacheRead: cached, messages: 1 };
    const usd = openaiUsd(model, one.input, cached, one.output);
    if (usd === undefined) one.unpriced = [model];
    else one.usd = usd;
    addUsage(usage, one);
  });
  return { usage, problems };
}

/** The first line of a file (at most 1 MB read: a session_meta line carries the session's instructions). */
function firstLine(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const len = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, len).toString('utf8');
    const nl = text.indexOf('\n');
    return nl < 0 ? text : text.slice(0, nl);
  } finally {
    closeSync(fd);
  }
}

export interface RolloutMeta {
  file: string;
  cwd: string;
  startedMs: number;
}

/** What is known of the rollout files of a Codex home, read once per report. */
export class RolloutIndex {
  private readonly days = new Map<string, RolloutMeta[]>();
  readonly problems: string[] = [];

  /** The rollouts started in `cwd` between the two times (ms). */
  find(home: string, cwd: string, fromMs: number, toMs: number): string[] {
    const out: string[] = [];
    // Its folders are named by local date; a day either side covers time zones and midnight.
    for (let t = fromMs - 86_400_000; t <= toMs + 86_400_000; t += 86_400_000) {
      for (const r of this.day(home, new Date(t))) if (r.cwd === cwd && r.startedMs >= fromMs && r.startedMs < toMs) out.push(r.file);
    }
    return [...new Set(out)].sort();
  }

  private day(home: string, d: Date): RolloutMeta[] {
    const dir = join(home, 'sessions', String(d.getFullYear()), String(d.getMonth() + 1).padStart(2, '0'), String(d.getDate()).padStart(2, '0'));
    const known = this.days.get(dir);
    if (known) return known;
    const list: RolloutMeta[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((f) => f.startsWith('rollout-') && f.endsWith('.jsonl'));
    } catch {
      // no sessions that day
    }
    for (const name of names) {
      const file = join(dir, name);
      let line: RolloutLine;
      try {
        line = JSON.parse(firstLine(file)) as RolloutLine;
      } catch {
        this.problems.push(`${file}: its first line is not JSON (a Codex rollout starts with session_meta), skipped`);
        continue;
      }
      if (line?.type !== 'session_meta' || typeof line.payload?.cwd !== 'string') {
        this.problems.push(`${file}: its first line is not a session_meta with a cwd, skipped`);
        continue;
      }
      const startedMs = Date.parse(line.payload.timestamp ?? line.timestamp ?? '');
      if (Number.isNaN(startedMs)) {
        this.problems.push(`${file}: its session_meta has no timestamp, skipped`);
        continue;
      }
      list.push({ file, cwd: line.payload.cwd, startedMs });
    }
    this.days.set(dir, list);
    return list;
  }
}
