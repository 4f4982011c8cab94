import { describe, expect, it } from 'vitest';
import {
  agentRows,
  concernOf,
  convoyRows,
  detectProblems,
  emptySnapshot,
  filterRows,
  matchesFilter,
  typeInto,
  withNudges,
  type AgentRow,
  type ConvoyRow,
  type Snapshot,
} from '../../../src/feed/model.js';

const NOW = Date.parse('2026-12-01T10:00:00Z');

function agent(over: Partial<AgentRow> = {}): AgentRow {
  return {
    rig: 'app',
    name: 'furiosa',
    address: 'app/polecats/furiosa',
    session: 'ap-furiosa',
    status: 'working',
    bead: 'ap-1',
    attempt: 1,
    maxAttempts: 3,
    lastProgressAt: NOW - 1000,
    sessionAlive: true,
    hooked: ['ap-1'],
    queued: [],
    stallMs: 60_000,
    ...over,
  };
}

function convoy(over: Partial<ConvoyRow> = {}): ConvoyRow {
  return { id: 'hq-cv-1', title: 'Feature X', mode: 'convoy', status: 'running', done: 1, total: 3, human: false, failed: [], ...over };
}

function snap(over: Partial<Snapshot> = {}): Snapshot {
  return { ...emptySnapshot(NOW), rigs: ['app'], sessionOwners: { 'ap-furiosa': 'app/polecats/furiosa', 'ap-nux': 'app/polecats/nux' }, ...over };
}

