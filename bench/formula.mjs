// `npm run bench -- formula`: a 100-step 10x10 lattice of `run = "true"` steps, cook → done,
// beside `make -j` on the same DAG (the floor) and a plain sequential shell loop; and a straight
// chain of 20 steps. Writes bench/results/formula.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = fileURLToPath(new URL('..', import.meta.url));
const gt = join(project, 'bin', 'gt.js');
const bd = join(project, 'bin', 'bd.js');
const RUNS = 3;
const N = 10;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

const id = (r, c) => `s${r}_${c}`;
function latticeNeeds(r, c) {
  const needs = [];
  if (r > 0) needs.push(id(r - 1, c));
  if (c > 0) needs.push(id(r, c - 1));
  return needs;
}

function latticeFormula() {
  const lines = ['formula = "lattice"', 'description = "10x10 lattice of no-op steps"'];
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < N; c++) {
      lines.push('[[steps]]', `id = "${id(r, c)}"`, `title = "Step ${r},${c}"`, 'run = "true"');
      const needs = latticeNeeds(r, c);
      if (needs.length) lines.push(`needs = [${needs.map((n) => `"${n}"`).join(', ')}]`);
    }
  }
  return lines.join('\n') + '\n';
}

function chainFormula(length) {
  const lines = ['formula = "chain"'];
  for (let i = 0; i < length; i++) {
    lines.push('[[steps]]', `id = "c${i}"`, `title = "Link ${i}"`, 'run = "true"');
    if (i > 0) lines.push(`needs = ["c${i - 1}"]`);
  }
  return lines.join('\n') + '\n';
}

function makefile() {
  const lines = [`all: ${id(N - 1, N - 1)}`, ''];
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < N; c++) {
      lines.push(`${id(r, c)}: ${latticeNeeds(r, c).join(' ')}`, '\t@true', '');
    }
  }
  lines.push(`.PHONY: all ${Array.from({ length: N * N }, (_, i) => id(Math.floor(i / N), i % N)).join(' ')}`);
  return lines.join('\n') + '\n';
}

function timeIt(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  const base = mkdtempSync(join(tmpdir(), 'gt-bench-formula-'));
  const root = join(base, 'town');
  execFileSync(process.execPath, [gt, 'install', root], { stdio: 'ignore' });
  const port = await freePort();
  const settingsFile = join(root, 'settings', 'config.json');
  const settings = JSON.parse((await import('node:fs')).readFileSync(settingsFile, 'utf8'));
  settings.temporal = { grpc_port: port, ui_port: port + 1 };
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));
  mkdirSync(join(root, '.beads', 'formulas'), { recursive: true });
  writeFileSync(join(root, '.beads', 'formulas', 'lattice.formula.toml'), latticeFormula());
  writeFileSync(join(root, '.beads', 'formulas', 'chain.formula.toml'), chainFormula(20));
  writeFileSync(join(base, 'Makefile'), makefile());
  const env = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  delete env.GT_ROOT;
  const up = spawnSync(process.execPath, [gt, 'up'], { cwd: root, env, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`gt up failed: ${up.stderr}`);
  try {
    const cook = (name) => {
      const r = spawnSync(process.execPath, [bd, 'cook', name, '--max-parallel', '16'], { cwd: root, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bd cook ${name} failed: ${r.stdout}${r.stderr}`);
    };
    cook('chain'); // warm-up: first workflow task of a fresh worker loads the bundle
    const lattice = [];
    const chain = [];
    for (let i = 0; i < RUNS; i++) lattice.push(timeIt(() => cook('lattice')));
    for (let i = 0; i < RUNS; i++) chain.push(timeIt(() => cook('chain')));
    const make = [];
    const loop = [];
    for (let i = 0; i < RUNS; i++) {
      make.push(timeIt(() => execFileSync('make', ['-s', '-j', String(N), '-C', base], { stdio: 'ignore' })));
      loop.push(timeIt(() => execFileSync('/bin/sh', ['-c', `for i in $(seq ${N * N}); do true; done`], { stdio: 'ignore' })));
    }
    const latticeMs = median(lattice);
    const chainMs = median(chain);
    const makeMs = median(make);
    const loopMs = median(loop);
    const rows = [
      ['bd cook lattice (100 steps, 10x10)', latticeMs, `${((latticeMs - makeMs) / (N * N)).toFixed(1)} ms/step`, latticeMs < 5000 ? 'under 5 s: met' : 'target 5 s: MISSED'],
      ['bd cook chain (20 steps)', chainMs, `${(chainMs / 20).toFixed(1)} ms/step`, chainMs < 2000 ? 'under 2 s: met' : 'target 2 s: MISSED'],
      ['make -j10 on the same lattice', makeMs, '', 'the floor'],
      ['sequential shell loop of 100 `true`', loopMs, '', ''],
    ];
    const cpu = cpus();
    const table = [
      '| run | wall (median of 3) | engine overhead | target |',
      '|---|---:|---:|---|',
      ...rows.map(([name, ms, per, target]) => `| ${name} | ${(ms / 1000).toFixed(2)} s | ${per} | ${target} |`),
    ].join('\n');
    const md = `# Benchmark: formula\n\nWhole \`bd cook\` process, cook → done, against the embedded dev server (SQLite file, WAL) and the town's worker, steps of \`run = "true"\`. Overhead per step = (wall − make -j) / steps.\n\n- machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}\n- date: ${new Date().toISOString()}\n- command: \`npm run bench -- formula\`\n\n${table}\n\nAll runs: lattice ${lattice.map((x) => (x / 1000).toFixed(2)).join(', ')} s; chain ${chain.map((x) => (x / 1000).toFixed(2)).join(', ')} s.\n`;
    mkdirSync(join(project, 'bench', 'results'), { recursive: true });
    writeFileSync(join(project, 'bench', 'results', 'formula.md'), md);
    console.log(table);
  } finally {
    spawnSync(process.execPath, [gt, 'down'], { cwd: root, env, stdio: 'ignore' });
  }
}
