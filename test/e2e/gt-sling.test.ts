import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, waitFor } from '../helpers/town.js';
import { makeRigTown, sessionsOf, type RigTown } from '../integration/polecat-helpers.js';

/**
 * `gt sling`, `gt done`, `gt hook`, `gt prime`, `gt whoami`, `gt unsling`, `gt polecat` as a
 * user and an agent run them: every refusal says what was wrong on stderr, exits non-zero, and
 * leaves the ledgers as they were.
 */

const towns: RigTown[] = [];
function town(): RigTown {
  const t = makeRigTown();
  towns.push(t);
  return t;
}
afterEach(() => {
  for (const t of towns.splice(0)) t.cleanup();
});

function ledgers(t: RigTown): string {
  return [join(t.root, '.beads', 'issues.jsonl'), join(t.root, t.rig, '.beads', 'issues.jsonl')].map((f) => readFileSync(f, 'utf8')).join('\n--\n');
}

describe('gt sling: bad input changes nothing', { timeout: 180_000 }, () => {
  it('refuses an unknown rig, a closed bead, an unknown bead, another rig\'s bead (unless --force), a full rig', async () => {
    const t = town();
    const open = t.create('Open work');
    const closed = t.create('Done already');
    expect(t.bd(['close', closed], { cwd: join(t.root, t.rig) }).code).toBe(0);
    const hq = (JSON.parse(t.bd(['create', 'Town work', '--json']).stdout) as { id: string }).id;
    const other = t.create('More work');
    // An agent whose command is not on PATH: its sessions could only fail, so nothing is slung.
    expect(t.gt(['config', 'agent', 'set', 'ghost', 'no-such-agent-cmd-xyz']).code).toBe(0);
    const before = ledgers(t);
    const cases: [string[], number, RegExp][] = [
      [['sling', open, 'nosuchrig'], 1, /no rig named "nosuchrig"/],
      [['sling', closed, t.rig], 1, new RegExp(`bead ${closed} is closed[\\s\\S]*bd reopen`)],
      [['sling', 'pc-zzzzz', t.rig], 1, /no bead "pc-zzzzz"/],
      [['sling', hq, t.rig], 1, new RegExp(`${hq} belongs to the town[\\s\\S]*--force`)],
      [['sling', open, open, t.rig], 2, /given twice/],
      [['sling', 'nosuch-thing'], 2, /"nosuch-thing" is neither a rig of this town nor a bead of one/],
      [['sling', open, `${t.rig}/Bad Name`], 2, /polecat name "Bad Name" is not valid/],
      [['sling', open, 'nosuchrig/furiosa'], 2, /names rig nosuchrig, which this town does not have/],
      [['sling', open, other, `${t.rig}/furiosa`], 2, /one polecat .* cannot take 2 beads/],
      [['sling', open, t.rig, '--agent', 'nosuchagent'], 1, /unknown agent "nosuchagent"/],
      [['sling', open, t.rig, '--agent', 'ghost'], 1, /agent "ghost" \(chosen by --agent\) runs "no-such-agent-cmd-xyz", which is not on PATH/],
      [['sling', open, t.rig, '--formula', 'nosuchformula'], 1, /nosuchformula/],
      [['sling', open, t.rig, '--var', 'novalue'], 2, /name=value/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = t.gt(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(pattern);
      expect(r.stdout, args.join(' ')).toBe('');
    }
    // Cap: one working polecat allowed; two beads at once are refused whole.
    t.settings((s) => {
      s.scheduler = { ...s.scheduler, max_polecats_per_rig: 1 };
    });
    const capped = t.gt(['sling', open, other, t.rig]);
    expect(capped.code).toBe(1);
    expect(capped.stderr).toMatch(/cap of 1; 2 more would pass it/);
    expect(ledgers(t)).toBe(before);
    // A nice value for agents that no system has.
    t.settings((s) => {
      s.scheduler = { ...s.scheduler, max_polecats_per_rig: 25, agent_nice: 25 };
    });
    const badNice = t.gt(['sling', open, t.rig]);
    expect(badNice.code).toBe(1);
    expect(badNice.stderr).toMatch(/scheduler.agent_nice must be a whole number from 0 to 19, not 25/);
    expect(ledgers(t)).toBe(before);
    t.settings((s) => {
      delete s.scheduler.agent_nice;
    });

    // --force slings the town's bead to the rig.
    t.settings((s) => {
      s.scheduler = { ...s.scheduler, max_polecats_per_rig: 25 };
    });
    const forced = t.gt(['sling', hq, t.rig, '--force', '--json']);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    const slung = JSON.parse(forced.stdout) as { polecat: string }[];
    const bead = await waitFor(() => {
      const b = t.bdJson<{ status: string; assignee?: string }[]>(['show', hq])[0]!;
      return b.status === 'closed' ? b : undefined;
    }, 90_000, 'the forced bead to merge');
    expect(bead.assignee).toBe(`${t.rig}/polecats/${slung[0]!.polecat}`);
    expect(t.remoteFiles()).toContain(`${hq}.txt`);
  });

  it('gt done: refused outside a polecat worktree, with a bad --status, and with no commits; a hooked bead is not slung twice; hook/prime/whoami in the worktree; unsling stops the agent', async () => {
    const t = town();
    const outside = t.gt(['done']);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/works only inside a polecat's worktree/);
    const inRig = t.gt(['done'], { cwd: join(t.root, t.rig) });
    expect(inRig.code).toBe(1);
    expect(inRig.stderr).toMatch(/works only inside a polecat's worktree/);

    // A hanging agent keeps the polecat busy while we act in its worktree as a person would.
    const id = t.create('Hold the hook', 'hang-always');
    // No convoy: one would hand the bead out again right after `gt unsling` (that is its job).
    const slung = JSON.parse(t.gt(['sling', id, t.rig, '--no-convoy', '--json']).stdout) as { polecat: string; worktree: string; branch: string }[];
    const { polecat, worktree, branch } = slung[0]!;
    await waitFor(() => sessionsOf(t.agentLog, id).length > 0, 60_000, 'the agent to start');
    const session = `${t.prefix}-${polecat}`;
    const tmuxHas = () => spawnSync('tmux', ['-L', t.env.GT_TMUX_SOCKET!, 'has-session', '-t', `=${session}`], { stdio: 'ignore' }).status === 0;
    expect(tmuxHas()).toBe(true);

    const twice = t.gt(['sling', id, t.rig]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(new RegExp(`${id} is already on the hook of ${t.rig}/polecats/${polecat}[\\s\\S]*gt unsling`));

    const badStatus = t.gt(['done', '--status', 'FINISHED'], { cwd: worktree });
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/--status must be one of COMPLETED, ESCALATED, DEFERRED/);
    const before = ledgers(t);
    const noCommits = t.gt(['done'], { cwd: worktree });
    expect(noCommits.code).toBe(1);
    expect(noCommits.stderr).toMatch(/no commits ahead of origin\/main[\s\S]*hint: commit your work first/);
    expect(ledgers(t)).toBe(before);
    expect(t.bead(id).status).toBe('hooked');

    const hook = JSON.parse(t.gt(['hook', '--json'], { cwd: worktree }).stdout) as { agent: string; role: string; bead: { id: string }; branch: string };
    expect(hook).toMatchObject({ agent: `${t.rig}/polecats/${polecat}`, role: 'polecat', branch });
    expect(hook.bead.id).toBe(id);
    const who = t.gt(['whoami', '--json'], { cwd: join(worktree) });
    expect(JSON.parse(who.stdout)).toMatchObject({ role: 'polecat', rig: t.rig, name: polecat, source: 'cwd' });
    const prime = t.gt(['prime'], { cwd: worktree });
    expect(prime.code).toBe(0);
    expect(prime.stdout).toContain(`you are ${t.rig}/polecats/${polecat} (polecat)`);
    expect(prime.stdout).toContain(id);
    expect(prime.stdout).toMatch(/## Checklist \(mol-polecat-work\)/);
    expect(prime.stdout).toContain(`Read the hook for ${id}`);
    expect(git(worktree, 'rev-parse', '--abbrev-ref', 'HEAD').trim()).toBe(branch);

    // A polecat that works a bead cannot be given another by name; nothing changes.
    const other = t.create('Wants the same polecat');
    // (The hanging session may be restarted meanwhile, which notes it on the hooked bead: compare the rest.)
    const untouched = () => [readFileSync(join(t.root, '.beads', 'issues.jsonl'), 'utf8'), JSON.stringify(t.bead(other))];
    const beforeTaken = untouched();
    const taken = t.gt(['sling', other, `${t.rig}/${polecat}`]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(new RegExp(`polecat ${t.rig}/${polecat} is taken: it works ${id}`));
    expect(untouched()).toEqual(beforeTaken);

    const un = t.gt(['unsling', id, '--json']);
    expect(un.stderr).toBe('');
    expect(JSON.parse(un.stdout)).toMatchObject({ bead: id, from: `${t.rig}/polecats/${polecat}`, status: 'open' });
    const list = await waitFor(() => {
      const l = JSON.parse(t.gt(['polecat', 'list', t.rig, '--json']).stdout) as { name: string; state: string; sessionAlive: boolean }[];
      return l.find((p) => p.name === polecat && p.state === 'idle' && !p.sessionAlive);
    }, 30_000, 'the unslung polecat to stop its session');
    expect(list).toBeDefined();
    // The session itself is gone from the town's tmux server, not just marked so.
    expect(tmuxHas()).toBe(false);
    const again = t.gt(['unsling', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not on a hook/);

    const nuke = t.gt(['polecat', 'nuke', `${t.rig}/${polecat}`, '--json']);
    expect(nuke.stderr).toBe('');
    expect(nuke.code).toBe(0);
    expect(JSON.parse(t.gt(['polecat', 'list', t.rig, '--json']).stdout)).toEqual([]);
  });
});
