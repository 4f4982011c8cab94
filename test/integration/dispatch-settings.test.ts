import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { dispatchActivities } from '../../src/activities/dispatch.js';
import { settingsKey, type DispatchSettings } from '../../src/dispatch/types.js';
import { makeRigTown, type RigTown } from './polecat-helpers.js';

/**
 * The dispatcher decides a sling on the rig's settings as last read, and dispatchBeads checks
 * them before it hooks anything (src/workflows/dispatch.ts, dispatch-settings-checked). A worker
 * killed after the hook and before the activity's answer runs it again: that attempt must hook as
 * the first did, whatever the settings say by then, or the bead would be stranded on a name the
 * dispatcher no longer holds. The activity runs here as the worker runs it, with the attempt
 * number the engine would give, against the tests' Temporal server and a real ledger.
 */
const towns: RigTown[] = [];
const saved = { address: process.env.TEMPORAL_ADDRESS, queue: process.env.GT_TASK_QUEUE };
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
  for (const [k, v] of [['TEMPORAL_ADDRESS', saved.address], ['GT_TASK_QUEUE', saved.queue]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('dispatchBeads with the settings it was decided on', () => {
  it('a first attempt on changed settings hooks nothing; a later attempt hooks as decided', async () => {
    const t = makeRigTown();
    towns.push(t);
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
    process.env.GT_TASK_QUEUE = t.env.GT_TASK_QUEUE;
    const bead = t.create('Settings checked');
    const acts = dispatchActivities(t.root);
    const current: DispatchSettings = await new MockActivityEnvironment().run(acts.dispatchSettings, t.rig);
    const older = settingsKey({ ...current, cap: current.cap + 1 });
    const input = {
      rig: t.rig,
      by: 'test',
      beads: [{ name: 'ada', item: { bead, kind: 'sling' as const, by: 'test', at: new Date().toISOString(), heartbeatMs: current.heartbeatMs } }],
      expect: older,
    };

    expect(await new MockActivityEnvironment({ attempt: 1 }).run(acts.dispatchBeads, input)).toEqual({ stale: true });
    expect(t.bead(bead).status).toBe('open');

    // The retry of an attempt that may have hooked already: no check, the same names.
    expect(await new MockActivityEnvironment({ attempt: 2 }).run(acts.dispatchBeads, input)).toEqual([{ bead, refused: undefined }]);
    const hooked = t.bead(bead) as ReturnType<RigTown['bead']> & { assignee?: string };
    expect(hooked.status).toBe('hooked');
    expect(hooked.assignee).toBe(`${t.rig}/polecats/ada`);
    // Run again (as after a kill between the hook and the answer): left as it is, nothing refused.
    expect(await new MockActivityEnvironment({ attempt: 3 }).run(acts.dispatchBeads, input)).toEqual([{ bead, refused: undefined }]);

    // With the settings as they are, a first attempt goes ahead.
    const other = t.create('Settings current');
    const now = { ...input, beads: [{ name: 'grace', item: { ...input.beads[0]!.item, bead: other } }], expect: settingsKey(current) };
    expect(await new MockActivityEnvironment({ attempt: 1 }).run(acts.dispatchBeads, now)).toEqual([{ bead: other, refused: undefined }]);
    expect(t.bead(other).status).toBe('hooked');
  });
});
