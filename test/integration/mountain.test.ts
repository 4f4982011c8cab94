import { afterEach, describe, expect, it } from 'vitest';
import type { ConvoyState } from '../../src/convoy/types.js';
import { killWorkers, waitFor } from '../helpers/town.js';
import { sessionsOf } from './polecat-helpers.js';
import { convoyBead, createIn, gtJson, makeRigTown, mayorMail, mergesOf, replayConvoy, slungTimes, waitClosed, type RigTown } from './convoy-helpers.js';

/**
 * Mountains end to end: an epic's children worked in waves; a bead that keeps failing is
 * retried, then skipped while the rest goes on; pause stops new dispatch; a killed worker loses
 * nothing and slings nothing twice; a stall is reported to the Mayor.
 */

const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

function status(t: RigTown, id: string): ConvoyState {
  return gtJson<ConvoyState>(t, ['mountain', 'status', id]);
}

describe('mountains', { timeout: 360_000 }, () => {
  it('a 12-bead epic with one bead that always fails: the other 11 land, the failing one is skipped after 3 attempts and reported', async () => {
    // One session per dispatch, so each mountain attempt is one failed session.
    const t = makeRigTown({ thresholds: { max_attempts: 1, skip_after_failures: 3, stall_timeout: '60s' } });
    towns.push(t);
    const epic = createIn(t, t.rig, 'Big epic', { type: 'epic' });
    const kids: string[] = [];
    for (let i = 1; i <= 12; i++) {
      // Chains among the good beads: 2 after 1, 3 after 2, 7 after 6, 12 after 11 and 7.
      const deps = i === 2 ? [kids[0]!] : i === 3 ? [kids[1]!] : i === 7 ? [kids[5]!] : i === 12 ? [kids[10]!, kids[6]!] : [];
      kids.push(createIn(t, t.rig, `Part ${i}`, { parent: epic, deps, mode: i === 5 ? 'crash-always' : undefined }));
    }
    const doomed = kids[4]!;
    const started = gtJson<{ convoy: string; mountain: boolean; plan: { waves: string[][] } }>(t, ['mountain', epic]);
    expect(started.mountain).toBe(true);
    expect(started.plan.waves.map((w) => w.length)).toEqual([8, 2, 2]);
    const id = started.convoy;
    expect(convoyBead(t, id).labels).toContain('mountain');

    const final = await waitFor(() => {
      const s = status(t, id);
      return s.status === 'incomplete' ? s : undefined;
    }, 240_000, 'the mountain to go as far as it can');
    expect(final.counts).toMatchObject({ closed: 11, skipped: 1, running: 0, ready: 0, waiting: 0 });
    for (const kid of kids.filter((k) => k !== doomed)) {
      expect(t.bead(kid).status, kid).toBe('closed');
      expect(mergesOf(t.remote, kid), kid).toBe(1);
    }
    const skipped = t.bead(doomed);
    expect(skipped.status).toBe('blocked');
    expect(skipped.labels).toContain('mountain:skipped');
    expect(skipped.comments!.map((c) => c.text).join('\n')).toMatch(/skipped by mountain .*failed 3 times/);
    expect(sessionsOf(t.agentLog, doomed)).toEqual([1, 1, 1]);
    const entry = final.beads.find((b) => b.id === doomed)!;
    expect(entry).toMatchObject({ phase: 'skipped', attempts: 3, failures: 3 });
    const mail = mayorMail(t);
    expect(mail.some((m) => m.subject.startsWith(`SKIPPED: ${doomed} in mountain ${id}`))).toBe(true);
    const report = mail.find((m) => m.subject.startsWith(`INCOMPLETE: mountain ${id}`));
    expect(report).toBeDefined();
    expect(report!.body).toContain(`${doomed} Part 5: skipped`);
    // The epic stays open while a child is unfinished.
    expect(t.bead(epic).status).toBe('open');
    await replayConvoy(id, 'mountain-skipped');
  });

  it('pause stops new slings while running agents finish; resume completes; kill -9 of the worker loses and repeats nothing; stalls are reported', async () => {
    const t = makeRigTown({ thresholds: { stall_timeout: '3s' } });
    towns.push(t);
    const epic = createIn(t, t.rig, 'Slow epic', { type: 'epic' });
    const kids = [1, 2, 3, 4, 5, 6].map((i) => createIn(t, t.rig, `Slow part ${i}`, { parent: epic, mode: 'slow' }));
    const id = gtJson<{ convoy: string }>(t, ['mountain', epic, '--max-concurrent', '2']).convoy;
    await waitFor(() => kids.filter((k) => t.bead(k).status !== 'open').length === 2, 60_000, 'two beads dispatched');
    const paused = gtJson<{ status: string; running: number }>(t, ['mountain', 'pause', id]);
    expect(paused).toMatchObject({ status: 'paused', running: 2 });
    expect(t.gt(['mountain', 'pause', id]).stderr).toMatch(/already paused/);
    const first = kids.filter((k) => t.bead(k).status !== 'open');
    await waitFor(() => first.every((k) => t.bead(k).status === 'closed'), 120_000, 'the running two to finish');
    await waitFor(() => status(t, id).counts.closed === 2, 10_000, 'the mountain to see them closed');
    const reportsBefore = status(t, id).stallReports;
    // Paused: nothing new goes out although four beads are ready and nothing runs, for longer than stall_timeout.
    await new Promise((r) => setTimeout(r, 4500));
    expect(kids.filter((k) => t.bead(k).status !== 'open').sort()).toEqual(first.sort());
    const s = status(t, id);
    expect(s.status).toBe('paused');
    expect(s.counts).toMatchObject({ closed: 2, ready: 4, running: 0 });
    // A paused mountain is not stalled: no report while paused.
    expect(s.stallReports).toBe(reportsBefore);

    expect(gtJson<{ status: string }>(t, ['mountain', 'resume', id]).status).toBe('running');
    await waitFor(() => kids.filter((k) => t.bead(k).status !== 'open').length >= 4, 60_000, 'dispatch to resume');
    killWorkers(t.root);
    expect(t.gt(['up']).code).toBe(0);
    await waitClosed(t, id, 240_000);
    for (const k of kids) {
      expect(t.bead(k).status, k).toBe('closed');
      expect(mergesOf(t.remote, k), k).toBe(1);
      expect(slungTimes(t.bead(k)), k).toHaveLength(1);
    }
    expect(t.bead(epic).status).toBe('closed');
    const landed = status(t, id);
    expect(landed.status).toBe('landed');
    expect(landed.beads.every((b) => b.attempts === 1)).toBe(true);
    // Slow agents (6 s each, stall_timeout 3 s): the Mayor heard which bead was running and who worked it.
    const stall = mayorMail(t).find((m) => m.subject.startsWith(`STALLED: mountain ${id}`));
    expect(stall).toBeDefined();
    expect(stall!.body).toMatch(/Running:\n {2}\S+ Slow part \d: \S+\/polecats\/\S+/);
    expect(landed.stallReports).toBeGreaterThanOrEqual(1);
    await replayConvoy(id, 'mountain-paused-killed');
  });
});
