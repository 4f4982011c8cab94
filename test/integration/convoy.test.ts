import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { findTemporalCli } from '../../src/temporal/binary.js';
import { fetchHistory } from '../helpers/histories.js';
import type { ConvoyState } from '../../src/convoy/types.js';
import { waitFor } from '../helpers/town.js';
import { addRig, convoyBead, createIn, gtJson, makeRigTown, mayorMail, mergesOf, replayConvoy, slungTimes, townEvents, waitClosed, type RigTown } from './convoy-helpers.js';

/**
 * Convoys end to end: the built CLI, a real worker and Temporal server, real git remotes, and the
 * scripted agent. A convoy dispatches in dependency order across rigs, lands by itself and tells
 * its owner; a --human convoy waits for approval; a landed convoy opens again for a new bead.
 */

const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

describe('convoys', { timeout: 300_000 }, () => {
  it('a change by hand reaches the convoy by message: bd close of a blocker outside it dispatches the bead waiting on it', async () => {
    const t = makeRigTown();
    towns.push(t);
    const outside = t.create('A blocker no convoy tracks');
    const waiting = createIn(t, t.rig, 'Waits on the blocker', { deps: [outside] });
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Told by hand', waiting]);
    await waitFor(() => gtJson<ConvoyState>(t, ['convoy', 'show', convoy]).beads[0]?.phase === 'waiting', 30_000, 'the convoy to see its bead waiting');
    const closed = t.bd(['close', outside, '-r', 'done elsewhere'], { cwd: join(t.root, t.rig) });
    expect(closed.code).toBe(0);
    expect(closed.stderr).toBe('');
    // No watch of the ledgers: only the message from bd can wake the convoy this soon (its idle look is 10 minutes away).
    await waitClosed(t, convoy, 90_000);
    expect(mergesOf(t.remote, waiting)).toBe(1);
    expect(mergesOf(t.remote, outside)).toBe(0);
  });

  it('a stuck dispatch shows as stalled in gt convoy show, with the reason, and goes on once the cause is gone', async () => {
    const t = makeRigTown();
    towns.push(t);
    // The first polecat's worktree cannot be made: a file sits where its folder goes.
    const blocker = join(t.root, t.rig, 'polecats', 'furiosa');
    mkdirSync(dirname(blocker), { recursive: true });
    writeFileSync(blocker, 'in the way\n');
    const id = t.create('Needs a worktree');
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Stuck', id]);
    const stuck = await waitFor(() => gtJson<ConvoyState>(t, ['convoy', 'show', convoy]).beads.find((b) => b.stalled), 60_000, 'the bead to show as stalled');
    expect(stuck.stalled).toMatch(/preparePolecatWork is on attempt \d+; last: git worktree .*polecats\/furiosa' already exists/);
    const text = t.gt(['convoy', 'show', convoy]).stdout;
    expect(text).toMatch(new RegExp(`${id}\\s+stalled`));
    expect(text).toMatch(/stalled: preparePolecatWork is on attempt/);
    const status = gtJson<{ stalls: { workflowId: string; why: string }[] }>(t, ['status']);
    expect(status.stalls).toContainEqual(expect.objectContaining({ workflowId: `polecat/${t.rig}/furiosa`, why: expect.stringMatching(/preparePolecatWork is on attempt/) }));
    expect(t.gt(['status']).stdout).toMatch(new RegExp(`Stalled: +\\d+\\n  polecat/${t.rig}/furiosa: preparePolecatWork is on attempt`));
    rmSync(blocker);
    await waitClosed(t, convoy, 120_000);
    expect(mergesOf(t.remote, id)).toBe(1);
    expect(gtJson<ConvoyState>(t, ['convoy', 'show', convoy]).beads[0]!.stalled).toBeUndefined();
  });

  it('6 beads across two rigs with dependencies: dispatched in dependency order, all merged, convoy lands, owner notified', async () => {
    const t = makeRigTown();
    towns.push(t);
    const other = addRig(t, `${t.rig}b`, 'qx');
    // a2 after a1; b1 (other rig) after a1; b2 after b1; a3 (first rig) after b2; b3 free.
    const a1 = createIn(t, t.rig, 'A1');
    const a2 = createIn(t, t.rig, 'A2', { deps: [a1] });
    const b1 = createIn(t, other.rig, 'B1', { deps: [a1] });
    const b2 = createIn(t, other.rig, 'B2', { deps: [b1] });
    const a3 = createIn(t, t.rig, 'A3', { deps: [b2] });
    const b3 = createIn(t, other.rig, 'B3');
    const ids = [a1, a2, a3, b1, b2, b3];
    const edges: Array<[string, string]> = [[a2, a1], [b1, a1], [b2, b1], [a3, b2]];

    const created = gtJson<{ convoy: string; beads: string[] }>(t, ['convoy', 'create', 'Six across two rigs', ...ids, '--notify', '--owner', 'mayor']);
    expect(created.convoy).toMatch(/^hq-cv-[0-9a-z]{5}$/);
    expect(created.beads).toEqual(ids);
    // Only the unblocked beads go out first.
    await waitFor(() => [a1, b3].every((id) => t.bead(id).status !== 'open'), 60_000, 'a1 and b3 dispatched');
    for (const id of [a2, a3, b1, b2]) expect(['open']).toContain(t.bead(id).status);

    await waitClosed(t, created.convoy);
    const convoy = convoyBead(t, created.convoy);
    expect(convoy.close_reason).toMatch(/^landed: all 6 beads closed/);
    for (const id of ids) {
      const b = t.bead(id) as ReturnType<RigTown['bead']> & { closed_at?: string };
      expect(b.status, id).toBe('closed');
      expect(mergesOf(id.startsWith('qx-') ? other.remote : t.remote, id), id).toBe(1);
      expect(slungTimes(b), id).toHaveLength(1);
    }
    for (const [after, before] of edges) {
      const closed = Date.parse((t.bead(before) as { closed_at?: string }).closed_at!);
      expect(slungTimes(t.bead(after))[0]!, `${after} slung after ${before} closed`).toBeGreaterThanOrEqual(closed);
    }

    const state = gtJson<ConvoyState & { source: string }>(t, ['convoy', 'status', created.convoy]);
    expect(state.status).toBe('landed');
    expect(state.counts.closed).toBe(6);
    for (const b of state.beads) {
      expect(b.phase).toBe('closed');
      expect(b.mergedSha).toMatch(/^[0-9a-f]{40}$/);
      expect(b.attempts).toBe(1);
      expect(b.polecat).toMatch(/\/polecats\//);
    }
    const mail = mayorMail(t).find((m) => m.subject.startsWith(`LANDED: convoy ${created.convoy}`));
    expect(mail).toBeDefined();
    expect(mail!.body).toContain(a3);
    expect(townEvents(t).some((e) => e.type === 'convoy.landed' && e.convoy === created.convoy)).toBe(true);
    const list = gtJson<{ id: string; status: string; closed: number; total: number }[]>(t, ['convoy', 'list', '--all']);
    expect(list.find((c) => c.id === created.convoy)).toMatchObject({ status: 'closed', closed: 6, total: 6 });
    // Each bead's dispatch is told once. A rig's first ask goes through the activity (it starts the
    // rig's dispatcher); once the dispatchers run, the convoy asks them by signal.
    const dispatched = townEvents(t).filter((e) => e.type === 'convoy.dispatch' && e.convoy === created.convoy).flatMap((e) => e.beads as string[]);
    expect(dispatched.sort()).toEqual([...ids].sort());
    type Event = { eventType: string; activityTaskScheduledEventAttributes?: { activityType: { name: string } }; signalExternalWorkflowExecutionInitiatedEventAttributes?: { signalName: string } };
    const history = (fetchHistory(created.convoy) as { events: Event[] }).events;
    const viaActivity = history.filter((e) => e.activityTaskScheduledEventAttributes?.activityType.name === 'dispatchConvoyBeads').length;
    const viaSignal = history.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === 'slingAsked').length;
    expect(viaActivity).toBeLessThanOrEqual(2);
    expect(viaSignal).toBeGreaterThanOrEqual(2);
    await replayConvoy(created.convoy, 'convoy-landed');
    // The rigs' dispatchers (long-lived, still running) replay too.
    await replayConvoy(`dispatch/${t.rig}`, 'dispatch-two-rigs');
  });

  it('--human waits for approval before landing; a bead added to a landed convoy reopens it; gt sling makes a one-bead convoy', async () => {
    const t = makeRigTown();
    towns.push(t);
    const first = t.create('Needs a look');
    const created = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Reviewed work', first, '--human']);
    await waitFor(() => t.bead(first).status === 'closed', 120_000, 'the bead to merge');
    const waiting = await waitFor(() => {
      const s = gtJson<ConvoyState>(t, ['convoy', 'show', created.convoy]);
      return s.status === 'awaiting-approval' ? s : undefined;
    }, 30_000, 'awaiting approval');
    expect(waiting.counts.closed).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(convoyBead(t, created.convoy).status).toBe('open');

    const approve = t.gt(['convoy', 'approve', created.convoy]);
    expect(approve.stderr).toBe('');
    expect(approve.code).toBe(0);
    await waitClosed(t, created.convoy, 30_000);
    const again = t.gt(['convoy', 'approve', created.convoy]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not running|landed/);

    // A later bead reopens the landed convoy, is dispatched and merged, and the convoy lands again.
    const second = t.create('One more thing');
    const add = gtJson<{ added: string[]; reopened: boolean }>(t, ['convoy', 'add', created.convoy, second]);
    expect(add).toMatchObject({ added: [second], reopened: true });
    expect(convoyBead(t, created.convoy).status).toBe('open');
    await waitFor(() => t.bead(second).status === 'closed', 120_000, 'the added bead to merge');
    await waitFor(() => gtJson<ConvoyState>(t, ['convoy', 'show', created.convoy]).status === 'awaiting-approval', 30_000, 'awaiting approval again');
    expect(t.gt(['convoy', 'approve', created.convoy]).code).toBe(0);
    await waitClosed(t, created.convoy, 30_000);
    expect(mergesOf(t.remote, first)).toBe(1);
    expect(mergesOf(t.remote, second)).toBe(1);

    // gt sling: a one-bead convoy tracks the bead and lands when it is merged (none with --no-convoy).
    const slungBead = t.create('Slung by hand');
    const slung = gtJson<{ bead: string; convoy?: string }[]>(t, ['sling', slungBead, t.rig]);
    expect(slung[0]!.convoy).toMatch(/^hq-cv-/);
    await waitClosed(t, slungBead);
    await waitClosed(t, slung[0]!.convoy!, 30_000);
    const loose = t.create('No convoy please');
    const bare = gtJson<{ bead: string; convoy?: string }[]>(t, ['sling', loose, t.rig, '--no-convoy']);
    expect(bare[0]!.convoy).toBeUndefined();
    const convoys = gtJson<{ id: string }[]>(t, ['convoy', 'list', '--all']);
    expect(convoys).toHaveLength(2);
    await replayConvoy(created.convoy, 'convoy-human-reopened');
  });

  it('gt convoy check restarts a convoy whose workflow was lost; close refuses unfinished work unless --force', async () => {
    const t = makeRigTown();
    towns.push(t);
    const bead = t.create('Finished by hand');
    const created = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Lost one', bead, '--max-concurrent', '1']);
    // The workflow is lost (terminated from outside) while the bead is closed by a person.
    execFileSync(findTemporalCli(), ['workflow', 'terminate', '--address', inject('temporalAddress'), '-w', created.convoy, '--reason', 'test: lost'], { stdio: 'ignore' });
    expect(t.bd(['close', bead, '--force', '-r', 'done by hand'], { cwd: join(t.root, t.rig) }).code).toBe(0);
    expect(convoyBead(t, created.convoy).status).toBe('open');
    const check = t.gt(['convoy', 'check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(created.convoy);
    await waitClosed(t, created.convoy, 60_000);

    // close: refused while a tracked bead is unfinished, done with --force (the bead stays as it is).
    const open = t.create('Still open');
    const staged = gtJson<{ convoy: string }>(t, ['convoy', 'stage', open]);
    const refused = t.gt(['convoy', 'close', staged.convoy]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--force/);
    expect(convoyBead(t, staged.convoy).status).not.toBe('closed');
    expect(t.gt(['convoy', 'close', staged.convoy, '--force']).code).toBe(0);
    expect(convoyBead(t, staged.convoy).status).toBe('closed');
    expect(t.bead(open).status).toBe('open');
  });
});

