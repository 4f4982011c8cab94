import { describe, expect, it } from 'vitest';
import { computeWaves, emptyCounts, estimate, findCycle, isStuck, pickDispatch, reconcile, stallReport } from '../../../src/convoy/plan.js';
import type { ConvoySnapshot, ConvoyState, SnapshotBead } from '../../../src/convoy/types.js';

const settings = { stallMs: 60_000, heartbeatMs: 5000, pollMs: 200, skipAfter: 3 };

function state(mode: 'convoy' | 'mountain' = 'mountain'): ConvoyState {
  return {
    convoy: 'hq-cv-abcde', title: 't', mode, status: 'running', owner: 'mayor', notify: false, human: false,
    startedAt: '2025-01-01T00:00:00.000Z', lastProgressAt: '2025-01-01T00:00:00.000Z', stallReports: 0,
    beads: [], waves: [], counts: emptyCounts(), generation: 0,
  };
}

function snap(beads: Partial<SnapshotBead>[], meta: Record<string, unknown> = {}): ConvoySnapshot {
  return {
    fingerprint: 'f', at: 'now',
    convoy: { id: 'hq-cv-abcde', title: 't', status: 'open', labels: [], meta },
    beads: beads.map((b) => ({ id: b.id!, title: b.id!, rig: 'r', status: 'open', labels: [], blockers: [], ...b })),
  };
}

describe('convoy planning', () => {
  it('waves follow the dependency graph; edges leaving the graph are ignored', () => {
    const waves = computeWaves([
      { id: 'a', deps: [] },
      { id: 'b', deps: ['a'] },
      { id: 'c', deps: ['a', 'outside'] },
      { id: 'd', deps: ['b', 'c'] },
      { id: 'e', deps: [] },
    ]);
    expect(waves).toEqual([['a', 'e'], ['b', 'c'], ['d']]);
  });

  it('names a cycle as a closed path, and finds none in a DAG', () => {
    expect(findCycle([{ id: 'a', deps: ['b'] }, { id: 'b', deps: ['c'] }, { id: 'c', deps: ['a'] }, { id: 'd', deps: ['a'] }])).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle([{ id: 'a', deps: ['b'] }, { id: 'b', deps: [] }])).toBeUndefined();
    expect(() => computeWaves([{ id: 'x', deps: ['y'] }, { id: 'y', deps: ['x'] }])).toThrow(/x → y → x|y → x → y/);
  });

  it('a long chain neither overflows nor takes long', () => {
    const nodes = Array.from({ length: 20_000 }, (_, i) => ({ id: `n${i}`, deps: i ? [`n${i - 1}`] : [] }));
    expect(computeWaves(nodes)).toHaveLength(20_000);
    expect(findCycle(nodes)).toBeUndefined();
  });

  it('ready beads are dispatched earliest wave first, within max_concurrent, never while paused', () => {
    const s = state();
    reconcile(s, snap([{ id: 'a' }, { id: 'b', blockers: ['a'] }, { id: 'c' }, { id: 'd', status: 'hooked', assignee: 'r/polecats/x' }], { max_concurrent: 2 }), settings, 't1');
    expect(s.beads.map((b) => b.phase)).toEqual(['ready', 'waiting', 'ready', 'running']);
    expect(pickDispatch(s)).toEqual(['a']);
    s.paused = { by: 'me', at: 't' };
    expect(pickDispatch(s)).toEqual([]);
  });

  it('a mountain retries a failed bead, skips it at skip_after_failures, and holds what depends on it', () => {
    const s = state();
    const beads = (status: string, labels: string[] = []) => [{ id: 'a', status, labels, maxAttempts: 1, lastComment: 'blocked: 1 sessions failed' }, { id: 'b', blockers: ['a'] }, { id: 'c' }];
    reconcile(s, snap(beads('hooked')), settings, 't1');
    let r = reconcile(s, snap(beads('blocked', ['polecat:failed'])), settings, 't2');
    expect(r.retry).toEqual([{ id: 'a', failures: 1 }]);
    expect(s.beads[1]!.phase).toBe('held');
    reconcile(s, snap(beads('hooked')), settings, 't3');
    reconcile(s, snap(beads('blocked', ['polecat:failed'])), settings, 't4');
    reconcile(s, snap(beads('hooked')), settings, 't5');
    r = reconcile(s, snap(beads('blocked', ['polecat:failed'])), settings, 't6');
    expect(r.retry).toEqual([]);
    expect(r.skip[0]!.id).toBe('a');
    expect(r.skip[0]!.reason).toMatch(/failed 3 times/);
    // Seeing the same blocked bead again counts nothing more.
    expect(reconcile(s, snap(beads('blocked', ['polecat:failed'])), settings, 't7').skip).toEqual([]);
    reconcile(s, snap([{ id: 'a', status: 'blocked', labels: ['mountain:skipped'] }, { id: 'b', blockers: ['a'] }, { id: 'c', status: 'closed', mergedSha: 'abc' }]), settings, 't8');
    expect(s.beads.map((b) => b.phase)).toEqual(['skipped', 'held', 'closed']);
    expect(isStuck(s)).toBe(true);
  });

  it('a polecat that gave up after its rig\'s max_attempts sessions counts that many failures', () => {
    const s = state();
    reconcile(s, snap([{ id: 'a', status: 'hooked' }]), settings, 't1');
    const r = reconcile(s, snap([{ id: 'a', status: 'blocked', labels: ['polecat:failed'], maxAttempts: 3 }]), settings, 't2');
    expect(r.skip.map((x) => x.id)).toEqual(['a']);
  });

  it('a plain convoy leaves a failed bead for a person; rework queued at a polecat counts as running', () => {
    const s = state('convoy');
    reconcile(s, snap([{ id: 'a', status: 'hooked' }, { id: 'b', status: 'in_progress' }]), settings, 't1');
    const r = reconcile(s, snap([{ id: 'a', status: 'blocked' }, { id: 'b', status: 'open', inFlight: true }]), settings, 't2');
    expect(r.skip).toEqual([]);
    expect(r.retry).toEqual([]);
    expect(s.beads.map((b) => b.phase)).toEqual(['failed', 'running']);
  });

  it('ETA from the observed rate; the stall report names what waits on what and silent agents', () => {
    const s = state();
    reconcile(s, snap([{ id: 'a', status: 'closed' }, { id: 'b', status: 'hooked', assignee: 'r/polecats/nux' }, { id: 'c', blockers: ['b'] }]), settings, '2025-01-01T00:01:00.000Z');
    const e = estimate(s, Date.parse('2025-01-01T00:02:00.000Z'));
    expect(e.rate).toBeCloseTo(0.5);
    expect(e.etaMs).toBe(240_000);
    const report = stallReport(s, [{ polecat: 'r/polecats/nux', status: 'working', session: 2, silentForMs: 90_000 }], Date.parse('2025-01-01T00:06:00.000Z'));
    expect(report.subject).toMatch(/STALLED: mountain hq-cv-abcde/);
    expect(report.body).toMatch(/b b: r\/polecats\/nux \(working, session 2\), silent for 1m30s/);
    expect(report.body).toMatch(/c c: waits on b/);
  });
});
