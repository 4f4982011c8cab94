// `npm run bench -- ledger`: whole-process timings of `bd create`, `bd ready --json`, `bd show`
// and `bd update` on ledgers of 1k and 10k beads (p50/p95 over repeated runs), plus peak memory.
// `bd ready --json` repeated on an unchanged ledger prints from the ready index of the summary
// cache; the "after a write" row times the first `bd ready --json` after each (untimed) update,
// whose writer carried the ready index over (or, when it could not, which works it out anew).
// Writes bench/results/ledger.md. Options: --runs=N (default 30), --sizes=1000,10000.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const project = join(here, '..');
const BD = join(project, 'bin', 'bd.js');

/** `--name=value` (the form `npm run bench -- ledger --runs=20` passes through the dispatcher) or `--name value`. */
function option(argv, name, fallback) {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}

/** A deterministic pseudo-random sequence, so every run benchmarks the same ledger. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A ledger shaped like a busy project: most beads open, a fifth closed, some in progress;
 * a third blocked by an earlier bead, epics with children, labels and paragraph descriptions.
 * Written straight to issues.jsonl in the export format (sorted by id), as bd itself writes it.
 */
export function makeLedger(size) {
  const root = mkdtempSync(join(tmpdir(), `bd-bench-${size}-`));
  const dir = join(root, '.beads');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ prefix: 'bn', version: 1 }, null, 2) + '\n');
  const rand = rng(size);
  const ids = new Set();
  const beads = [];
  const start = Date.parse('2025-01-01T00:00:00Z');
  const id36 = () => {
    for (;;) {
      const id = 'bn-' + Math.floor(rand() * 36 ** 6).toString(36).padStart(6, '0');
      if (!ids.has(id)) {
        ids.add(id);
        return id;
      }
    }
  };
  const epics = [];
  for (let i = 0; i < size; i++) {
    const created = new Date(start + i * 60_000).toISOString();
    const r = rand();
    const status = r < 0.6 ? 'open' : r < 0.8 ? 'closed' : r < 0.9 ? 'in_progress' : r < 0.95 ? 'blocked' : 'deferred';
    const type = i % 50 === 0 ? 'epic' : ['task', 'bug', 'feature', 'chore'][Math.floor(rand() * 4)];
    const bead = {
      _type: 'issue',
      id: id36(),
      title: `Bench bead ${i}: ${['fix', 'add', 'refactor', 'document'][i % 4]} the ${['parser', 'scheduler', 'login flow', 'merge queue'][Math.floor(rand() * 4)]}`,
      description: 'What is wrong and what done looks like. '.repeat(1 + Math.floor(rand() * 5)),
      status,
      priority: Math.floor(rand() * 5),
      issue_type: type,
      created_at: created,
      created_by: 'bench',
      updated_at: created,
    };
    if (status === 'in_progress') bead.assignee = `polecat-${i % 30}`;
    if (status === 'closed') {
      bead.closed_at = created;
      bead.close_reason = 'done';
    }
    if (rand() < 0.5) bead.labels = [['backend', 'frontend', 'infra'][i % 3]];
    const deps = [];
    if (beads.length && rand() < 0.33) {
      const target = beads[Math.floor(rand() * beads.length)];
      deps.push({ issue_id: bead.id, depends_on_id: target.id, type: 'blocks', created_at: created, created_by: 'bench' });
    }
    if (epics.length && type !== 'epic' && rand() < 0.3) {
      deps.push({ issue_id: bead.id, depends_on_id: epics[Math.floor(rand() * epics.length)], type: 'parent-child', created_at: created, created_by: 'bench' });
    }
    if (deps.length) bead.dependencies = deps;
    if (type === 'epic') epics.push(bead.id);
    beads.push(bead);
  }
  beads.sort((a, b) => (a.id < b.id ? -1 : 1));
  writeFileSync(join(dir, 'issues.jsonl'), beads.map((b) => JSON.stringify(b)).join('\n') + '\n');
  writeFileSync(join(dir, 'events.jsonl'), '');
  return { root, ids: beads.filter((b) => b.status === 'open').map((b) => b.id), bytes: beads.reduce((n, b) => n + JSON.stringify(b).length + 1, 0) };
}

