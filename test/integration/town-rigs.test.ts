import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidOf, waitFor } from '../helpers/town.js';
import { gtJson, mergesOf, waitClosed } from './convoy-helpers.js';
import { makeRigTown, townsWithWorkers, type RigTown } from './polecat-helpers.js';

/**
 * The town's worker keeps the rigs that run on the town in a child process of its own (the rig
 * worker): `gt status` names both, a rig worker killed with -9 is started again by the worker
 * and its bead still lands once, a killed worker takes its rig worker down with it, and
 * `gt down` stops both.
 */

const { towns } = townsWithWorkers('rigs');

type Status = {
  worker: { running: boolean; pid?: number; rigsPid?: number };
  workers: { identity: string; queues: string[]; live: boolean }[];
};

const rigsPidFile = (t: RigTown) => join(t.root, '.gt', 'run', 'worker-rigs.pid');
const rigsPid = (t: RigTown) => pidOf(t.root, 'worker-rigs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** Wait until the worker and the rig worker poll their own queues (as the server lists them). */
async function pollingApart(t: RigTown): Promise<Status> {
  const rigQueue = `${t.env.GT_TASK_QUEUE}-${t.rig}`;
  return waitFor(() => {
    const s = gtJson<Status>(t, ['status']);
    const by = (pid: number | undefined) => s.workers.find((w) => w.live && w.identity.startsWith(`${pid}@`));
    return s.worker.rigsPid && by(s.worker.pid)?.queues.join() === t.env.GT_TASK_QUEUE && by(s.worker.rigsPid)?.queues.join() === rigQueue ? s : undefined;
  }, 60_000, 'the worker on the town queue and its rig worker on the rig queue');
}

describe("the town's rig worker", { timeout: 240_000 }, () => {
  it('runs beside the worker; kill -9 of it: started again by the worker, the bead lands once; kill -9 of the worker takes it down; gt down stops both', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);
    const worker = pidOf(t.root, 'worker');
    const first = rigsPid(t);
    expect(parentOf(first)).toBe(worker);
    const status = await pollingApart(t);
    expect(status.worker).toMatchObject({ running: true, pid: worker, rigsPid: first });
    expect(t.gt(['status']).stdout).toContain(`running [pid ${worker}; its rigs' worker pid ${first}]`);

    // A bead in flight when the rig worker dies: the worker starts another, the work lands once.
    const id = t.create('Work through a rig worker restart', 'slow');
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Rig worker restart', id]);
    await waitFor(() => t.bead(id).status === 'hooked', 60_000, 'the bead to be hooked');
    process.kill(first, 'SIGKILL');
    const second = await waitFor(() => {
      const pid = rigsPid(t);
      return pid !== first && alive(pid) ? pid : undefined;
    }, 30_000, 'the worker to start another rig worker');
    expect(parentOf(second)).toBe(worker);
    expect(alive(worker)).toBe(true);
    await waitClosed(t, convoy, 180_000);
    expect(mergesOf(t.remote, id)).toBe(1);
    expect(readFileSync(join(t.root, '.gt', 'logs', 'worker.log'), 'utf8')).toContain(`the rig worker (pid ${first}) killed by SIGKILL; starting another`);

    // kill -9 of the worker: its rig worker follows at once; gt up starts both again.
    process.kill(worker, 'SIGKILL');
    await waitFor(() => !alive(second), 10_000, 'the rig worker to exit with its worker');
    expect(t.gt(['up']).code).toBe(0);
    const again = pidOf(t.root, 'worker');
    expect(again).not.toBe(worker);
    expect(parentOf(rigsPid(t))).toBe(again);
    await pollingApart(t);

    // gt down stops both and removes their pid files.
    const third = rigsPid(t);
    expect(t.gt(['down']).code).toBe(0);
    expect(alive(again)).toBe(false);
    expect(alive(third)).toBe(false);
    expect(existsSync(rigsPidFile(t))).toBe(false);
    expect(gtJson<Status>(t, ['status']).worker).toMatchObject({ running: false });
  });
});
