import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, pidOf, waitFor } from '../helpers/town.js';
import { makeRigTown, type RigTown } from './polecat-helpers.js';

/**
 * The worker's relay: an agent's `gt done` handed to the worker that started its session, which
 * sends the update on its own engine connection; without a relay the agent sends it itself.
 */

const towns: RigTown[] = [];
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

function ask(socket: string, line: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const s = connect(socket, () => s.write(line));
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    s.on('error', reject);
  });
}

describe('relay', { timeout: 180_000 }, () => {
  it('an agent is told its worker\'s relay; gt done through it needs no engine connection of its own; without it gt done goes direct; bad requests are refused', async () => {
    const t = makeRigTown({ thresholds: { stall_timeout: '60s', heartbeat_timeout: '10s' } });
    towns.push(t);
    t.settings((s) => {
      s.scheduler = { ...s.scheduler, agent_nice: 7 };
    });
    // Slow agents: they print for a minute, so the test runs `gt done` in their worktrees itself.
    t.env.SCRIPTED_AGENT_SLOW_MS = '90000';
    const [a, b] = [t.create('Relayed', 'slow'), t.create('Direct', 'slow')];
    const slung = JSON.parse(t.gt(['sling', a, b, t.rig, '--json']).stdout) as { bead: string; polecat: string; worktree: string }[];
    expect(slung).toHaveLength(2);

    // The relay of the process that started the sessions: the town's rig worker.
    const relay = join(t.root, '.gt', 'run', 'relay', `${pidOf(t.root, 'worker-rigs')}.sock`);
    expect(statSync(relay).mode & 0o777).toBe(0o600);
    // Each agent process has the relay in its environment (the wrapper that the pid file names exports it to the agent).
    const descendants = (pid: number): number[] => {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      return kids.flatMap((k) => [k, ...descendants(k)]);
    };
    const envOf = (pid: number): string[] => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      } catch {
        return [];
      }
    };
    for (const s of slung) {
      const pidFile = join(t.root, '.gt', 'run', 'polecats', t.rig, `${s.polecat}.agent.pid`);
      const agent = await waitFor(() => {
        if (!existsSync(pidFile)) return undefined;
        const pid = Number(readFileSync(pidFile, 'utf8'));
        return descendants(pid).find((p) => envOf(p).includes(`GT_RELAY=${relay}`));
      }, 30_000, `${s.polecat}'s agent with GT_RELAY in its environment`);
      // Agents run at scheduler.agent_nice: the worker and the engine come first. /proc/<pid>/stat field 19.
      const nice = Number(readFileSync(`/proc/${agent}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
      expect(nice, `${s.polecat}'s agent`).toBe(7);
      // And its session's autogroup, where the kernel has them (a nice weighs only within its autogroup there).
      if (existsSync('/proc/self/autogroup')) expect(readFileSync(`/proc/${agent}/autogroup`, 'utf8')).toMatch(/ nice 7\n?$/);
    }

    const doneIn = (s: (typeof slung)[number], extra: Record<string, string>) => {
      writeFileSync(join(s.worktree, `${s.bead}.txt`), `${s.bead} by hand\n`);
      git(s.worktree, 'add', `${s.bead}.txt`);
      git(s.worktree, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', `${s.bead}: by hand`);
      const addr = `${t.rig}/polecats/${s.polecat}`;
      return t.gt(['done', '--json'], { cwd: s.worktree, env: { GT_RIG: t.rig, GT_ROLE: 'polecat', GT_POLECAT: s.polecat, GT_BEAD: s.bead, BD_ACTOR: addr, ...extra } });
    };
    const [sa, sb] = [slung.find((s) => s.bead === a)!, slung.find((s) => s.bead === b)!];
    // Through the relay, with an engine address that nothing answers on: only the relay can have sent it.
    const relayed = doneIn(sa, { GT_RELAY: relay, TEMPORAL_ADDRESS: '127.0.0.1:9' });
    expect(relayed.stderr).toBe('');
    expect(relayed.code).toBe(0);
    expect(JSON.parse(relayed.stdout)).toMatchObject({ bead: a, status: 'COMPLETED' });
    // A relay that is not there: the agent sends the update itself.
    const direct = doneIn(sb, { GT_RELAY: join(t.root, '.gt', 'run', 'relay', '1.sock') });
    expect(direct.stderr).toBe('');
    expect(direct.code).toBe(0);
    expect(JSON.parse(direct.stdout)).toMatchObject({ bead: b, status: 'COMPLETED' });

    await waitFor(() => (t.bead(a).status === 'closed' && t.bead(b).status === 'closed' ? true : undefined), 90_000, 'both beads merged');
    const log = git(t.remote, 'log', '--format=%s', 'main');
    for (const id of [a, b]) expect(log.split('\n').filter((l) => l.startsWith(`${id}:`))).toHaveLength(1);

    // Bad requests are refused and change nothing.
    expect(await ask(relay, 'not json\n')).toMatchObject({ ok: false, refused: { message: expect.stringContaining('not JSON') } });
    const req = (workflowId: string, update = 'done') => `${JSON.stringify({ workflowId, update, args: [{ bead: a, status: 'COMPLETED' }], updateId: `t-${Math.random()}`, what: 'gt done for x was refused' })}\n`;
    expect(await ask(relay, req(`refinery/${t.rig}`))).toMatchObject({ ok: false, refused: { message: expect.stringContaining('only gt done and gt handoff') } });
    expect(await ask(relay, req(`polecat/${t.rig}/${sa.polecat}`, 'unsling'))).toMatchObject({ ok: false, refused: {} });
    expect(await ask(relay, req(`polecat/${t.rig}/nobody`))).toMatchObject({ ok: false, refused: { message: 'gt done for x was refused: no polecat workflow is running for it' } });
    expect(log).toBe(git(t.remote, 'log', '--format=%s', 'main'));
  });
});
