import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { gtJson, mergesOf, townEvents, waitClosed } from './convoy-helpers.js';
import { makeRigTown, townsWithWorkers, type RigTown } from './polecat-helpers.js';

/**
 * Rig hosts on one machine: `gt worker` serves only the rigs it is given, the town's worker lets
 * go of a rig moved to the rig hosts, `gt status` lists every worker with its host and queues,
 * and bad input (an unknown rig, a rig still on the town, a second town of the same name) is
 * refused without changing anything. The netns suite (`npm run test:cluster`) does the same
 * across hosts on a real cluster.
 */

const { towns, workers } = townsWithWorkers('hostA');

type Status = { workers: { identity: string; host: string; queues: string[]; live: boolean }[] };

function startRigHost(t: RigTown, args: string[]): { child: ChildProcess; output: () => string } {
  let out = '';
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('GT_') && k !== 'TEMPORAL_ADDRESS') env[k] = v;
  const child = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'worker', ...args], { cwd: t.root, env: { ...env, ...t.env } });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  workers.push(child);
  return { child, output: () => out };
}

describe('rig hosts (gt worker)', { timeout: 240_000 }, () => {
  it('refuses bad input and changes nothing: an unknown rig, a rig still on the town, a bad run-on place', () => {
    const t = makeRigTown();
    towns.push(t);
    const rigsBefore = readFileSync(join(t.root, 'mayor', 'rigs.json'));
    const unknown = t.gt(['worker', '--rig', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unknown rig "nope"');
    expect(unknown.stderr).toContain(`hint: the rigs of this town: ${t.rig}`);
    const onTown = t.gt(['worker', '--rig', t.rig]);
    expect(onTown.code).toBe(1);
    expect(onTown.stderr).toContain(`rig ${t.rig} runs its agents on the town's own worker`);
    expect(onTown.stderr).toContain(`hint: first move it to the rig hosts: gt rig run-on ${t.rig} workers`);
    const place = t.gt(['rig', 'run-on', t.rig, 'elsewhere']);
    expect(place.code).toBe(2);
    expect(place.stderr).toContain('unknown place "elsewhere"');
    const address = t.gt(['worker', '--rig', t.rig, '--address', 'no-port']);
    expect(address.code).toBe(2);
    expect(address.stderr).toContain('--address must be host:port');
    expect(readFileSync(join(t.root, 'mayor', 'rigs.json')).equals(rigsBefore)).toBe(true);
    expect(t.gt(['rig', 'list', '--json']).code).toBe(0);
  });

  it('a rig moved to a rig host: its bead is worked there (events say the host), the town worker lets go of its queue, gt status lists both workers', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);
    const moved = t.gt(['rig', 'run-on', t.rig, 'workers']);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toContain(`gt worker --rig ${t.rig}`);
    const rigQueue = `${t.env.GT_TASK_QUEUE}-${t.rig}`;
    const host = startRigHost(t, ['--rig', t.rig, '--host', 'hostA']);
    await waitFor(() => host.output().includes(`polling ${rigQueue}`), 60_000, 'the rig host to poll');
    // The rig host polls only the rig's queue.
    await waitFor(() => gtJson<Status>(t, ['status']).workers.find((w) => w.live && w.host === 'hostA' && w.queues.join() === rigQueue), 60_000, 'gt status to show hostA on the rig queue');
    expect(t.gt(['status']).stdout).toMatch(new RegExp(`\\d+@hostA +host hostA, polls ${rigQueue}; last seen \\d+s ago`));
    const id = t.create('Worked on a rig host');
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'On hostA', id]);
    await waitClosed(t, convoy, 120_000);
    expect(mergesOf(t.remote, id)).toBe(1);
    const starts = townEvents(t).filter((e) => e.type === 'session.start' && e.bead === id);
    expect(starts.length).toBeGreaterThan(0);
    expect(starts.every((e) => e.host === 'hostA')).toBe(true);
    // The town's rig worker let go of the rig's queue: once its last poll there is older than a
    // long poll, the server's list shows it polling nothing, and the town's worker on the town's queue.
    await waitFor(() => {
      const live = gtJson<Status>(t, ['status']).workers.filter((w) => w.live && w.host !== 'hostA');
      const polling = live.filter((w) => w.queues.length);
      return polling.length === 1 && polling[0]!.queues.join() === t.env.GT_TASK_QUEUE;
    }, 120_000, "gt status to show the town's worker on the town's queue only");
  });

  it('a second town of the same name on the same engine is refused: gt up and gt worker', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);
    const name = JSON.parse(readFileSync(join(t.root, 'mayor', 'town.json'), 'utf8')).name as string;
    const otherRoot = join(t.root, '..', 'other');
    const install = runCli('gt', ['install', otherRoot, '--name', name], { cwd: join(t.root, '..') });
    expect(install.code).toBe(0);
    const env = { ...t.env, GT_TASK_QUEUE: `${t.env.GT_TASK_QUEUE}-other` };
    const up = runCli('gt', ['up'], { cwd: otherRoot, env });
    expect(up.code).toBe(1);
    expect(up.stderr).toContain(`another town named "${name}" already uses the engine`);
    expect(up.stderr).toContain('hint: give this town its own namespace');
    const add = runCli('gt', ['rig', 'add', 'r2', t.remote, '--prefix', 'rb'], { cwd: otherRoot, env });
    expect(add.code).toBe(0);
    expect(runCli('gt', ['rig', 'run-on', 'r2', 'workers'], { cwd: otherRoot, env }).code).toBe(0);
    const worker = runCli('gt', ['worker', '--rig', 'r2'], { cwd: otherRoot, env });
    expect(worker.code).toBe(1);
    expect(worker.stderr).toContain(`another town named "${name}" already uses the engine`);
  });
});
