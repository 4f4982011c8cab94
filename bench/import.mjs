// `npm run bench -- import`: moving in from the original Beads. Whole-process timings of
// `bd import` of a real 5,982-issue export written by the original (../shared/reference beside the
// clone) into a fresh ledger, its peak memory, `bd ready --json` right after each import, the same
// on an unchanged ledger, and a second import of the same file (every bead unchanged).
// Writes bench/results/import.md. Option: --runs=N (default 10).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const project = join(here, '..');
const BD = join(project, 'bin', 'bd.js');
const SUB = join('shared', 'reference', 'beads-exports', 'gastown-2026-01.jsonl');

function option(argv, name, fallback) {
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : fallback;
}

/** The export beside the clone, or beside the main checkout when this is a git worktree. */
function exportFile() {
  const candidates = [join(project, '..', SUB)];
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: project, encoding: 'utf8' }).trim();
    candidates.push(join(dirname(common), '..', SUB));
  } catch {
    // not a git checkout
  }
  return candidates.find((c) => existsSync(c));
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
  if (r.status !== 0) throw new Error(`bd ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const kb = Number(r.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function freshLedger() {
  const root = mkdtempSync(join(tmpdir(), 'bd-bench-import-'));
  bd(root, ['init', '--prefix', 'gt']);
  return root;
}

export async function run(argv = []) {
  const file = exportFile();
  if (!file) {
    console.error(`error: the export is absent (../${SUB} beside the clone); the import benchmark needs it`);
    process.exitCode = 1;
    return [];
  }
  const runs = Number(option(argv, 'runs', '10'));
  const load = loadavg()[0];
  const samples = { 'bd import (fresh ledger)': [], 'bd ready --json (right after the import)': [], 'bd ready --json (unchanged ledger)': [], 'bd import (again: all unchanged)': [] };
  const peaks = { 'bd import (fresh ledger)': 0, 'bd ready --json (right after the import)': 0, 'bd ready --json (unchanged ledger)': 0, 'bd import (again: all unchanged)': 0 };
  let readyCount = 0;
  let lines = 0;
  for (let i = 0; i < runs + 1; i++) {
    const root = freshLedger();
    const imp = bd(root, ['import', file, '--json']);
    const result = JSON.parse(imp.stdout);
    lines = result.added;
    const first = bd(root, ['ready', '--json']);
    readyCount = JSON.parse(first.stdout).length;
    const again = bd(root, ['ready', '--json']);
    const reimport = bd(root, ['import', file, '--json']);
    if (JSON.parse(reimport.stdout).unchanged !== lines) throw new Error('a second import of the same file changed beads');
    if (i > 0) {
      // the first round warms the page cache and is not counted
      samples['bd import (fresh ledger)'].push(imp.ms);
      samples['bd ready --json (right after the import)'].push(first.ms);
      samples['bd ready --json (unchanged ledger)'].push(again.ms);
      samples['bd import (again: all unchanged)'].push(reimport.ms);
    }
    rmSync(root, { recursive: true, force: true });
  }
  // Peak memory: separate runs under GNU time, in the same order.
  for (let i = 0; i < 3; i++) {
    const root = freshLedger();
    const m = (name, args) => (peaks[name] = Math.max(peaks[name], peakMb(root, args) ?? 0));
    m('bd import (fresh ledger)', ['import', file, '--json']);
    m('bd ready --json (right after the import)', ['ready', '--json']);
    m('bd ready --json (unchanged ledger)', ['ready', '--json']);
    m('bd import (again: all unchanged)', ['import', file, '--json']);
    rmSync(root, { recursive: true, force: true });
  }
  const baseline = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', ''], { encoding: 'utf8' });
    baseline.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  baseline.sort((a, b) => a - b);

  const rows = Object.entries(samples).map(([name, times]) => {
    times.sort((a, b) => a - b);
    const row = { name, p50: pct(times, 50), max: times[times.length - 1], mem: peaks[name] || undefined };
    console.log(`${name.padEnd(42)} p50 ${row.p50.toFixed(1).padStart(7)} ms  max ${row.max.toFixed(1).padStart(7)} ms  peak ${row.mem ? row.mem.toFixed(0) + ' MB' : 'n/a'}`);
    return row;
  });
  const cpu = cpus();
  const out = [
    '# Import benchmark',
    '',
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}, ${process.platform}; load average ${load.toFixed(1)} at the start`,
    `- command: \`npm run bench -- import${argv.filter((a) => a !== 'import').length ? ' ' + argv.filter((a) => a !== 'import').join(' ') : ''}\``,
    `- data: \`gastown-2026-01.jsonl\`, a real export written by the original Beads (${lines} issues, ${(statSync(file).size / 1e6).toFixed(1)} MB;`,
    '  custom types, tombstones, fields this project does not model), read from `../shared/reference` beside the clone.',
    `- each row: ${runs} whole-process runs of the built \`bd\` (node start-up included), each round in a fresh ledger`,
    '  (`bd init`, then the four commands in order), after one uncounted round; peak memory is the largest max-RSS of 3',
    '  further rounds (GNU time).',
    `- \`bd ready --json\` prints ${readyCount} beads. Node start-up alone (\`node -e ""\`): p50 ${pct(baseline, 50).toFixed(1)} ms here.`,
    '- targets: import under 2 s, `bd ready --json` right after it under 150 ms.',
    '',
    '| command | p50 ms | max ms | peak MB |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| \`${r.name}\` | ${r.p50.toFixed(1)} | ${r.max.toFixed(1)} | ${r.mem ? r.mem.toFixed(0) : 'n/a'} |`),
    '',
  ];
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'import.md'), out.join('\n'));
  console.log('\nwrote bench/results/import.md');
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run(process.argv.slice(2));