function bd(cwd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BD, ...args], { cwd, encoding: 'utf8', env: { ...process.env, BD_ACTOR: 'bench' }, maxBuffer: 1 << 30 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`bd ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

/** Peak resident memory (MB) of one bd run, from GNU time; undefined where it is missing. */
function peakMb(cwd, args) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, BD, ...args], { cwd, encoding: 'utf8', env: { ...process.env, BD_ACTOR: 'bench' }, maxBuffer: 1 << 30 });
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run(argv = []) {
  const runs = Number(option(argv, 'runs', '30'));
  const sizes = option(argv, 'sizes', '1000,10000').split(',').map(Number);
  const rows = [];
  const baseline = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
    baseline.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  baseline.sort((a, b) => a - b);
  for (const size of sizes) {
    const { root, ids, bytes } = makeLedger(size);
    const pick = (i) => ids[(i * 7919) % ids.length];
    const commands = {
      'bd create': (i) => ['create', `bench create ${i}`, '-p', '2', '-l', 'bench'],
      'bd ready --json': () => ['ready', '--json'],
      'bd show': (i) => ['show', pick(i)],
      'bd update': (i) => ['update', pick(i), '--notes', `bench note ${i}`],
      'bd ready --json (after a write)': () => ['ready', '--json'],
    };
    // Untimed, before each timed run: a write, which must carry the ready index over for the next read.
    const before = { 'bd ready --json (after a write)': (i) => bd(root, ['update', pick(i + 500), '--notes', `bench write ${i}`]) };
    for (const [name, args] of Object.entries(commands)) {
      for (let i = 0; i < 3; i++) bd(root, args(1000 + i)); // warm the page cache
      const times = [];
      let out = 0;
      for (let i = 0; i < runs; i++) {
        before[name]?.(i);
        const r = bd(root, args(i));
        times.push(r.ms);
        out = r.stdout.length;
      }
      times.sort((a, b) => a - b);
      const mem = Math.max(...[0, 1, 2].map((i) => (before[name]?.(2000 + i), peakMb(root, args(2000 + i))) ?? 0)) || undefined;
      const row = { size, name, p50: pct(times, 50), p95: pct(times, 95), mem, out };
      rows.push(row);
      console.log(`${String(size).padStart(6)}  ${name.padEnd(32)} p50 ${row.p50.toFixed(1).padStart(6)} ms  p95 ${row.p95.toFixed(1).padStart(6)} ms  peak ${mem ? mem.toFixed(0) + ' MB' : 'n/a'}`);
    }
    console.log(`        (ledger of ${size} beads: ${(bytes / 1e6).toFixed(1)} MB issues.jsonl)`);
    rmSync(root, { recursive: true, force: true });
  }

  const cpu = cpus();
  const lines = [
    '# Ledger benchmark',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}, ${process.platform}`,
    `- command: \`npm run bench -- ledger${argv.filter((a) => a !== 'ledger').length ? ' ' + argv.filter((a) => a !== 'ledger').join(' ') : ''}\``,
    `- each row: ${runs} whole-process runs of the built \`bd\` (node start-up included) after 3 warm-up runs, in a ledger`,
    '  of that many beads (60% open, 20% closed, a third blocked by another bead, epics with children); peak memory is',
    '  the largest max-RSS of 3 further runs (GNU time).',
    `- baseline: \`node -e ""\` alone takes p50 ${pct(baseline, 50).toFixed(1)} ms, p95 ${pct(baseline, 95).toFixed(1)} ms here.`,
    '- `bd ready --json` repeated on an unchanged ledger prints from the ready index kept in the summary cache; the',
    '  "after a write" row times the first `bd ready --json` after each (untimed) `bd update`, whose writer updated the',
    '  ready index for the beads it changed (and those depending on them).',
    '- targets: `bd ready --json` and `bd create` at 10k beads, p50 under 150 ms.',
    '',
    '| beads | command | p50 ms | p95 ms | peak MB | stdout bytes |',
    '|---:|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.size} | \`${r.name}\` | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.mem ? r.mem.toFixed(0) : 'n/a'} | ${r.out} |`),
    '',
  ];
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'ledger.md'), lines.join('\n'));
  console.log(`\nwrote bench/results/ledger.md`);
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));
