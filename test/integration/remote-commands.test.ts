import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { PROJECT, runCli, tempDir } from '../helpers/cli.js';
import { waitFor } from '../helpers/town.js';
import { gtJson, mergesOf, townEvents, waitClosed } from './convoy-helpers.js';
import { makeRigTown, SCRIPTED_AGENT, townsWithWorkers, type RigTown } from './polecat-helpers.js';

/**
 * Agents on a host without the town folder: with GT_TOWN_REMOTE (and no GT_ROOT that is there),
 * `gt`/`bd` send the agent commands to the town through the engine, where the town's worker runs
 * them in the town folder. Here the "host" is a folder outside the town with nothing pointing at
 * it but the town's name and the engine's address; the netns suite hides the town folder for real.
 */

const { towns, workers } = townsWithWorkers('far');

/** `bin args` as an agent of `t` on another host: cwd outside the town, no GT_ROOT, only the town's name and the engine. */
function remote(t: RigTown, bin: 'gt' | 'bd', args: string[], env: Record<string, string> = {}) {
  return runCli(bin, args, {
    cwd: tempDir('gt-remote-host-'),
    env: { GT_TOWN_REMOTE: townName(t), TEMPORAL_ADDRESS: inject('temporalAddress'), GT_TASK_QUEUE: t.env.GT_TASK_QUEUE!, BD_ACTOR: `${t.rig}/polecats/remote`, GT_RIG: t.rig, ...env },
  });
}

function townName(t: RigTown): string {
  return (JSON.parse(readFileSync(join(t.root, 'mayor', 'town.json'), 'utf8')) as { name: string }).name;
}

const ledgerOf = (t: RigTown) => join(t.root, t.rig, '.beads', 'issues.jsonl');

