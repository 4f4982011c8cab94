// `npm run bench -- formula`: a 100-step 10x10 lattice of `run = "true"` steps and a straight
// chain of 20, cook → done, beside the same DAG shapes run by a bare Temporal workflow of no-op
// activities (its own small bundle and worker in this process, against the same server, in the
// same run: the engine's floor), `make -j` on the lattice and a plain sequential shell loop.
// Writes bench/results/formula.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const project = fileURLToPath(new URL('..', import.meta.url));
const gt = join(project, 'bin', 'gt.js');
const bd = join(project, 'bin', 'bd.js');
const RUNS = 5;
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

/** The DAGs as steps with needs, for the bare workflow. */
function latticeShape() {
  const steps = [];
  for (let r = 0; r < N; r++) for (let c = 0; c < N; c++) steps.push({ id: id(r, c), needs: latticeNeeds(r, c) });
  return { steps, maxParallel: 16 };
}
function chainShape(length) {
  return { steps: Array.from({ length }, (_, i) => ({ id: `c${i}`, needs: i > 0 ? [`c${i - 1}`] : [] })), maxParallel: 16 };
}

/** The bare-Temporal floor: a minimal workflow bundle and a default worker on a queue of its own. */
async function baselineWorker(address, namespace) {
  const { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { Client, Connection } = await import('@temporalio/client');
  const taskQueue = `bench-baseline-${process.pid}`;
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./_formula-baseline-workflow.mjs', import.meta.url)), logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, namespace, taskQueue, workflowBundle, activities: { async noop() {} } });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  let n = 0;
  const engineMs = async (workflowId) => {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.closeTime.getTime() - d.startTime.getTime();
  };
  return {
    engineMs,
    async run(shape, type = 'baselineDag') {
      const workflowId = `bench-baseline-${process.pid}-${n++}`;
      const t0 = process.hrtime.bigint();
      await client.workflow.execute(type, { workflowId, taskQueue, args: [shape] });
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      return { wall, engine: await engineMs(workflowId) };
    },
    async close() {
      worker.shutdown();
      await running;
      await client.connection.close();
      await connection.close();
    },
  };
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
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [bd, 'cook', name, '--max-parallel', '16', '--json'], { cwd: root, env, encoding: 'utf8' });
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`bd cook ${name} failed: ${r.stdout}${r.stderr}`);
      return { wall, id: JSON.parse(r.stdout).molecule };
    };
    const baseline = await baselineWorker(`127.0.0.1:${port}`, settings.temporal.namespace ?? 'default');
    try {
      // Warm-up: the first workflow task of a fresh worker loads its bundle.
      cook('chain');
      await baseline.run(chainShape(20));
      await baseline.run(chainShape(20), 'baselineDagLocal');
      const results = { lattice: { cook: [], run: [], base: [], baseRun: [], localRun: [] }, chain: { cook: [], run: [], base: [], baseRun: [], localRun: [] } };
      const shapes = { lattice: latticeShape(), chain: chainShape(20) };
      // Ours and the floor alternate, so both see the same load on this shared machine.
      for (const name of ['lattice', 'chain']) {
        for (let i = 0; i < RUNS; i++) {
          const ours = cook(name);
          results[name].cook.push(ours.wall);
          results[name].run.push(await baseline.engineMs(ours.id));
          const floor = await baseline.run(shapes[name]);
          results[name].base.push(floor.wall);
          results[name].baseRun.push(floor.engine);
          results[name].localRun.push((await baseline.run(shapes[name], 'baselineDagLocal')).engine);
        }
      }
      const make = [];
      const loop = [];
      for (let i = 0; i < RUNS; i++) {
        make.push(timeIt(() => execFileSync('make', ['-s', '-j', String(N), '-C', base], { stdio: 'ignore' })));
        loop.push(timeIt(() => execFileSync('/bin/sh', ['-c', `for i in $(seq ${N * N}); do true; done`], { stdio: 'ignore' })));
      }
      const makeMs = median(make);
      const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
      const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
      const rows = [['lattice', 'lattice (100 steps, 10x10)', N * N], ['chain', 'chain (20 steps)', 20]].map(([key, label, steps]) => {
        const r = results[key];
        const [cookMs, runMs, baseMs, baseRunMs, localMs] = [median(r.cook), median(r.run), median(r.base), median(r.baseRun), median(r.localRun)];
        const met = runMs / baseRunMs <= 1.3 ? 'met' : 'MISSED';
        return `| ${label} | ${s(cookMs)} | ${s(runMs)} | ${s(baseRunMs)} | **${ratio(runMs, baseRunMs)}** | ${s(localMs)} | ${ratio(runMs, localMs)} | ${s(baseMs)} | ${ratio(cookMs, baseMs)} | ${((runMs - baseRunMs) / steps).toFixed(1)} ms | 1.3×: ${met} |`;
      });
      const cpu = cpus();
      const table = [
        '| DAG | `bd cook` (whole process) | molecule run (engine) | bare Temporal run (engine) | run ÷ bare | bare run, local activities (engine) | run ÷ bare local | bare start → result (client) | `bd cook` ÷ bare | extra a step | target |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
        ...rows,
        `| make -j${N} on the lattice | | | | | | | | | | ${s(makeMs)}: the floor of the work |`,
        `| sequential shell loop of 100 \`true\` | | | | | | | | | | ${s(median(loop))} |`,
      ].join('\n');
      const all = (xs) => xs.map((x) => (x / 1000).toFixed(2)).join(', ');
      const load = loadavg().map((x) => x.toFixed(2)).join(' ');
      const md = `# Benchmark: formula\n\nSteps of \`run = "true"\`, against the embedded dev server (SQLite file, WAL) and the town's worker, beside a bare Temporal workflow (bench/_formula-baseline-workflow.mjs: the same DAG shape, each step one no-op activity, its own bundle and a worker with default options in the benchmark process) against the same server in the same run, ours and the bare one alternating; and the bare workflow with each step one no-op local activity (the floor for a step that needs no task of its own: a run step's command ends within a second and runs in a local activity). Medians of ${RUNS}.\n\n- molecule run / bare run: the workflow's start → close time in the engine (what the engine and the worker spend on the DAG).\n- \`bd cook\`: the whole command, process start to exit (Node start, CLI load, pouring the molecule into the ledger, starting the run, following it to its end); bare start → result: \`client.workflow.execute\` from an already connected client.\n- extra a step: (molecule run − bare run) / steps.\n\n- machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}; load average at the end ${load} (the machine is shared)\n- date: ${new Date().toISOString()}\n- command: \`npm run bench -- formula\`\n\n${table}\n\nAll runs (s):\n${Object.entries(results).map(([k, r]) => `- ${k}: bd cook ${all(r.cook)}; molecule run ${all(r.run)}; bare run ${all(r.baseRun)}; bare run, local activities ${all(r.localRun)}; bare start → result ${all(r.base)}`).join('\n')}\n`;
      mkdirSync(join(project, 'bench', 'results'), { recursive: true });
      writeFileSync(join(project, 'bench', 'results', 'formula.md'), md);
      console.log(table);
    } finally {
      await baseline.close();
    }
  } finally {
    spawnSync(process.execPath, [gt, 'down'], { cwd: root, env, stdio: 'ignore' });
  }
}
