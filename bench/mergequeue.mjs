// `npm run bench -- mergequeue [--branches 100] [--test-seconds 1]`: a rig's merge queue drains
// N ready branches at once, 5% of them breaking the test and 3% conflicting with main: time to
// drain, merges per minute, test runs spent, and the judgement by content (each culprit and each
// conflicting branch sent back exactly once, no good branch sent back, every good branch on main
// exactly once, in arrival order). Runs the rig's default (adaptive batches) and batch_size = 1
// side by side, each in a fresh town with its own embedded Temporal dev server, on the same branches.
// Writes bench/results/mergequeue.md.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchTown, git, loadAverage, machineLine, project, statuses } from './_town.mjs';

function option(argv, name, fallback) {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return Number(eq.slice(name.length + 3));
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

/** Which branches break the test and which conflict with main: 5% and 3%, spread over the queue. */
function plan(n) {
  const breaking = new Set();
  const conflicting = new Set();
  for (let i = 0; i < Math.round(n * 0.05); i++) breaking.add(Math.floor(((i + 0.5) * n) / Math.round(n * 0.05)));
  for (let i = 0; i < Math.round(n * 0.03); i++) {
    let k = Math.floor(((i + 0.3) * n) / Math.round(n * 0.03));
    while (breaking.has(k)) k++;
    conflicting.add(k);
  }
  return { breaking, conflicting };
}

async function runQueue(label, n, mq, testSeconds) {
  for (const k of ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'GT_TASK_QUEUE', 'GT_TEMPORAL_PORT']) delete process.env[k];
  const town = await benchTown(`mq-${label}`);
  const rigDir = join(town.root, 'bench');
  const runsLog = join(town.base, 'test-runs.log');
  const rigSettingsFile = join(rigDir, 'settings', 'config.json');
  const rigSettings = JSON.parse(readFileSync(rigSettingsFile, 'utf8'));
  rigSettings.merge_queue = {
    ...mq,
    test_command: `echo "$GT_BEADS" >> '${runsLog}'; sleep ${testSeconds}; if grep -q BROKEN *.txt; then echo "BROKEN marker found"; exit 1; fi`,
  };
  writeFileSync(rigSettingsFile, JSON.stringify(rigSettings, null, 2));

  // The branches: one file each, made in a scratch worktree of the rig's repository off main;
  // the conflicting ones change a line of shared.txt that main changes after they branched.
  const { breaking, conflicting } = plan(n);
  const repo = join(rigDir, '.repo.git');
  const scratch = join(town.base, 'scratch');
  const base = git(repo, 'rev-parse', 'refs/remotes/origin/main').trim();
  git(repo, 'worktree', 'add', '-q', '--detach', scratch, base);
  const id = ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost'];
  const shared = Array.from({ length: n }, (_, i) => `line ${i}`);
  writeFileSync(join(scratch, 'shared.txt'), shared.join('\n') + '\n');
  git(scratch, 'add', '-A');
  git(scratch, ...id, 'commit', '-qm', 'shared lines');
  git(scratch, 'push', '-q', 'origin', 'HEAD:main');
  git(repo, 'fetch', '-q', 'origin');
  const start = git(scratch, 'rev-parse', 'HEAD').trim();
  const beads = [];
  const requests = [];
  for (let i = 0; i < n; i++) {
    const bead = town.create(`Queued change ${i}`);
    const branch = `polecat/p${i}/${bead}`;
    git(scratch, 'checkout', '-q', '-B', branch, start);
    writeFileSync(join(scratch, `${bead}.txt`), breaking.has(i) ? `${i}\nBROKEN\n` : `${i}\n`);
    if (conflicting.has(i)) writeFileSync(join(scratch, 'shared.txt'), shared.map((l, j) => (j === i ? `${l} (branch)` : l)).join('\n') + '\n');
    git(scratch, 'add', '-A');
    git(scratch, ...id, 'commit', '-qm', `${bead}: change ${i}`);
    beads.push(bead);
    requests.push({ bead, branch, polecat: `p${i}`, worktree: join(rigDir, 'polecats', `p${i}`), submittedAt: new Date(Date.now() + i).toISOString() });
  }
  git(scratch, 'checkout', '-q', '--detach', start);
  writeFileSync(join(scratch, 'shared.txt'), shared.map((l, j) => (conflicting.has(j) ? `${l} (main)` : l)).join('\n') + '\n');
  git(scratch, 'add', '-A');
  git(scratch, ...id, 'commit', '-qm', 'main moves on');
  git(scratch, 'push', '-q', 'origin', 'HEAD:main');
  // From here on the remote's reflog counts the refinery's pushes to main.
  git(town.remote, 'config', 'core.logAllRefUpdates', 'always');

  town.gt(['up']);
  const { Client, Connection } = await import('@temporalio/client');
  const { submitMergeRequest, queryRefinery } = await import('../dist/refinery/client.js');
  const { engineConfig } = await import('../dist/temporal/config.js');
  const config = engineConfig(town.root);
  const connection = await Connection.connect({ address: config.address });
  const client = new Client({ connection, namespace: config.namespace });

  const t0 = Date.now();
  for (const mr of requests) await submitMergeRequest(client, config, 'bench', mr);
  let q;
  for (;;) {
    q = await queryRefinery(client, 'bench');
    if (q && q.merged + q.rejected >= n) break;
    if (Date.now() - t0 > 30 * 60_000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const drainMs = Date.now() - t0;
  await connection.close();

  // Judged by content: the remote's main, the ledger's comments, the test command's own log.
  const subjects = git(town.remote, 'log', '--format=%s', 'main').trim().split('\n').reverse();
  const st = statuses(town.ledger);
  const rejections = new Map();
  for (const line of readFileSync(town.ledger, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const b = JSON.parse(line);
    rejections.set(b.id, (b.comments ?? []).filter((c) => c.text.startsWith('Merge rejected')).map((c) => c.text));
  }
  const good = beads.filter((_, i) => !breaking.has(i) && !conflicting.has(i));
  const onMain = (b) => subjects.filter((s) => s.startsWith(`${b}:`)).length;
  const goodOnce = good.filter((b) => onMain(b) === 1 && st.get(b) === 'closed').length;
  const goodSentBack = good.filter((b) => rejections.get(b).length > 0).length;
  const order = subjects.filter((s) => /^[a-z]+-[a-z0-9]+: change \d+$/.test(s)).map((s) => Number(s.split(' ').at(-1)));
  const inOrder = order.every((v, i) => i === 0 || v > order[i - 1]);
  const culprits = beads.filter((_, i) => breaking.has(i));
  const conflicts = beads.filter((_, i) => conflicting.has(i));
  const culpritsOnce = culprits.filter((b) => rejections.get(b).length === 1 && /tests failed/.test(rejections.get(b)[0]) && onMain(b) === 0).length;
  const conflictsOnce = conflicts.filter((b) => rejections.get(b).length === 1 && /merge conflict/.test(rejections.get(b)[0]) && onMain(b) === 0).length;
  let testRuns = 0;
  try {
    testRuns = readFileSync(runsLog, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    testRuns = 0;
  }
  const batches = q?.batchCount ?? 0;
  town.down();
  return {
    label,
    n,
    drainMs,
    merged: q?.merged ?? 0,
    mergesPerMin: ((q?.merged ?? 0) / drainMs) * 60_000,
    testRuns,
    batches,
    pushes: git(town.remote, 'reflog', 'show', '--format=%H', 'refs/heads/main').split('\n').filter(Boolean).length,
    goodOnce,
    good: good.length,
    goodSentBack,
    culpritsOnce,
    culprits: culprits.length,
    conflictsOnce,
    conflicts: conflicts.length,
    inOrder,
    timedOut: !q || q.merged + q.rejected < n,
  };
}

export async function run(argv = []) {
  const n = option(argv, 'branches', 100);
  const testSeconds = option(argv, 'test-seconds', 1);
  const loadBefore = loadAverage();
  const rows = [];
  for (const [label, mq] of [
    ['adaptive (default)', {}],
    ['batch_size = 1', { batch_size: 1 }],
  ]) {
    process.stdout.write(`  ${label} ... `);
    const r = await runQueue(label.split(' ')[0].replace(/\W/g, ''), n, mq, testSeconds);
    r.label = label;
    rows.push(r);
    process.stdout.write(`${(r.drainMs / 1000).toFixed(1)} s, ${r.merged} merged, ${r.testRuns} test runs\n`);
  }
  const loadAfter = loadAverage();
  const base = rows[1];
  const header = ['queue', 'drain (s)', 'merges/min', 'test runs', 'batches', 'pushes', 'good merged once', 'good sent back', 'culprits sent back once', 'conflicts sent back once', 'arrival order kept'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${[
      r.label,
      (r.drainMs / 1000).toFixed(1) + (r.timedOut ? ' (timed out)' : ''),
      r.mergesPerMin.toFixed(1),
      r.testRuns,
      r.batches,
      r.pushes,
      `${r.goodOnce}/${r.good}`,
      r.goodSentBack,
      `${r.culpritsOnce}/${r.culprits}`,
      `${r.conflictsOnce}/${r.conflicts}`,
      r.inOrder ? 'yes' : 'NO',
    ].join(' | ')} |`),
  ].join('\n');
  const ratio = `adaptive batches drain ${(base.drainMs / rows[0].drainMs).toFixed(1)}× faster than batch_size = 1 with ${(rows[0].testRuns / base.testRuns * 100).toFixed(0)}% of its test runs`;
  console.log(table);
  console.log(ratio);
  const md = `# bench: mergequeue

${n} branches ready at once in one rig's merge queue (submitted as \`gt done\` does, in one
burst), ${rows[0].culprits} of them (5%) breaking the test (a \`BROKEN\` marker the test command
greps for) and ${rows[0].conflicts} (3%) conflicting with main (main changed their line after they
branched). The test command takes ${testSeconds} s. Timed from the first request until the queue
has merged or sent back all of them. Judged by content: "good merged once" counts good branches
on the remote's main exactly once with their bead closed; "culprits/conflicts sent back once"
count breaking/conflicting branches with exactly one rejection comment of the right kind and
nothing on main; "test runs" counts the test command's own log lines. Each queue runs in a fresh
town with its own embedded Temporal dev server; the default is adaptive batches (8, 16, … up
to 32, halved after a red batch; culprits found by testing prefixes of the batch, 2 at once).

- machine: ${await machineLine()}; load average ${loadBefore} before, ${loadAfter} after
- date: ${new Date().toISOString()}
- command: \`npm run bench -- mergequeue${argv.filter((a) => a !== 'mergequeue').length ? ' ' + argv.filter((a) => a !== 'mergequeue').join(' ') : ''}\`

${table}

${ratio}.
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'mergequeue.md'), md);
}
