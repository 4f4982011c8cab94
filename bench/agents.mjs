// `npm run bench -- agents [--sizes 10,30,60,100,200] [--headless]`: N scripted agents slung at
// once to one rig (test_command "true"), sling → every agent's `gt done` → every bead merged into
// the remote: wall times, merges per minute, the merge queue's batches, the worker's CPU time and
// peak memory, agent sessions started, and lost work (beads not merged, or merged other than
// exactly once: must be 0). Each size gets a fresh town with its own embedded Temporal dev
// server. Writes bench/results/agents.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTown, cpuMs, git, loadAverage, machineLine, project, statuses, workerCpuMs, workerMemKb } from './_town.mjs';

/**
 * One size: N agents slung at once, until all are merged. With `opts.cluster` ({ address }), the
 * town is on that cluster and its rig runs on `opts.hosts` rig hosts (`gt worker` processes on
 * this machine), whose worker CPU is measured apiece (`hostCpuMs`).
 */
export async function runSize(n, opts) {
  const town = await benchTown(`agents-${n}`, (settings) => {
    settings.scheduler = { ...settings.scheduler, max_polecats_per_rig: Math.max(n, 25), ...(opts.agentNice !== undefined ? { agent_nice: opts.agentNice } : {}) };
    // Generous: on two cores a hundred agents wait for CPU; only a dead agent should be stopped.
    settings.thresholds = { ...settings.thresholds, heartbeat_timeout: '60s', stall_timeout: '10m', nudge_grace: '2m' };
    // A namespace of its own on the cluster (gt up creates it): workflow ids such as dispatch/bench do not carry the town.
    if (opts.cluster) settings.temporal = { address: opts.cluster.address, namespace: `bench-${n}-${Date.now().toString(36)}` };
  });
  const rigSettingsFile = join(town.root, 'bench', 'settings', 'config.json');
  const rigSettings = JSON.parse(readFileSync(rigSettingsFile, 'utf8'));
  rigSettings.merge_queue = { ...rigSettings.merge_queue, test_command: 'true' };
  writeFileSync(rigSettingsFile, JSON.stringify(rigSettings, null, 2));
  const ids = [];
  for (let i = 0; i < n; i++) ids.push(town.create(`Bench task ${i}`));
  town.gt(['up']);
  const hosts = opts.cluster ? await town.rigHosts(opts.hosts ?? 2) : [];
  const workerPid = town.workerPid();
  const cpu0 = workerCpuMs(workerPid);
  const serverPid = opts.cluster ? undefined : town.serverPid();
  const serverCpu0 = serverPid ? cpuMs(serverPid) : NaN;
  const hostCpu0 = hosts.map((h) => cpuMs(h.pid));
  const ledger = town.ledger;

  const t0 = Date.now();
  town.gt(['sling', ...ids, 'bench', ...(opts.headless ? ['--headless'] : [])]);
  const slingMs = Date.now() - t0;
  let peakRss = 0;
  let done = 0;
  let submittedMs;
  const deadline = t0 + opts.timeoutMs;
  for (;;) {
    peakRss = Math.max(peakRss, workerMemKb(workerPid, 'VmRSS') || 0);
    const st = statuses(ledger);
    done = ids.filter((id) => st.get(id) === 'closed' || st.get(id) === 'blocked').length;
    // After `gt done` a bead is in_progress (in the merge queue) until the refinery closes it.
    if (submittedMs === undefined && ids.every((id) => ['in_progress', 'closed', 'blocked'].includes(st.get(id)))) submittedMs = Date.now() - t0;
    if (done === n || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const wallMs = Date.now() - t0;
  const cpu = workerCpuMs(workerPid) - cpu0;
  const serverCpuMs = serverPid ? cpuMs(serverPid) - serverCpu0 : NaN;
  const agentCpu = town.agentCpuMs().sort((a, b) => a - b);
  const hostCpuMs = hosts.map((h, i) => cpuMs(h.pid) - hostCpu0[i]);
  peakRss = Math.max(peakRss, workerMemKb(workerPid, 'VmHWM') || 0);

  const st = statuses(ledger);
  // Merged once: closed, one "Merged into" note (one merge), its file on main. A bead whose
  // first session's `gt done` failed and whose next session redid the work on top reaches main
  // in one merge of two commits: counted as redone, not lost.
  const subjects = git(town.remote, 'log', '--format=%s', 'main').split('\n');
  const onMain = new Set(git(town.remote, 'ls-tree', '--name-only', 'main').split('\n'));
  const notes = new Map();
  for (const line of readFileSync(ledger, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const b = JSON.parse(line);
    notes.set(b.id, (b.comments ?? []).filter((c) => c.text.startsWith('Merged into')).length);
  }
  const merged = ids.filter((id) => st.get(id) === 'closed' && notes.get(id) === 1 && onMain.has(`${id}.txt`)).length;
  const redone = ids.filter((id) => subjects.filter((s) => s.startsWith(`${id}:`)).length > 1).length;
  const lost = n - merged;
  let sessions = 0;
  try {
    sessions = readFileSync(town.sessionsLog, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    sessions = 0;
  }
  // The merge queue's own pace: merges from its first to its last (the agents' pace aside).
  let queueRate = NaN;
  try {
    const at = readFileSync(join(town.root, '.gt', 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
      .filter((e) => e.type === 'merge.merged').map((e) => Date.parse(e.at)).sort((a, b) => a - b);
    if (at.length > 1) queueRate = ((at.length - 1) / (at.at(-1) - at[0])) * 60_000;
  } catch {
    // no events: the column stays empty
  }
  let queue = {};
  try {
    queue = JSON.parse(town.gt(['mq', 'list', '--json']))[0] ?? {};
  } catch {
    // the queue's numbers are extra; the judgement above is by content
  }
  town.down();
  return {
    n, slingMs, wallMs, submittedMs: submittedMs ?? NaN, mergesPerMin: (merged / wallMs) * 60_000, cpuMs: cpu, hostCpuMs, serverCpuMs,
    agentCpuP50: agentCpu.length ? agentCpu[Math.floor(agentCpu.length / 2)] : NaN, agentCpuTotal: agentCpu.reduce((a, b) => a + b, 0), peakRssMb: peakRss / 1024, sessions, merged, redone, lost, timedOut: done < n,
    batches: queue.batchCount ?? 0, testRuns: queue.testRuns ?? 0, queueRate,
  };
}

export async function run(argv = []) {
  const sizesArg = argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? (argv.includes('--sizes') ? argv[argv.indexOf('--sizes') + 1] : undefined);
  const sizes = (sizesArg ?? '10,30,60,100,200').split(',').map(Number);
  const loadBefore = loadAverage();
  const headless = argv.includes('--headless');
  const niceArg = argv.find((a) => a.startsWith('--agent-nice='))?.slice(13) ?? (argv.includes('--agent-nice') ? argv[argv.indexOf('--agent-nice') + 1] : undefined);
  const agentNice = niceArg === undefined ? undefined : Number(niceArg);
  const rows = [];
  for (const n of sizes) {
    process.stdout.write(`  ${n} agents ... `);
    const r = await runSize(n, { headless, agentNice, timeoutMs: 15 * 60_000 });
    rows.push(r);
    process.stdout.write(`${(r.wallMs / 1000).toFixed(1)} s, ${r.merged}/${n} merged, lost ${r.lost}\n`);
  }
  const loadAfter = loadAverage();
  const header = ['agents', 'sling (s)', 'sling → all gt done (s)', 'sling → all merged (s)', 'merges/min', 'queue merges/min (first → last merge)', 'merge batches', 'worker CPU (s)', 'worker CPU (% of a core)', 'worker peak RSS (MB)', 'server CPU (s)', 'agents\' CPU (s)', 'agent CPU a session, p50 (ms)', 'agent sessions', 'redone by a 2nd session', 'merged once', 'lost'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${[
      r.n,
      (r.slingMs / 1000).toFixed(1),
      (r.submittedMs / 1000).toFixed(1),
      (r.wallMs / 1000).toFixed(1) + (r.timedOut ? ' (timed out)' : ''),
      r.mergesPerMin.toFixed(1),
      Number.isNaN(r.queueRate) ? '' : r.queueRate.toFixed(0),
      r.batches,
      (r.cpuMs / 1000).toFixed(1),
      ((r.cpuMs / r.wallMs) * 100).toFixed(0),
      r.peakRssMb.toFixed(0),
      Number.isNaN(r.serverCpuMs) ? '' : (r.serverCpuMs / 1000).toFixed(1),
      (r.agentCpuTotal / 1000).toFixed(1),
      Number.isNaN(r.agentCpuP50) ? '' : r.agentCpuP50,
      r.sessions,
      r.redone,
      r.merged,
      r.lost,
    ].join(' | ')} |`),
  ].join('\n');
  console.log(table);
  const md = `# bench: agents

N scripted agents (test/fixtures/scripted-agent.mjs, mode ok: read the hook, commit one file,
\`gt done\`) slung at once with one \`gt sling\` to one rig (${headless ? 'headless processes' : 'one tmux session each'}); timed from the
sling until every agent has run \`gt done\` and until every bead is closed by the refinery (merged
into the bare remote's main; the rig's test_command is "true"; the merge queue batches, adaptive).
"merged once" counts beads closed by exactly one merge (one "Merged into" note) with their work
on main; "lost" the others: it must be 0. "redone by a 2nd session" counts beads whose first
session ended without a working \`gt done\` (on a starved machine the engine call can fail) and
whose next session did the work again on top: their one merge carries two commits.
Worker CPU is the user+system time during the run of the worker process (it runs every polecat and
refinery workflow and activity) and of its launcher (the small process it starts its commands
from); peak RSS is their high-water marks added. Server CPU is the embedded Temporal dev server's.
Agents' CPU is what the scripted agent sessions used, each its own process and the commands it
ran (\`gt hook\`, git, \`gt done\`), measured by the agent at its exit (SCRIPTED_AGENT_CPU_LOG);
not counted there: the tmux session and the wrapper shell around it. Each size runs in a fresh town
with its own embedded Temporal dev server.

- machine: ${await machineLine()}; load average ${loadBefore} before, ${loadAfter} after
- date: ${new Date().toISOString()}
- command: \`npm run bench -- agents${argv.filter((a) => a !== 'agents').length ? ' ' + argv.filter((a) => a !== 'agents').join(' ') : ''}\`

${table}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'agents.md'), md);
}