describe('feed problems', () => {
  it('a healthy town has none', () => {
    expect(detectProblems(snap({ agents: [agent()], sessions: ['ap-furiosa'], convoys: [convoy()] }))).toEqual([]);
  });

  it('stalled: a working agent silent past its stall_timeout, with how long and which session', () => {
    const [p, ...rest] = detectProblems(snap({ agents: [agent({ lastProgressAt: NOW - 5 * 60_000, attempt: 2 })], sessions: ['ap-furiosa'] }));
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ kind: 'stalled', subject: 'app/polecats/furiosa', agent: 'app/polecats/furiosa' });
    expect(p!.why).toBe('no progress for 5m on ap-1 (stall_timeout 1m), session 2 of 3');
    // Just under the limit, or an idle agent, is not stalled.
    expect(detectProblems(snap({ agents: [agent({ lastProgressAt: NOW - 59_000 })], sessions: ['ap-furiosa'] }))).toEqual([]);
  });

  it('waiting, not stalled: a session at a permission prompt, however long silent, with the prompt\'s text', () => {
    const awaiting = { kind: 'permission', text: 'Do you want to proceed? / ❯ 1. Yes / 2. No', since: new Date(NOW - 10 * 60_000).toISOString(), escalatedAt: new Date(NOW - 9 * 60_000).toISOString() };
    const s = snap({ agents: [agent({ lastProgressAt: NOW - 10 * 60_000, awaiting })], sessions: ['ap-furiosa'] });
    const problems = detectProblems(s);
    expect(problems).toEqual([{ kind: 'waiting', subject: 'app/polecats/furiosa', agent: 'app/polecats/furiosa', why: 'awaiting input (permission prompt) for 10m on ap-1: Do you want to proceed? / ❯ 1. Yes / 2. No (the Mayor was told)' }]);
    const row = agentRows(s).find((r) => r.key === 'app/polecats/furiosa')!;
    expect(row.text).toMatch(/furiosa\s+awaiting .*permission prompt: Do you want to proceed\?/);
  });

  it('stalled: nudged by the engine for silence, and nothing since but the nudge\'s echo', () => {
    const nudge = { id: 'n1', at: new Date(NOW - 10_000).toISOString(), type: 'nudge', actor: 'app/polecats/furiosa', bead: 'ap-1', attempt: 1 };
    const s = withNudges(snap({ agents: [agent({ lastProgressAt: NOW - 9_000 })], sessions: ['ap-furiosa'] }), [nudge]);
    expect(s.agents[0]!.nudgedAt).toBe(NOW - 10_000);
    const [p] = detectProblems(s);
    expect(p).toMatchObject({ kind: 'stalled', subject: 'app/polecats/furiosa' });
    expect(p!.why).toBe('nudged 10s ago after no progress for 1m (stall_timeout) on ap-1, still silent; its session is restarted after nudge_grace (session 1 of 3)');
    // It answered after the nudge: not stalled. A nudge of an earlier session does not count.
    expect(detectProblems(withNudges(snap({ agents: [agent({ lastProgressAt: NOW - 2_000 })], sessions: ['ap-furiosa'] }), [nudge]))).toEqual([]);
    expect(withNudges(snap({ agents: [agent({ attempt: 2 })] }), [nudge]).agents[0]!.nudgedAt).toBeUndefined();
  });

  it('stalled: what the engine says is stuck, mapped to its polecat; a stalled mountain', () => {
    const problems = detectProblems(snap({
      agents: [agent()],
      sessions: ['ap-furiosa'],
      stalls: [{ workflowId: 'polecat/app/furiosa', why: 'runAgent has not beaten for 9s' }],
      convoys: [convoy({ mode: 'mountain', status: 'stalled', stalledSince: '2026-12-01T09:30:00Z' })],
    }));
    expect(problems).toEqual([
      { kind: 'stalled', subject: 'polecat/app/furiosa', agent: 'app/polecats/furiosa', why: 'runAgent has not beaten for 9s' },
      { kind: 'stalled', subject: 'hq-cv-1', why: 'mountain "Feature X" has not moved since 09:30:00 (1/3 done)' },
    ]);
  });

  it('waiting on a person: human gates and --human convoys awaiting approval', () => {
    const problems = detectProblems(snap({
      gates: [{ molecule: 'hq-mol-1', step: 'review', bead: 'hq-mol-1.2', waitingFor: 'approval: bd gate approve hq-mol-1.2' }],
      convoys: [convoy({ status: 'awaiting-approval', human: true })],
    }));
    expect(problems.map((p) => [p.kind, p.subject])).toEqual([['waiting', 'hq-mol-1.2'], ['waiting', 'hq-cv-1']]);
    expect(problems[0]!.why).toContain('bd gate approve hq-mol-1.2');
    expect(problems[1]!.why).toContain('gt convoy approve hq-cv-1');
  });

  it('blocked after attempts: from the ledger and from convoys, each bead once', () => {
    const problems = detectProblems(snap({
      blocked: [{ bead: 'ap-2', title: 'Crashes', rig: 'app', reason: 'gave up after 3 sessions' }],
      convoys: [convoy({ failed: [{ bead: 'ap-2', reason: 'x' }, { bead: 'ap-3', reason: 'blocked by hand' }] })],
    }));
    expect(problems).toEqual([
      { kind: 'blocked', subject: 'ap-2', why: '"Crashes" is blocked: gave up after 3 sessions' },
      { kind: 'blocked', subject: 'ap-3', why: 'failed in hq-cv-1: blocked by hand' },
    ]);
  });

  it('zombies: a session with no workflow or no work behind it, a hooked bead nobody works', () => {
    const problems = detectProblems(snap({
      agents: [
        agent({ name: 'nux', address: 'app/polecats/nux', session: 'ap-nux', status: 'idle', bead: undefined, hooked: [] }),
        agent({ status: 'none', bead: undefined, attempt: undefined, hooked: ['ap-7'] }),
      ],
      sessions: ['ap-nux', 'ap-furiosa', 'someone-elses'],
    }));
    expect(problems.map((p) => [p.kind, p.subject])).toEqual([
      ['zombie', 'ap-nux'],
      ['zombie', 'ap-furiosa'],
      ['zombie', 'ap-7'],
    ]);
    expect(problems[0]!.why).toBe('tmux session ap-nux runs but app/polecats/nux is idle (no bead being worked)');
    expect(problems[1]!.why).toContain('no polecat workflow is behind app/polecats/furiosa');
    expect(problems[2]!.why).toContain('gt unsling ap-7');
  });

  it('a hooked bead waiting in the workflow\'s queue is not a zombie; one it does not know is', () => {
    expect(detectProblems(snap({ agents: [agent({ hooked: ['ap-1', 'ap-8'], queued: ['ap-8'] })], sessions: ['ap-furiosa'] }))).toEqual([]);
    const [p] = detectProblems(snap({ agents: [agent({ hooked: ['ap-1', 'ap-9'] })], sessions: ['ap-furiosa'] }));
    expect(p).toMatchObject({ kind: 'zombie', subject: 'ap-9' });
    expect(p!.why).toBe('ap-9 is hooked to app/polecats/furiosa, whose workflow is working on ap-1, not on it');
  });
});

