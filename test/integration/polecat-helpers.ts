import { spawnSync, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT } from '../helpers/cli.js';
import { git, makeRemote, makeTown, type TestTown } from '../helpers/town.js';

/**
 * A town with one rig on a real bare remote, the scripted agent as its default agent, its own
 * task queue and tmux server (so tests running side by side never share workers or sessions),
 * and short thresholds.
 */
export const SCRIPTED_AGENT = join(PROJECT, 'test', 'fixtures', 'scripted-agent.mjs');

export interface RigTown extends TestTown {
  rig: string;
  prefix: string;
  remote: string;
  agentLog: string;
  create(title: string, mode?: string): string;
  bead(id: string): Bead;
  remoteFiles(): string[];
  cleanup(): void;
}

export interface Bead {
  id: string;
  title: string;
  status: string;
  assignee?: string;
  labels?: string[];
  comments?: { author: string; text: string }[];
}

export function makeRigTown(opts: { thresholds?: Record<string, unknown> } = {}): RigTown {
  const t = makeTown();
  const tag = Math.random().toString(36).slice(2, 8);
  const rig = `rig${tag}`;
  const prefix = 'pc';
  t.env.GT_TASK_QUEUE = `gt-test-${tag}`;
  t.env.GT_TMUX_SOCKET = `gt-test-${tag}`;
  const agentLog = join(t.root, 'agent-sessions.log');
  t.env.SCRIPTED_AGENT_LOG = agentLog;
  t.env.SCRIPTED_AGENT_SLOW_MS = '6000';

  const remote = makeRemote();

  const must = (args: string[]) => {
    const r = t.gt(args);
    if (r.code !== 0) throw new Error(`gt ${args.join(' ')} failed: ${r.stderr}`);
  };
  must(['rig', 'add', rig, remote, '--prefix', prefix]);
  must(['config', 'agent', 'set', 'scripted', SCRIPTED_AGENT]);
  must(['config', 'default-agent', 'scripted']);
  t.settings((s) => {
    s.thresholds = { ...s.thresholds, heartbeat_timeout: '3s', stall_timeout: '4s', nudge_grace: '2s', max_attempts: 3, ...opts.thresholds };
  });

  return Object.assign(t, {
    rig,
    prefix,
    remote,
    agentLog,
    create(title: string, mode?: string): string {
      const args = ['create', title, '--json', ...(mode ? ['-l', `agent:${mode}`] : [])];
      const r = t.bd(args, { cwd: join(t.root, rig) });
      if (r.code !== 0) throw new Error(`bd create failed: ${r.stderr}`);
      return (JSON.parse(r.stdout) as { id: string }).id;
    },
    bead(id: string): Bead {
      return t.bdJson<Bead[]>(['show', id])[0]!;
    },
    remoteFiles(): string[] {
      return git(remote, 'ls-tree', '--name-only', 'main').trim().split('\n');
    },
    cleanup(): void {
      t.stop();
      spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'kill-server'], { stdio: 'ignore' });
    },
  });
}

/** The sessions the scripted agent started, per bead: "<bead> <mode> session <n>" lines. */
export function sessionsOf(log: string, bead: string): number[] {
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.startsWith(`${bead} `)).map((l) => Number(l.split(' ').at(-1)));
}

/**
 * Towns and the `gt worker` processes a test starts beside them, stopped after each test: the
 * workers first (waiting for them to exit), then each town and the tmux server of its rig host
 * (`<socket>-<hostSuffix>`).
 */
export function townsWithWorkers(hostSuffix: string): { towns: RigTown[]; workers: ChildProcess[] } {
  const towns: RigTown[] = [];
  const workers: ChildProcess[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) {
      w.kill('SIGTERM');
      await new Promise((r) => (w.exitCode !== null ? r(undefined) : w.once('exit', r)));
    }
    for (const t of towns.splice(0)) {
      t.cleanup();
      spawnSync('tmux', ['-L', `${t.env.GT_TMUX_SOCKET}-${hostSuffix}`, 'kill-server'], { stdio: 'ignore' });
    }
  });
  return { towns, workers };
}
