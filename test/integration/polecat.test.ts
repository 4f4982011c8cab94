import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { PROJECT } from '../helpers/cli.js';
import { fetchHistory, maybeRecordHistory } from '../helpers/histories.js';
import { git, killWorkers, waitFor } from '../helpers/town.js';
import { makeRigTown, sessionsOf, type Bead, type RigTown } from './polecat-helpers.js';

/**
 * The Gas Town loop end to end: the built CLI, a real worker, the test run's Temporal server,
 * real git remotes and worktrees, real tmux, and the scripted agent in place of an AI.
 */

const towns: RigTown[] = [];
function town(opts?: Parameters<typeof makeRigTown>[0]): RigTown {
  const t = makeRigTown(opts);
  towns.push(t);
  return t;
}
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

/**
 * Every polecat workflow of the rig replays against the current bundle (determinism); the one
 * that worked `bead` is kept as a fixture `name` when recording.
 */
async function replayPolecats(t: RigTown, bead: string, name: string): Promise<void> {
  const list = JSON.parse(t.gt(['polecat', 'list', t.rig, '--json']).stdout) as { name: string }[];
  const keep = t.bead(bead).assignee?.split('/').at(-1);
  for (const p of list) {
    const id = `polecat/${t.rig}/${p.name}`;
    if (p.name === keep) maybeRecordHistory(id, name);
    await Worker.runReplayHistory({ workflowBundle: { codePath: join(PROJECT, 'dist', 'workflow-bundle.js') }, replayName: id }, fetchHistory(id));
  }
}

const FINAL = new Set(['closed', 'blocked']);

async function settle(t: RigTown, ids: string[], timeoutMs = 150_000): Promise<Record<string, Bead>> {
  return waitFor(() => {
    const beads = Object.fromEntries(ids.map((id) => [id, t.bead(id)]));
    return Object.values(beads).every((b) => FINAL.has(b.status)) ? beads : undefined;
  }, timeoutMs, `beads ${ids.join(', ')} to be closed or blocked`);
}

function mergeCommitsFor(t: RigTown, id: string): number {
  return git(t.remote, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith(`${id}:`)).length;
}