describe('feed filtering and rows', () => {
  it('every word must match, case-insensitive, in any field', () => {
    expect(matchesFilter(['app/polecats/furiosa', 'working ap-1'], 'FURIOSA ap-1')).toBe(true);
    expect(matchesFilter(['app/polecats/furiosa', 'working ap-1'], 'furiosa ap-2')).toBe(false);
    expect(matchesFilter(['x'], '   ')).toBe(true);
  });

  it('the agent tree groups polecats under their rig; a filter keeps the matching rows', () => {
    const s = snap({ rigs: ['app', 'web'], agents: [agent(), agent({ name: 'nux', address: 'app/polecats/nux', status: 'idle', bead: undefined, lastProgressAt: undefined })] });
    const rows = agentRows(s);
    expect(rows.map((r) => r.key)).toEqual(['rig:app', 'app/polecats/furiosa', 'app/polecats/nux', 'rig:web']);
    expect(rows[0]!.text).toBe('app (1/2 working)');
    expect(rows[1]!.text).toMatch(/^ {2}furiosa +working +ap-1 +#1\/3 +tmux progress 1s ago$/);
    expect(filterRows(rows, 'nux').map((r) => r.key)).toEqual(['app/polecats/nux']);
    expect(filterRows(rows, '').length).toBe(4);
  });

  it('convoys show done/total, ETA while running, and how many landed in 24 h', () => {
    const rows = convoyRows(snap({ landed24h: 2, convoys: [convoy({ etaMs: 90_000 }), convoy({ id: 'hq-cv-2', status: 'landed', done: 3, total: 3 })] }));
    expect(rows[0]!.text).toBe('2 landed in the last 24 h');
    expect(rows[1]!.text).toContain('1/3 ETA 1m30s  Feature X');
    expect(rows[2]!.text).not.toContain('ETA');
    expect(rows[2]!.tone).toBe('ok');
  });

  it('typed text arrives in chunks: Enter ends it, backspace and control characters apply', () => {
    expect(typeInto('ab', 'cd')).toEqual({ text: 'abcd', done: false });
    expect(typeInto('', 'nux\rmore')).toEqual({ text: 'nux', done: true });
    expect(typeInto('abc', '\x7fX\x01')).toEqual({ text: 'abX', done: false });
  });

  it('an event says what to ask the engine again', () => {
    const ev = (type: string, actor: string, extra: Record<string, unknown> = {}) => ({ id: 'x', at: new Date(NOW).toISOString(), type, actor, ...extra });
    expect(concernOf(ev('session.start', 'app/polecats/furiosa'))).toEqual({ polecat: { rig: 'app', name: 'furiosa' } });
    expect(concernOf(ev('merge.queued', 'app/polecats/furiosa', { rig: 'app' }))).toEqual({ polecat: { rig: 'app', name: 'furiosa' }, mergeQueue: 'app' });
    expect(concernOf(ev('convoy.dispatch', 'hq-cv-1', { convoy: 'hq-cv-1' }))).toEqual({ convoy: 'hq-cv-1' });
    expect(concernOf(ev('sling', 'tester', { rig: 'app' }))).toEqual({ all: true });
    // A formula run's step starting or ending: that run (its gates, the dashboard's step DAG).
    expect(concernOf(ev('step.end', 'molecule/hq-m1', { workflow: 'hq-m1' }))).toEqual({ molecule: 'hq-m1' });
    expect(concernOf(ev('formula.end', 'molecule/hq-m1', { workflow: 'hq-m1' }))).toEqual({ molecule: 'hq-m1' });
  });
});
