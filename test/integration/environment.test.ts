import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, tempDir } from '../helpers/cli.js';
import { makeTown, pidOf, waitFor, type TestTown } from '../helpers/town.js';
import { makeRigTown, sessionsOf } from './polecat-helpers.js';

/**
 * Environments are clean and towns do not touch each other: an agent's `gt done` during an
 * outage of the town's own engine brings it back and succeeds (no second session), the worker
 * it starts carries none of the agent's identity; each town has its own tmux server; a session
 * reports its own output from its first byte.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});


function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

function kill9(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

describe('environments', () => {
  it.skipIf(!existsSync('/proc/self/environ'))(
    "the town's own server and worker killed mid-session: the agent's gt done starts them again and succeeds; the new worker has no agent identity",
    async () => {
      const t = makeRigTown();
      cleanups.push(() => t.cleanup());
      // The town's own embedded server, not the test run's shared one.
      delete t.env.TEMPORAL_ADDRESS;
      const grpc = await freePort();
      const ui = await freePort();
      t.settings((s) => {
        s.temporal = { ...s.temporal, grpc_port: grpc, ui_port: ui };
      });
      cleanups.push(() => {
        for (const service of ['worker', 'temporal'] as const) {
          try {
            kill9(pidOf(t.root, service));
          } catch {
            // no pid file
          }
        }
      });
      // Whoever starts the town may carry an identity of their own: none of it reaches the worker.
      const up = t.gt(['up'], { env: { GT_ROLE: 'polecat', GT_POLECAT: 'intruder', GT_BEAD: 'pc-intruder', GIT_AUTHOR_NAME: 'intruder' } });
      expect(up.stderr).toBe('');
      expect(up.code).toBe(0);
      const oldWorker = pidOf(t.root, 'worker');
      const first = environOf(oldWorker);
      for (const k of ['GT_ROLE', 'GT_POLECAT', 'GT_BEAD', 'GIT_AUTHOR_NAME', 'BD_ACTOR', 'TEMPORAL_ADDRESS']) expect(first[k], k).toBeUndefined();
      const id = t.create('work through an outage', 'slow');
      const slung = t.gt(['sling', id, t.rig, '--json']);
      expect(slung.stderr).toBe('');
      const polecat = (JSON.parse(slung.stdout) as { polecat: string }[])[0]!.polecat;
      await waitFor(() => sessionsOf(t.agentLog, id).length > 0, 60_000, 'the agent to start');
      // The agent's session has exactly the town's environment and its own identity; it reaches the
      // town's own server by its port, not as an external cluster.
      const agentPid = Number(readFileSync(join(t.root, '.gt', 'run', 'polecats', t.rig, `${polecat}.agent.pid`), 'utf8').trim());
      const agentEnv = environOf(agentPid);
      expect(agentEnv).toMatchObject({ GT_ROOT: t.root, GT_ROLE: 'polecat', GT_POLECAT: polecat, GT_BEAD: id, GT_TEMPORAL_PORT: String(grpc), BD_ACTOR: `${t.rig}/polecats/${polecat}` });
      expect(agentEnv.TEMPORAL_ADDRESS).toBeUndefined();
      expect(agentEnv.PATH?.split(':')[0]).toBe(join(t.root, '.gt', 'bin'));
      kill9(oldWorker);
      kill9(pidOf(t.root, 'temporal'));

      // The agent finishes its slow work, then its gt done finds nothing running and brings the town back.
      const bead = await waitFor(() => {
        const b = t.bead(id);
        return b.status === 'closed' ? b : undefined;
      }, 150_000, 'the bead to merge after the outage');
      expect(bead.status).toBe('closed');
      expect(sessionsOf(t.agentLog, id)).toEqual([1]);
      expect(t.remoteFiles()).toContain(`${id}.txt`);

      const worker = pidOf(t.root, 'worker');
      expect(worker).not.toBe(oldWorker);
      // The worker's rig worker (which started the agent's next sessions) has the same environment.
      for (const env of [environOf(worker), environOf(pidOf(t.root, 'worker-rigs'))]) {
        for (const k of ['GT_BEAD', 'GT_POLECAT', 'GT_ROLE', 'GT_RIG', 'GT_ATTEMPT', 'GT_PROGRESS_FILE', 'GT_REPRIME_FILE', 'GT_EXIT_FILE', 'BD_ACTOR', 'GIT_AUTHOR_NAME', 'GIT_COMMITTER_NAME', 'TEMPORAL_ADDRESS']) {
          expect(env[k], k).toBeUndefined();
        }
        expect(env.GT_ROOT).toBe(t.root);
        expect(env.GT_TEMPORAL_PORT).toBe(String(grpc));
      }
    },
    240_000,
  );

  it('a runtime command missing where the worker runs: reported as exit 127 with its own "not found", never the previous session\'s text', async () => {
    const t = makeRigTown({ thresholds: { max_attempts: 1 } });
    cleanups.push(() => t.cleanup());
    // The first bead leaves the polecat's log ending in an ordinary, successful session.
    const first = t.create('first work');
    expect(t.gt(['sling', first, t.rig]).code).toBe(0);
    await waitFor(() => t.bead(first).status === 'closed', 90_000, 'the first bead to merge');

    // An agent found on the PATH of the person slinging, but not on the worker's.
    const bin = tempDir('gt-onlyhere-');
    writeFileSync(join(bin, 'only-here-agent'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'only-here-agent'), 0o755);
    expect(t.gt(['config', 'agent', 'set', 'onlyhere', 'only-here-agent']).code).toBe(0);
    const second = t.create('second work');
    const slung = t.gt(['sling', second, t.rig, '--agent', 'onlyhere', '--json'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(slung.stderr).toBe('');
    const polecat = (JSON.parse(slung.stdout) as { polecat: string }[])[0]!.polecat;
    const blocked = await waitFor(() => {
      const b = t.bead(second);
      return b.status === 'blocked' ? b : undefined;
    }, 90_000, 'the second bead to be blocked');
    const reason = blocked.comments!.map((c) => c.text).find((c) => c.startsWith('blocked:'))!;
    expect(reason).toMatch(/exit code 127; last output: .*only-here-agent.*not found/);
    expect(reason.slice(reason.indexOf('last output:'))).not.toMatch(/gt done|scripted-agent/);
    // The log has the session's first byte: the shell's own "not found" line.
    const log = readFileSync(join(t.root, '.gt', 'logs', 'polecats', t.rig, `${polecat}.log`), 'utf8');
    expect(log).toMatch(/only-here-agent.*not found/);
  });
});

describe('two towns on one machine', () => {
  function mayorTown(): TestTown & { socket: string } {
    const t = makeTown();
    // No GT_TMUX_SOCKET: each town must pick its own tmux server.
    const agent = join(tempDir('gt-mayor-agent-'), 'mayor-agent');
    writeFileSync(agent, '#!/bin/sh\necho "mayor of $GT_ROOT up"\nexec sleep 600\n');
    chmodSync(agent, 0o755);
    expect(t.gt(['config', 'agent', 'set', 'sleeper', agent]).code).toBe(0);
    const started = t.gt(['mayor', 'start', '--agent', 'sleeper']);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    const socket = /tmux -L (\S+) attach -t gt-mayor/.exec(started.stdout)?.[1];
    expect(socket, started.stdout).toBeDefined();
    cleanups.push(() => spawnSync('tmux', ['-L', socket!, 'kill-server'], { stdio: 'ignore' }));
    return Object.assign(t, { socket: socket! });
  }
  const has = (socket: string) => spawnSync('tmux', ['-L', socket, 'has-session', '-t', '=gt-mayor'], { stdio: 'ignore' }).status === 0;

  it("gt mayor stop in town B leaves town A's Mayor running; no town variable reaches a tmux server's global environment", async () => {
    const a = mayorTown();
    const b = mayorTown();
    expect(a.socket).not.toBe(b.socket);
    expect(has(a.socket)).toBe(true);
    expect(has(b.socket)).toBe(true);
    // The Mayor's log has its first line.
    await waitFor(() => readFileSync(join(a.root, '.gt', 'logs', 'mayor.log'), 'utf8').includes(`mayor of ${a.root} up`), 10_000, "A's Mayor's first line in its log");

    const stopped = b.gt(['mayor', 'stop']);
    expect(stopped.code).toBe(0);
    expect(has(b.socket)).toBe(false);
    expect(has(a.socket)).toBe(true);

    const global = spawnSync('tmux', ['-L', a.socket, 'show-environment', '-g'], { encoding: 'utf8' }).stdout;
    expect(global).not.toMatch(/^(GT_ROOT|TEMPORAL_ADDRESS|GT_ROLE|BD_ACTOR)=/m);
    const stoppedAgain = b.gt(['mayor', 'stop']);
    expect(stoppedAgain.code).toBe(1);
    expect(stoppedAgain.stderr).toMatch(/not running/);
  });
});


describe('gt status', () => {
  it("does not count a dead worker's poller as live", async () => {
    const t = makeTown();
    cleanups.push(() => t.stop());
    t.settings((s) => {
      s.temporal = { ...s.temporal, task_queue: `gt-status-${Math.random().toString(36).slice(2, 8)}` };
    });
    expect(t.gt(['up']).code).toBe(0);
    type Status = { worker: { running: boolean; pollers?: number; stalePollers?: number } };
    const status = () => JSON.parse(t.gt(['status', '--json']).stdout) as Status;
    await waitFor(() => (status().worker.pollers ?? 0) >= 1, 30_000, 'the worker to poll');
    kill9(pidOf(t.root, 'worker'));
    await waitFor(() => !status().worker.running, 10_000, 'the worker to be seen stopped');
    const after = status();
    // The server still lists the dead worker's poller for minutes; gt status says it is not live.
    expect(after.worker.pollers).toBe(0);
    expect(after.worker.stalePollers).toBeGreaterThanOrEqual(1);
    const text = t.gt(['status']).stdout;
    expect(text).toMatch(/Worker:\s+stopped .*\(0 live pollers; \d+ of a stopped worker still listed by the server/);
  });
});
