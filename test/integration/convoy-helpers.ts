import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { PROJECT } from '../helpers/cli.js';
import { fetchHistory, maybeRecordHistory } from '../helpers/histories.js';
import { git, makeRemote, waitFor } from '../helpers/town.js';
import { makeRigTown, type Bead, type RigTown } from './polecat-helpers.js';

/** A second rig (own bare remote, own prefix) in a test town. */
export function addRig(t: RigTown, name: string, prefix: string): { rig: string; prefix: string; remote: string } {
  const remote = makeRemote({ 'README.md': `# ${name}\n` });
  const r = t.gt(['rig', 'add', name, remote, '--prefix', prefix]);
  if (r.code !== 0) throw new Error(`gt rig add ${name} failed: ${r.stderr}`);
  return { rig: name, prefix, remote };
}

/** Create a bead in a rig's ledger: with a mode label for the scripted agent, a parent, blockers. */
export function createIn(t: RigTown, rig: string, title: string, opts: { mode?: string; parent?: string; deps?: string[]; type?: string } = {}): string {
  const args = ['create', title, '--json'];
  if (opts.mode) args.push('-l', `agent:${opts.mode}`);
  if (opts.parent) args.push('--parent', opts.parent);
  if (opts.type) args.push('-t', opts.type);
  const r = t.bd(args, { cwd: join(t.root, rig) });
  if (r.code !== 0) throw new Error(`bd create failed: ${r.stderr}`);
  const id = (JSON.parse(r.stdout) as { id: string }).id;
  for (const d of opts.deps ?? []) {
    const dep = t.bd(['dep', 'add', id, d], { cwd: join(t.root, rig) });
    if (dep.code !== 0) throw new Error(`bd dep add ${id} ${d} failed: ${dep.stderr}`);
  }
  return id;
}

export function gtJson<T>(t: RigTown, args: string[]): T {
  const r = t.gt([...args, '--json']);
  if (r.code !== 0) throw new Error(`gt ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function convoyBead(t: RigTown, id: string): Bead & { close_reason?: string } {
  return t.bdJson<(Bead & { close_reason?: string })[]>(['show', id])[0]!;
}

export async function waitClosed(t: RigTown, id: string, timeoutMs = 180_000): Promise<void> {
  await waitFor(() => convoyBead(t, id).status === 'closed', timeoutMs, `${id} to close`);
}

/** When a bead was slung (each "slung to" comment) and when it closed. */
export function slungTimes(bead: Bead): number[] {
  const comments = (bead.comments ?? []) as { text: string; created_at?: string }[];
  return comments.filter((c) => c.text.startsWith('slung to ')).map((c) => Date.parse(c.created_at!));
}

export function mergesOf(remote: string, id: string): number {
  return git(remote, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith(`${id}:`)).length;
}

export function mayorMail(t: RigTown): { subject: string; body: string; from: string }[] {
  const r = t.gt(['mail', 'inbox', '--identity', 'mayor', '--json']);
  if (r.code !== 0) throw new Error(`gt mail inbox failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export function townEvents(t: RigTown): Record<string, unknown>[] {
  try {
    return readFileSync(join(t.root, '.gt', 'events.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** A workflow's history (a convoy's, a dispatcher's) replays against the current bundle; kept as a fixture when recording. */
export async function replayConvoy(id: string, fixture: string): Promise<void> {
  maybeRecordHistory(id, fixture);
  await Worker.runReplayHistory({ workflowBundle: { codePath: join(PROJECT, 'dist', 'workflow-bundle.js') }, replayName: id }, fetchHistory(id));
}

export { makeRigTown, type RigTown };