describe('agent commands through the engine (GT_TOWN_REMOTE)', { timeout: 240_000 }, () => {
  it('bd create/show/update/comments/close and gt mail reach the town ledger; one call id applies once; other commands are refused, nothing changed', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);

    const created = remote(t, 'bd', ['create', 'Made on another host', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    expect(id.startsWith(`${t.prefix}-`)).toBe(true);
    // Written in the town's ledger, by the agent.
    expect(t.bead(id).title).toBe('Made on another host');
    expect(remote(t, 'bd', ['update', id, '--status', 'in_progress']).code).toBe(0);
    expect(remote(t, 'bd', ['comments', 'add', id, 'from afar']).code).toBe(0);
    const shown = remote(t, 'bd', ['show', id, '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    const bead = (JSON.parse(shown.stdout) as { status: string; comments: { author: string; text: string }[] }[])[0]!;
    expect(bead.status).toBe('in_progress');
    expect(bead.comments.map((c) => [c.author, c.text])).toContainEqual([`${t.rig}/polecats/remote`, 'from afar']);
    expect(remote(t, 'bd', ['ready', '--json']).code).toBe(0);
    expect(remote(t, 'bd', ['close', id, '--reason', 'done remotely']).code).toBe(0);
    expect(t.bead(id).status).toBe('closed');

    const sent = remote(t, 'gt', ['mail', 'send', 'mayor', '-s', 'hello from afar', '-m', 'a body', '--json']);
    expect(sent.code, sent.stderr).toBe(0);
    expect(gtJson<{ subject: string; from: string }[]>(t, ['mail', 'inbox', '--identity', 'mayor']).map((m) => [m.from, m.subject])).toContainEqual([`${t.rig}/polecats/remote`, 'hello from afar']);

    // The same call id twice (a retry after the answer was lost): run once, the same answer.
    const key = { GT_CALL_ID: `test-${Math.random().toString(36).slice(2)}` };
    const first = remote(t, 'bd', ['create', 'Once only', '--json'], key);
    const again = remote(t, 'bd', ['create', 'Once only', '--json'], key);
    expect(first.code).toBe(0);
    expect(again.stdout).toBe(first.stdout);
    const once = readFileSync(ledgerOf(t), 'utf8').split('\n').filter((l) => l.includes('"Once only"'));
    expect(once).toHaveLength(1);

    // Bad input: refused before anything is sent, and by the town whoever sends it; nothing changed.
    const before = readFileSync(ledgerOf(t));
    const refused = remote(t, 'gt', ['sling', id, t.rig]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('error: `gt sling ');
    expect(refused.stderr).toContain('is not a command an agent can run on a host without the town folder');
    expect(refused.stderr).toContain('hint: on a host without the town folder (GT_TOWN_REMOTE=');
    expect(refused.stderr).toContain('bd show, bd ready, bd create');
    const del = remote(t, 'bd', ['delete', id]);
    expect(del.code).toBe(2);
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const run = client.workflow.execute('townCommandWorkflow', {
        workflowId: `cmd/${townName(t)}/bad-${Math.random().toString(36).slice(2)}`,
        taskQueue: t.env.GT_TASK_QUEUE!,
        args: [{ bin: 'gt', args: ['down'], env: {} }, { write: true }],
      });
      const err = await run.then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      // The activity's failure (its cause) names the refusal.
      const failure = ((err as WorkflowFailedError).cause as Error & { cause?: Error }).cause!;
      expect(failure.message).toContain('`gt down` is not a command an agent can run');
      expect((failure as Error & { type?: string }).type).toBe('RefusedCommand');
    } finally {
      await connection.close();
    }
    expect(t.gt(['status']).code).toBe(0);
    expect(readFileSync(ledgerOf(t)).equals(before)).toBe(true);

    // A town the engine does not know, and no engine address: clear errors, nothing sent.
    const unknown = remote(t, 'bd', ['show', id], { GT_TOWN_REMOTE: 'no-such-town' });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: town "no-such-town" is not running on the engine at');
    const noAddress = runCli('bd', ['show', id], { cwd: tempDir(), env: { GT_TOWN_REMOTE: townName(t) } });
    expect(noAddress.code).toBe(2);
    expect(noAddress.stderr).toContain('needs the engine\'s address');
    expect(readFileSync(ledgerOf(t)).equals(before)).toBe(true);
  });

  it('a convoy whose agents see no town folder (GT_ROOT gone): gt hook and gt done go through the engine, each bead merged once', async () => {
    const t = makeRigTown();
    towns.push(t);
    // The agent's sandbox: the town's variables say where the town is, but its folder is not there.
    const wrapper = join(tempDir('gt-sandbox-'), 'sandboxed-agent.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexport GT_ROOT=/nonexistent/town\nexec "${process.execPath}" "${SCRIPTED_AGENT}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    expect(t.gt(['config', 'agent', 'set', 'sandboxed', wrapper]).code).toBe(0);
    expect(t.gt(['config', 'default-agent', 'sandboxed']).code).toBe(0);
    const ids = [t.create('Remote one'), t.create('Remote two')];
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'Through the engine', ...ids]);
    await waitClosed(t, convoy);
    for (const id of ids) {
      expect(t.bead(id).status).toBe('closed');
      expect(mergesOf(t.remote, id)).toBe(1);
    }
    // Every gt call of those agents was a town command: the engine has one per call.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    try {
      const client = new Client({ connection });
      const runs: string[] = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = 'townCommandWorkflow' AND WorkflowId STARTS_WITH 'cmd/${townName(t)}/'` })) runs.push(w.workflowId);
      // gt hook and gt done for each bead at least.
      expect(runs.length).toBeGreaterThanOrEqual(2 * ids.length);
    } finally {
      await connection.close();
    }
  });

  it('a rig host without the town folder (gt worker --town --home): its rig cloned from the remote, a convoy lands, each bead merged once, the ledgers only in the town', async () => {
    const t = makeRigTown();
    towns.push(t);
    expect(t.gt(['up']).code).toBe(0);
    expect(t.gt(['rig', 'run-on', t.rig, 'workers']).code).toBe(0);
    const home = join(tempDir('gt-rig-host-'), 'home');
    const env = { GT_TASK_QUEUE: t.env.GT_TASK_QUEUE!, GT_TMUX_SOCKET: t.env.GT_TMUX_SOCKET! };
    const address = inject('temporalAddress');
    // Bad input: refused by the town, nothing made here.
    const unknown = runCli('gt', ['worker', '--town', townName(t), '--home', home, '--rig', 'nope', '--address', address], { cwd: tempDir(), env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unknown rig "nope"');
    expect(unknown.stderr).toContain(`hint: the rigs of this town: ${t.rig}`);
    const noTown = runCli('gt', ['worker', '--town', 'no-such-town', '--home', home, '--address', address], { cwd: tempDir(), env });
    expect(noTown.code).toBe(1);
    expect(noTown.stderr).toContain('error: town "no-such-town" is not running on the engine');
    expect(existsSync(home)).toBe(false);

    let out = '';
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(GT_|BD_|TEMPORAL_)/.test(k)) clean[k] = v;
    const worker = spawn(process.execPath, [join(PROJECT, 'bin', 'gt.js'), 'worker', '--town', townName(t), '--home', home, '--host', 'far', '--address', address], { cwd: tempDir(), env: { ...clean, ...env } });
    worker.stdout!.on('data', (d) => (out += d));
    worker.stderr!.on('data', (d) => (out += d));
    workers.push(worker);
    await waitFor(() => out.includes('polling'), 90_000, 'the rig host to poll');
    const ids = [t.create('Far one'), t.create('Far two')];
    const { convoy } = gtJson<{ convoy: string }>(t, ['convoy', 'create', 'From afar', ...ids]);
    await waitClosed(t, convoy);
    for (const id of ids) {
      expect(t.bead(id).status).toBe('closed');
      expect(mergesOf(t.remote, id)).toBe(1);
    }
    // The work was done in the rig host's home: its clone and worktrees; no ledger there, no worktree in the town.
    expect(existsSync(join(home, t.rig, '.repo.git'))).toBe(true);
    expect(existsSync(join(home, t.rig, '.beads'))).toBe(false);
    expect(existsSync(join(home, '.beads'))).toBe(false);
    expect(readdirSync(join(home, t.rig, 'polecats')).length).toBeGreaterThan(0);
    expect(readdirSync(join(t.root, t.rig, 'polecats'))).toEqual([]);
    // Its sessions' events are in the town's stream too, naming the host, once each.
    for (const id of ids) {
      await waitFor(() => townEvents(t).some((e) => e.type === 'session.exit' && e.bead === id), 30_000, `the session end of ${id} in the town's events`);
      expect(townEvents(t).filter((e) => e.type === 'session.start' && e.bead === id).map((e) => e.host)).toEqual(['far']);
    }
  });
});
