// `npm run bench -- mountain [--beads=200] [--width=20] [--agent-nice=N] [--rig-host]`: a mountain of one epic whose children
// form a random DAG (layers about `width` wide, each bead waiting for one to three beads of earlier
// layers), worked by scripted agents in one rig: wall time from `gt mountain` until it lands,
// beads per minute, dispatch latency (a bead's last blocker closing → the bead slung: p50/p95/max,
// both times read from the ledger), and lost or duplicated work (beads not merged exactly once,
// slung more than once, or run by more than one agent session: must be 0). A fresh town with its
// own embedded Temporal dev server. `--rig-host`: the rig runs on a `gt worker --rig bench`
// process of its own (polecats and the merge queue), the town's worker keeping the convoy and the
// dispatcher. Writes bench/results/mountain.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bdBin, benchTown, cli, cpuAccount, git, loadAverage, machineLine, project } from './_town.mjs';

function beads(ledgerFile) {
  const out = new Map();
  for (const line of readFileSync(ledgerFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const b = JSON.parse(line);
      if (b.id) out.set(b.id, b);
    } catch {
      // a line being written
    }
  }
  return out;
}

/** A seeded generator, so every run works the same graph. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run(argv = []) {
  const arg = (name, dflt) => {
    const i = argv.indexOf(`--${name}`);
    const eq = argv.find((a) => a.startsWith(`--${name}=`));
    return Number(eq ? eq.split('=')[1] : i >= 0 ? argv[i + 1] : dflt);
  };
  const n = arg('beads', 200);
  const agentNice = arg('agent-nice', NaN);
  const width = arg('width', 20);
  const town = await benchTown('mountain', (settings) => {
    settings.scheduler = { ...settings.scheduler, max_polecats_per_rig: Math.max(40, width * 2), ...(Number.isFinite(agentNice) ? { agent_nice: agentNice } : {}) };
    settings.thresholds = { ...settings.thresholds, heartbeat_timeout: '60s', stall_timeout: '10m', nudge_grace: '2m' };
  });
  const { root, env } = town;

  process.stdout.write(`  creating an epic of ${n} beads (layers about ${width} wide) ... `);
  const rigDir = join(root, 'bench');
  const epic = JSON.parse(cli(bdBin, ['create', 'Bench epic', '-t', 'epic', '--json'], rigDir, env)).id;
  const random = rng(42);
  const ids = [];
  const deps = new Map();
  for (let i = 0; i < n; i++) {
    const layer = Math.floor(i / width);
    const earlier = ids.slice(0, layer * width);
    const want = layer === 0 ? 0 : 1 + Math.floor(random() * 3);
    const mine = new Set();
    // Mostly the previous layer, sometimes further back: a DAG about `width` wide.
    for (let k = 0; k < want; k++) {
      const from = random() < 0.8 ? Math.max(0, (layer - 1) * width) : 0;
      mine.add(earlier[from + Math.floor(random() * (earlier.length - from))]);
    }
    const args = ['create', `Bench part ${i}`, '--parent', epic, '--json'];
    if (mine.size) args.push('--deps', [...mine].join(','));
    const id = JSON.parse(cli(bdBin, args, rigDir, env)).id;
    ids.push(id);
    deps.set(id, [...mine]);
  }
  process.stdout.write('done\n');

  town.gt(['up']);
  if (argv.includes('--rig-host')) await town.rigHosts(1);
  const ledger = join(rigDir, '.beads', 'issues.jsonl');
  const loadBefore = loadAverage();
  const account = cpuAccount(town);
  const cpu0 = account.snap();
  const t0 = Date.now();
  const started = JSON.parse(town.gt(['mountain', epic, '--json']));
  const convoy = started.convoy;
  const waves = started.plan.waves.length;
  const timeoutMs = 30 * 60_000;
  let done = 0;
  let lastReport = 0;
  for (;;) {
    const st = beads(ledger);
    done = ids.filter((id) => ['closed', 'blocked'].includes(st.get(id)?.status)).length;
    const hq = beads(join(root, '.beads', 'issues.jsonl'));
    if ((done === n && hq.get(convoy)?.status === 'closed') || Date.now() - t0 > timeoutMs) break;
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${done}/${n} done\n`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const wallMs = Date.now() - t0;
  const cpu = account.since(cpu0);
  const cores = (await import('node:os')).cpus().length;
  const agentsCpu = town.agentCpuMs().reduce((a, b) => a + b, 0) / 1000;
  const loadAfter = loadAverage();

  const st = beads(ledger);
  // Where a bead's time goes, from the town's event stream (first event of each kind per bead).
  const firstAt = new Map();
  for (const line of readFileSync(join(root, '.gt', 'events.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    if (!e.bead) continue;
    const key = `${e.type} ${e.bead}`;
    if (!firstAt.has(key)) firstAt.set(key, Date.parse(e.at));
  }
  const at = (type, id) => firstAt.get(`${type} ${id}`);
  const span = (from, to) => ids.map((id) => (to(id) ?? NaN) - (from(id) ?? NaN)).filter(Number.isFinite).sort((a, b) => a - b);
  const closedAt = (id) => Date.parse(st.get(id)?.closed_at ?? 'x');
  const phases = [
    ['sling → session start (worktree, tmux)', span((id) => at('sling', id), (id) => at('session.start', id))],
    ['session start → `gt done` (the agent)', span((id) => at('session.start', id), (id) => at('done', id))],
    ['`gt done` → merged and closed (the merge queue)', span((id) => at('done', id), closedAt)],
    ['closed → its convoy told (merge.merged event)', span(closedAt, (id) => at('merge.merged', id))],
  ];
  const subjects = git(town.remote, 'log', '--format=%s', 'main').split('\n');
  let sessionLines = [];
  try {
    sessionLines = readFileSync(town.sessionsLog, 'utf8').split('\n').filter(Boolean);
  } catch {
    sessionLines = [];
  }
  const latencies = [];
  let lost = 0;
  let duplicated = 0;
  for (const id of ids) {
    const b = st.get(id);
    const merges = subjects.filter((s) => s.startsWith(`${id}:`)).length;
    const slings = (b?.comments ?? []).filter((c) => c.text.startsWith('slung to '));
    const sessions = sessionLines.filter((l) => l.startsWith(`${id} `)).length;
    if (b?.status !== 'closed' || merges === 0) lost++;
    if (merges > 1 || slings.length > 1 || sessions > 1) duplicated++;
    const blockers = deps.get(id);
    if (blockers.length && slings.length) {
      const ready = Math.max(...blockers.map((d) => Date.parse(st.get(d)?.closed_at ?? 'x')));
      const slung = Date.parse(slings[0].created_at);
      if (Number.isFinite(ready) && Number.isFinite(slung)) latencies.push(slung - ready);
    }
  }
  latencies.sort((a, b) => a - b);
  const status = JSON.parse(town.gt(['mountain', 'status', convoy, '--json']));
  town.down();

  const row = {
    beads: n,
    waves,
    wall: (wallMs / 1000).toFixed(1),
    perMin: ((n - lost) / (wallMs / 60_000)).toFixed(1),
    p50: pct(latencies, 50),
    p95: pct(latencies, 95),
    max: latencies.at(-1),
    lost,
    duplicated,
  };
  const header = ['beads', 'waves', 'gt mountain → landed (s)', 'beads/min', 'dispatch latency p50 (ms)', 'p95 (ms)', 'max (ms)', 'lost', 'duplicated', 'mountain status'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    `| ${[row.beads, row.waves, row.wall + (done < n ? ' (timed out)' : ''), row.perMin, row.p50, row.p95, row.max, row.lost, row.duplicated, status.status].join(' | ')} |`,
  ].join('\n');
  console.log(table);
  const parts = [
    ['agent sessions (scripted agent, its `gt hook`, git, `gt done`)', agentsCpu],
    ['worker (every workflow and activity) and its launcher', cpu.worker],
    ['commands the worker started (git, tmux clients)', cpu.commands],
    ['Temporal server', cpu.server],
    ['everything else (the tmux server, the sessions\' shells, this benchmark, other work on the machine)', cpu.busy - agentsCpu - cpu.worker - cpu.commands - cpu.server],
  ];
  const cpuRows = [
    `| the machine, busy | ${cpu.busy.toFixed(1)} | ${(cpu.busy / n).toFixed(2)} | ${((cpu.busy / ((cores * wallMs) / 1000)) * 100).toFixed(0)}% of ${cores} cores × the wall time |`,
    ...parts.map(([name, sec]) => `| ${name} | ${sec.toFixed(1)} | ${(sec / n).toFixed(2)} | ${((sec / cpu.busy) * 100).toFixed(0)}% |`),
  ].join('\n');
  console.log(cpuRows);
  const phaseRows = phases.map(([name, xs]) => `| ${name} | ${(pct(xs, 50) / 1000).toFixed(2)} | ${(pct(xs, 95) / 1000).toFixed(2)} |`).join('\n');
  console.log(phaseRows);
  const md = `# bench: mountain

One epic of ${n} beads whose dependencies form a random DAG (seeded; layers about ${width} wide,
each bead waiting for one to three beads of earlier layers, mostly the previous one: ${waves} waves),
started with \`gt mountain <epic>\` and worked by scripted agents (test/fixtures/scripted-agent.mjs,
mode ok) in one rig whose refinery merges into a bare remote (batched, adaptive). Timed from
\`gt mountain\` until the mountain lands (every bead closed, convoy closed).

- dispatch latency: for each bead with blockers, the time from its last blocker closing (the
  refinery's close in the ledger) to the bead being slung (the sling's comment in the ledger).
  Target: p95 under 300 ms (issue 12); the epic landed in under 90 s.
- lost: beads not closed with a merge commit on main; duplicated: beads merged more than once,
  slung more than once, or worked by more than one agent session. Both must be 0.
- where a bead's time goes: p50 / p95 of each part of its life, from the town's event stream.

- machine: ${await machineLine()}; load average ${loadBefore} before, ${loadAfter} after
- date: ${new Date().toISOString()}
- command: \`npm run bench -- mountain${argv.filter((a) => a !== 'mountain').length ? ' ' + argv.filter((a) => a !== 'mountain').join(' ') : ''}\`

${table}

| part of a bead's life | p50 (s) | p95 (s) |
|---|---|---|
${phaseRows}

Where the CPU went, from \`gt mountain\` until landed (the machine's busy time from /proc/stat;
the parts from their processes' own counters):

| part | CPU (s) | per bead (s) | share |
|---|---:|---:|---:|
${cpuRows}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'mountain.md'), md);
}
