// One crash trial (shared by `npm run bench -- chaos` and test/integration/chaos.test.ts; not a
// benchmark itself: the dispatcher skips files starting with "_"). A town with its own embedded
// engine gets a convoy of beads with dependencies (a seeded random DAG), worked by the scripted
// agent; at a random moment one fault strikes: kill -9 of the worker, of the Temporal server, of
// both, of the town's rig worker (the worker's child that runs the rig's refinery and agents; the
// worker starts it again, nobody runs `gt up`), or of a running agent's process group. Then, as a
// user would, `gt up`. The trial waits
// for the convoy to land and judges by content on the remote's main branch: each bead's work is
// there exactly once, and no bead was merged before a bead it depends on.
//
// Run alone: node bench/_chaos.mjs <worker|server|both|rigs|agent> [seed] [beads]  → one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchTown, git, project, statuses } from './_town.mjs';

export const FAULTS = ['worker', 'server', 'both', 'rigs', 'agent'];
const { findTemporalCli } = await import(join(project, 'dist', 'temporal', 'binary.js'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A small seeded generator, so a trial can be run again exactly. */
function random(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pidIn(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function kill9(pid, group = false) {
  try {
    process.kill(group ? -pid : pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** Merge commits on main, oldest first: subject "<bead>: ..." → commit index. */
function mergesOnMain(remote) {
  const out = git(remote, 'log', '--reverse', '--format=%s', 'main').split('\n').filter(Boolean);
  return out;
}

export async function chaosTrial({ fault, seed = Date.now() % 100000, beads: count = 8, timeoutMs = 300_000 } = {}) {
  if (!FAULTS.includes(fault)) throw new Error(`unknown fault "${fault}"; one of ${FAULTS.join(', ')}`);
  const rnd = random(seed);
  const town = await benchTown(`chaos${fault}`, (s) => {
    s.thresholds = { ...s.thresholds, heartbeat_timeout: '5s', stall_timeout: '20s', nudge_grace: '5s', max_attempts: 3 };
  });
  town.env.SCRIPTED_AGENT_SLOW_MS = '2000';
  const result = { fault, seed, beads: count, landed: false, lost: 0, twice: 0, redone: 0, outOfOrder: 0, landingMs: undefined, recoveryMs: undefined, faultAtMs: undefined, note: '' };
  try {
    town.gt(['up']);
    const ids = [];
    const deps = new Map();
    for (let i = 0; i < count; i++) {
      const id = town.create(`Chaos ${i}`, rnd() < 0.5 ? 'slow' : 'ok');
      const mine = ids.filter(() => rnd() < 0.25).slice(0, 2);
      deps.set(id, mine);
      ids.push(id);
    }
    const bd = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'bd.js');
    for (const [id, mine] of deps) {
      for (const d of mine) {
        const r = spawnSync(process.execPath, [bd, 'dep', 'add', id, d], { cwd: join(town.root, 'bench'), env: town.env, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`bd dep add ${id} ${d}: ${r.stderr}`);
      }
    }
    const started = Date.now();
    const convoy = JSON.parse(town.gt(['convoy', 'create', `chaos ${fault} ${seed}`, ...ids, '--json'])).convoy;
    const hq = join(town.root, '.beads', 'issues.jsonl');

    // The fault, at a random moment while the convoy works.
    await sleep(1000 + Math.floor(rnd() * 9000));
    const run = join(town.root, '.gt', 'run');
    const faultAt = Date.now();
    result.faultAtMs = faultAt - started;
    const mainBefore = git(town.remote, 'rev-parse', 'main').trim();
    if (fault === 'worker' || fault === 'both') kill9(pidIn(join(run, 'worker.pid')));
    if (fault === 'server' || fault === 'both') kill9(pidIn(join(run, 'temporal.pid')));
    if (fault === 'rigs') {
      kill9(pidIn(join(run, 'worker-rigs.pid')));
    } else if (fault === 'agent') {
      const dir = join(run, 'polecats', 'bench');
      const agents = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.agent.pid')).map((f) => pidIn(join(dir, f))).filter(Boolean) : [];
      const victim = agents[Math.floor(rnd() * agents.length)];
      result.note = victim ? `killed agent group ${victim}` : 'no agent was running';
      if (victim) kill9(victim, true);
    } else {
      await sleep(500);
      // What a user does after a crash.
      town.gt(['up']);
    }

    // Recovery: the first merge on main after the fault (when work was left to merge).
    const deadline = started + timeoutMs;
    let recovered;
    for (;;) {
      const now = Date.now();
      if (recovered === undefined && git(town.remote, 'rev-parse', 'main').trim() !== mainBefore) recovered = now;
      if (statuses(hq).get(convoy) === 'closed') break;
      if (now > deadline) {
        result.note += ` convoy did not land in ${timeoutMs / 1000}s`;
        break;
      }
      await sleep(200);
    }
    const landedAt = Date.now();
    // What the convoy's run kept in its history (compact state and messages, no ledger snapshots).
    try {
      const port = JSON.parse(readFileSync(join(town.root, 'settings', 'config.json'), 'utf8')).temporal.grpc_port;
      const shown = spawnSync(findTemporalCli(), ['workflow', 'show', '--address', `127.0.0.1:${port}`, '-w', convoy, '-o', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (shown.status === 0) result.historyBytes = Buffer.byteLength(JSON.stringify(JSON.parse(shown.stdout)));
    } catch {
      // measured when the CLI can tell
    }
    result.landed = statuses(hq).get(convoy) === 'closed';
    if (result.landed) result.landingMs = landedAt - started;
    if (recovered !== undefined) result.recoveryMs = recovered - faultAt;

    // By content, on the remote: each bead's work in the tree, merged once, dependencies first.
    // "Merged twice": main received the bead's work in two merges (the refinery's merge notes name
    // distinct commits). "Redone": the bead's work was committed by more than one agent session
    // (an agent that died after committing; from an engine fault this is lost time).
    const subjects = mergesOnMain(town.remote);
    const tree = new Set(git(town.remote, 'ls-tree', '--name-only', 'main').split('\n').filter(Boolean));
    const ledger = new Map(readFileSync(join(town.root, 'bench', '.beads', 'issues.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((b) => [b.id, b]));
    const position = new Map();
    result.redone = 0;
    for (const id of ids) {
      const at = subjects.map((s, i) => (s.startsWith(`${id}:`) ? i : -1)).filter((i) => i >= 0);
      if (at.length === 0 || !tree.has(`${id}.txt`)) result.lost += 1;
      const merges = new Set((ledger.get(id)?.comments ?? []).map((c) => /^Merged into \S+ as ([0-9a-f]+)/.exec(c.text)?.[1]).filter(Boolean));
      if (merges.size > 1) result.twice += 1;
      if (at.length > 1) result.redone += 1;
      if (at.length) position.set(id, at[0]);
    }
    for (const [id, mine] of deps) {
      for (const d of mine) if (position.has(id) && position.has(d) && position.get(d) > position.get(id)) result.outOfOrder += 1;
    }
    return result;
  } finally {
    town.down();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [fault, seed, beads] = process.argv.slice(2);
  const r = await chaosTrial({ fault, seed: seed ? Number(seed) : undefined, beads: beads ? Number(beads) : undefined });
  process.stdout.write(JSON.stringify(r) + '\n');
}
