// `npm run bench -- cluster [--sizes 30,100]`: the agents benchmark on the cluster of
// scripts/cluster.sh (PostgreSQL + the Temporal server, on loopback), with the rig's agents split
// across two rig hosts (`gt worker --rig bench --host host1|host2`, here on this same machine),
// beside the same on the embedded dev server: wall time, merges/min, worker CPU per process,
// lost work (must be 0). Writes bench/results/cluster.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSize } from './agents.mjs';
import { freePort, machineLine, project } from './_town.mjs';

function cluster(cmd, args) {
  const r = spawnSync('bash', [join(project, 'scripts', 'cluster.sh'), cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`scripts/cluster.sh ${cmd} failed: ${r.stdout}`);
  return r.stdout;
}

/** A port for the server below the ephemeral range (its services use 10 above it and 700 below, kept in a smallint), free with those. */
async function lowPort() {
  const { createServer } = await import('node:net');
  const free = (port) => new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false)).listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    const all = [port, port + 1, port + 2, port + 6, port + 10, port - 700, port - 699, port - 698, port - 694];
    if ((await Promise.all(all.map(free))).every(Boolean)) return port;
  }
}

export async function run(argv = []) {
  const sizesArg = argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? (argv.includes('--sizes') ? argv[argv.indexOf('--sizes') + 1] : undefined);
  const sizes = (sizesArg ?? '30,100').split(',').map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'gt-bench-cluster-'));
  spawnSync('chmod', ['755', dir]); // PostgreSQL runs as its own user
  const address = `127.0.0.1:${await lowPort()}`;
  process.stdout.write(`  cluster at ${address} ... `);
  cluster('up', ['--address', address, '--dir', dir, '--pg-port', String(await freePort())]);
  process.stdout.write('up\n');
  const rows = [];
  try {
    for (const n of sizes) {
      for (const setup of ['embedded', 'cluster']) {
        process.stdout.write(`  ${n} agents, ${setup} ... `);
        const r = await runSize(n, { timeoutMs: 15 * 60_000, ...(setup === 'cluster' ? { cluster: { address }, hosts: 2 } : {}) });
        rows.push({ setup, ...r });
        process.stdout.write(`${(r.wallMs / 1000).toFixed(1)} s, ${r.merged}/${n} merged, lost ${r.lost}\n`);
      }
    }
  } finally {
    cluster('down', ['--dir', dir]);
  }
  const header = ['agents', 'engine', 'sling → all merged (s)', 'merges/min', "town's worker CPU (s)", 'rig host CPU (s)', 'agent sessions', 'merged', 'lost'];
  const table = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${[
      r.n,
      r.setup === 'cluster' ? 'cluster, 2 rig hosts' : 'embedded dev server',
      (r.wallMs / 1000).toFixed(1) + (r.timedOut ? ' (timed out)' : ''),
      r.mergesPerMin.toFixed(1),
      (r.cpuMs / 1000).toFixed(1),
      r.hostCpuMs.length ? r.hostCpuMs.map((c) => (c / 1000).toFixed(1)).join(' / ') : '—',
      r.sessions,
      r.merged,
      r.lost,
    ].join(' | ')} |`),
  ].join('\n');
  console.log(table);
  const md = `# bench: cluster

The agents benchmark (N scripted agents slung at once with one \`gt sling\` to one rig, until every
bead is merged into the bare remote's main by the refinery) on two engines: the embedded dev
server (one worker does everything), and the cluster of \`scripts/cluster.sh\` (PostgreSQL 15 and
the Temporal server v1.32.2 on loopback) with the rig set to run on workers and two rig hosts
(\`gt worker --rig bench --host host1\`, \`host2\`) sharing its agents, git and merge queue work
while the town's worker keeps orchestration and dispatch. The rig hosts run on this same machine,
so this measures the engine and the split, not more hardware. CPU is each worker process's
user+system time during the run. "lost" counts beads not closed with exactly one merge commit on
main: it must be 0.

- machine: ${await machineLine()}
- date: ${new Date().toISOString()}
- command: \`npm run bench -- cluster${argv.filter((a) => a !== 'cluster').length ? ' ' + argv.filter((a) => a !== 'cluster').join(' ') : ''}\`

${table}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'cluster.md'), md);
}