describe('polecats', { timeout: 240_000 }, () => {
  it('sling 5 beads (tmux and headless): all merged into the remote, beads closed, worktrees clean', async () => {
    const t = town();
    const ids = [1, 2, 3, 4, 5].map((i) => t.create(`Task ${i}`));
    const first = t.gt(['sling', ...ids.slice(0, 3), t.rig, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const second = t.gt(['sling', ...ids.slice(3), t.rig, '--headless', '--json']);
    expect(second.code).toBe(0);
    type Sling = { bead: string; polecat: string; branch: string; worktree: string };
    const firstSlung = JSON.parse(first.stdout) as Sling[];
    const secondSlung = JSON.parse(second.stdout) as Sling[];
    const slung = [...firstSlung, ...secondSlung];
    // One sling gives each bead its own polecat. A later sling may reuse a polecat whose bead has
    // left its hook meanwhile (finished fast), never one still working: a first-sling bead seen
    // hooked now was hooked during the second sling too.
    expect(new Set(firstSlung.map((s) => s.polecat)).size).toBe(3);
    expect(new Set(secondSlung.map((s) => s.polecat)).size).toBe(2);
    for (const s of secondSlung) {
      const earlier = firstSlung.find((f) => f.polecat === s.polecat);
      if (earlier) expect(t.bead(earlier.bead).status, `${s.polecat} got ${s.bead} while working ${earlier.bead}`).not.toBe('hooked');
    }
    for (const s of slung) expect(s.branch).toBe(`polecat/${s.polecat}/${s.bead}`);
    // Hooked at once, by the sling itself.
    for (const id of ids) expect(['hooked', 'in_progress', 'closed']).toContain(t.bead(id).status);

    const beads = await settle(t, ids);
    for (const id of ids) {
      expect(beads[id]!.status).toBe('closed');
      expect(mergeCommitsFor(t, id)).toBe(1);
    }
    expect(t.remoteFiles()).toEqual(expect.arrayContaining(ids.map((id) => `${id}.txt`)));
    for (const s of slung) {
      expect(existsSync(s.worktree)).toBe(true);
      expect(git(s.worktree, 'status', '--porcelain').trim()).toBe('');
    }
    const names = [...new Set(slung.map((s) => s.polecat))].sort();
    const list = await waitFor(() => {
      const l = JSON.parse(t.gt(['polecat', 'list', t.rig, '--json']).stdout) as { name: string; state: string; sessionAlive: boolean }[];
      return l.length === names.length && l.every((p) => p.state === 'idle' && !p.sessionAlive) ? l : undefined;
    }, 30_000, 'all polecats idle with no session');
    expect(list.map((p) => p.name).sort()).toEqual(names);
    // Each agent ran exactly one session.
    for (const id of ids) expect(sessionsOf(t.agentLog, id)).toEqual([1]);

    // An idle polecat is reused for the next bead, in the same worktree, from the new main.
    const next = t.create('Task 6');
    const again = JSON.parse(t.gt(['sling', next, t.rig, '--json']).stdout) as { polecat: string; worktree: string }[];
    expect(slung.map((s) => s.polecat)).toContain(again[0]!.polecat);
    await settle(t, [next]);
    expect(t.bead(next).status).toBe('closed');
    expect(t.remoteFiles()).toEqual(expect.arrayContaining([...ids, next].map((id) => `${id}.txt`)));
    // A bead's `gt done` is one activity (hook released, merge request sent), and its end one
    // activity (session stopped, usage counted, the dispatcher told): no signal of the
    // workflow's own, and no GtStatus write for the passing states submitting and stopping.
    type Event = {
      eventType: string;
      activityTaskScheduledEventAttributes?: { activityType: { name: string } };
      upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes: { indexedFields: Record<string, { data: string }> } };
    };
    const history = await waitFor(() => {
      const h = fetchHistory(`polecat/${t.rig}/${again[0]!.polecat}`) as { events: Event[] };
      const stops = h.events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'stopPolecatAgentWithUsage').length;
      return stops >= 2 ? h.events : undefined;
    }, 30_000, 'every bead of the reused polecat finished');
    const worked = history.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType.name] : []));
    const statuses = history.flatMap((e) => {
      const f = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes.indexedFields.GtStatus;
      return f ? [JSON.parse(Buffer.from(f.data, 'base64').toString()) as string] : [];
    });
    // One of each a bead it worked (each bead had one session and one gt done).
    const sessions = worked.filter((n) => n === 'runPolecatAgent').length;
    expect(sessions).toBeGreaterThanOrEqual(2);
    expect(worked.filter((n) => n === 'polecatDone').length).toBe(sessions);
    expect(worked.filter((n) => n === 'stopPolecatAgentWithUsage').length).toBe(sessions);
    for (const old of ['releasePolecatHook', 'submitPolecatMergeRequest', 'stopPolecatAgent', 'polecatBeadUsage']) expect(worked).not.toContain(old);
    expect(history.filter((e) => e.eventType === 'EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED')).toEqual([]);
    expect(statuses).not.toContain('submitting');
    expect(statuses).not.toContain('stopping');
    expect(statuses.filter((s) => s === 'idle').length).toBe(sessions);
    // (The dispatcher heard from those activities that the polecat was free: it gave it the next bead above.)
    await replayPolecats(t, next, 'polecat-merged-reused');
  });

  it('crash → restarted and merged; hang → nudged, stopped and restarted; always crashing → blocked after 3 sessions with mail to the Mayor', async () => {
    const t = town();
    const crash = t.create('Crashes once', 'crash');
    const hang = t.create('Hangs once', 'hang');
    const doomed = t.create('Always crashes', 'crash-always');
    const slow = t.create('Slow but steady', 'slow');
    const r = t.gt(['sling', crash, hang, doomed, slow, t.rig]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const beads = await settle(t, [crash, hang, doomed, slow]);

    expect(beads[crash]!.status).toBe('closed');
    expect(sessionsOf(t.agentLog, crash).slice(0, 2)).toEqual([1, 2]);
    expect(beads[crash]!.comments!.map((c) => c.text).join('\n')).toMatch(/session 1 ended without `gt done` \(exit code 3/);

    expect(beads[hang]!.status).toBe('closed');
    // On a loaded machine a restarted session may itself be slow to show progress: at least one restart.
    expect(sessionsOf(t.agentLog, hang).length).toBeGreaterThanOrEqual(2);
    expect(beads[hang]!.comments!.map((c) => c.text).join('\n')).toMatch(/session 1 stalled/);
    const log = readFileSync(join(t.root, '.gt', 'logs', 'polecats', t.rig, `${t.bead(hang).assignee!.split('/').at(-1)}.log`), 'utf8');
    expect(log).toMatch(/no progress for 4s: nudging/);

    // Output every second for longer than the stall timeout: progress, so never stopped.
    expect(beads[slow]!.status).toBe('closed');
    expect(sessionsOf(t.agentLog, slow)).toEqual([1]);

    expect(beads[doomed]!.status).toBe('blocked');
    expect(beads[doomed]!.labels).toContain('polecat:failed');
    expect(sessionsOf(t.agentLog, doomed)).toEqual([1, 2, 3]);
    expect(beads[doomed]!.comments!.at(-1)!.text).toMatch(/^blocked: 3 sessions failed/);
    expect(mergeCommitsFor(t, doomed)).toBe(0);
    const inbox = t.gt(['mail', 'inbox', '--identity', 'mayor', '--json']);
    expect(inbox.code).toBe(0);
    const note = (JSON.parse(inbox.stdout) as { from: string; to: string; subject: string; body: string }[]).find((m) => m.subject.includes(doomed));
    expect(note).toBeDefined();
    expect(note!.to).toBe('mayor');
    expect(note!.from).toBe(t.bead(doomed).assignee);
    expect(note!.body).toMatch(/exit code 3/);
    await replayPolecats(t, hang, 'polecat-hang-restarted');
    await replayPolecats(t, doomed, 'polecat-blocked');
  });

  it('gt handoff: a fresh session in the same worktree finds the note on its hook and finishes the work', async () => {
    const t = town();
    const id = t.create('Two halves', 'handoff');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    const beads = await settle(t, [id]);
    expect(beads[id]!.status).toBe('closed');
    expect(sessionsOf(t.agentLog, id)).toEqual([1, 2]);
    expect(readFileSync(t.agentLog, 'utf8')).toContain(`handoff-seen ${id} in session 2`);
    // Both halves, the one committed before the handoff and the one after, were merged.
    expect(t.remoteFiles()).toEqual(expect.arrayContaining([`${id}.part`, `${id}.txt`]));
  });

  it('the refinery sends a conflicting branch back: the polecat reworks it and both land', async () => {
    const t = town();
    const a = t.create('Edit the shared file (a)', 'conflict');
    const b = t.create('Edit the shared file (b)', 'conflict');
    expect(t.gt(['sling', a, b, t.rig]).code).toBe(0);
    const beads = await settle(t, [a, b]);
    expect(beads[a]!.status).toBe('closed');
    expect(beads[b]!.status).toBe('closed');
    const shared = git(t.remote, 'show', 'main:CONFLICT.txt').trim().split('\n').sort();
    expect(shared).toEqual([a, b].sort());
    // Exactly one of them was sent back and worked again.
    const sessions = [sessionsOf(t.agentLog, a).length, sessionsOf(t.agentLog, b).length].sort();
    expect(sessions).toEqual([1, 2]);
    await replayPolecats(t, sessionsOf(t.agentLog, a).length === 2 ? a : b, 'polecat-rework');
  });

  it('kill -9 of the worker while agents run: every bead still ends merged or blocked, none lost or merged twice', async () => {
    const t = town();
    const ids = [
      ...[1, 2, 3].map((i) => t.create(`Slow ${i}`, 'slow')),
      t.create('Crash once', 'crash'),
      t.create('Quick', 'ok'),
      t.create('Always crashes', 'crash-always'),
    ];
    expect(t.gt(['sling', ...ids, t.rig]).code).toBe(0);
    await waitFor(() => ids.slice(0, 3).every((id) => sessionsOf(t.agentLog, id).length > 0), 60_000, 'slow agents to start');
    killWorkers(t.root);
    expect(t.gt(['up']).code).toBe(0);
    const beads = await settle(t, ids, 180_000);
    for (const id of ids.slice(0, 5)) {
      expect(beads[id]!.status, id).toBe('closed');
      // On failure, what happened to the bead: its sessions, main's log, its comments.
      const story = () => `${id}: sessions ${JSON.stringify(sessionsOf(t.agentLog, id))}; main:\n${git(t.remote, 'log', '--format=%h %s %an', 'main')}\ncomments: ${JSON.stringify(t.bead(id).comments?.map((c) => c.text))}`;
      expect(mergeCommitsFor(t, id), story()).toBe(1);
    }
    expect(beads[ids[5]!]!.status).toBe('blocked');
    expect(mergeCommitsFor(t, ids[5]!)).toBe(0);
    // The slow agents were adopted by the new worker, not started again.
    for (const id of ids.slice(0, 3)) expect(sessionsOf(t.agentLog, id)).toEqual([1]);
    expect(readdirSync(join(t.root, t.rig, 'polecats')).filter((n) => !n.startsWith('.')).length).toBe(6);
    // No agent was told its gt done failed.
    expect(readFileSync(t.agentLog, 'utf8')).not.toContain('gt-done-failed');
    await replayPolecats(t, ids[0]!, 'polecat-worker-killed');
  });

  it('kill -9 of the worker the moment a gt done was taken (hook released, merge request not yet sent): the agent is told COMPLETED, the bead merges once', async () => {
    const t = town();
    const id = t.create('Killed at done', 'ok');
    const events = join(t.root, '.gt', 'events.jsonl');
    expect(t.gt(['sling', id, t.rig]).code).toBe(0);
    // The done event is written by the update's own activity, before the merge request goes out.
    const doneSeen = () => existsSync(events) && readFileSync(events, 'utf8').split('\n').some((l) => l.includes('"type":"done"') && l.includes(id));
    for (const start = Date.now(); !doneSeen(); ) {
      if (Date.now() - start > 60_000) throw new Error(`no done event for ${id}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    killWorkers(t.root);
    expect(t.gt(['up']).code).toBe(0);
    const beads = await settle(t, [id], 120_000);
    expect(beads[id]!.status).toBe('closed');
    expect(mergeCommitsFor(t, id)).toBe(1);
    expect(sessionsOf(t.agentLog, id)).toEqual([1]);
    expect(readFileSync(t.agentLog, 'utf8')).not.toContain('gt-done-failed');
  });
});
