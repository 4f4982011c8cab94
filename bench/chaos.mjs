// `npm run bench -- chaos [--trials N]`: N crash trials (default 20, the four faults in turn):
// kill -9 of the worker, the Temporal server, both, or a running agent at a random moment during
// a 12-bead convoy with dependencies (bench/_chaos.mjs). Reports landed, lost (by content on the
// remote), merged twice, dependency order violations, landing time and recovery time (fault →
// next merge on main) per fault. Target: 0 lost, 0 twice, 0 out of order; recovery after any
// single fault under heartbeat_timeout (5 s here) + 10 s. Writes bench/results/chaos.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULTS, chaosTrial } from './_chaos.mjs';
import { machineLine, project } from './_town.mjs';

const pct = (xs, p) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const secs = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

export async function run(argv = []) {
  const i = argv.indexOf('--trials');
  const trials = i >= 0 ? Number(argv[i + 1]) : 20;
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials needs a whole number of at least 1');
  const results = [];
  for (let n = 0; n < trials; n++) {
    const fault = FAULTS[n % FAULTS.length];
    const seed = 1000 + n;
    const r = await chaosTrial({ fault, seed, beads: 12 });
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const rows = FAULTS.map((fault) => {
    const rs = results.filter((r) => r.fault === fault);
    const landing = rs.filter((r) => r.landed).map((r) => r.landingMs);
    const recovery = rs.map((r) => r.recoveryMs).filter((x) => x !== undefined);
    return {
      fault,
      trials: rs.length,
      landed: rs.filter((r) => r.landed).length,
      lost: rs.reduce((a, r) => a + r.lost, 0),
      twice: rs.reduce((a, r) => a + r.twice, 0),
      redone: rs.reduce((a, r) => a + r.redone, 0),
      order: rs.reduce((a, r) => a + r.outOfOrder, 0),
      landingP50: pct(landing, 50),
      landingP95: pct(landing, 95),
      recoveryP50: pct(recovery, 50),
      recoveryP95: pct(recovery, 95),
      historyKb: pct(rs.map((r) => r.historyBytes).filter(Boolean), 50) / 1024,
    };
  });
  const header = '| fault | trials | landed | lost | merged twice | redone | out of order | landing p50 | landing p95 | recovery p50 | recovery p95 | convoy history p50 |';
  const table = [header, '|---|---|---|---|---|---|---|---|---|---|---|---|', ...rows.map((r) => `| kill -9 ${r.fault} | ${r.trials} | ${r.landed} | ${r.lost} | ${r.twice} | ${r.redone} | ${r.order} | ${secs(r.landingP50)} | ${secs(r.landingP95)} | ${secs(r.recoveryP50)} | ${secs(r.recoveryP95)} | ${Number.isFinite(r.historyKb) ? `${r.historyKb.toFixed(0)} KB` : '-'} |`)].join('\n');
  console.log(table);
  const md = `# bench chaos

${new Date().toISOString().slice(0, 10)} · ${await machineLine()} · \`npm run bench -- chaos${trials !== 20 ? ` --trials ${trials}` : ''}\`

${trials} trials: a 12-bead convoy with dependencies (seeded random DAG, half the beads "slow"), scripted agents,
heartbeat_timeout 5 s; at a random moment 1-10 s after \`gt convoy create\` one fault, then \`gt up\` (an agent's
death needs none). Judged on the remote's main: each bead's commit exactly once with its file in the tree
(lost), one merge per bead by the refinery's merge notes (merged twice), work committed by more than one
agent session (redone: lost time; after an engine fault it should not happen), no bead merged before one it
depends on (out of order). Landing: convoy create → convoy closed. Recovery: the fault → the next merge
on main. Convoy history: the size of the convoy workflow's event history (JSON) when it landed (the
ledger-watching convoy of the release before kept 117 KB for 12 beads). Target: 0 lost, 0 twice, 0 out of
order; recovery under heartbeat_timeout + 10 s = 15 s.

${table}

Every trial (seed = 1000 + trial number; \`node bench/_chaos.mjs <fault> <seed> 12\` runs one again):

| fault | seed | landed | lost | twice | redone | out of order | landing | recovery | fault at | note |
|---|---|---|---|---|---|---|---|---|---|---|
${results.map((r) => `| ${r.fault} | ${r.seed} | ${r.landed} | ${r.lost} | ${r.twice} | ${r.redone} | ${r.outOfOrder} | ${secs(r.landingMs)} | ${secs(r.recoveryMs)} | ${secs(r.faultAtMs)} | ${r.note || ''} |`).join('\n')}
`;
  mkdirSync(join(project, 'bench', 'results'), { recursive: true });
  writeFileSync(join(project, 'bench', 'results', 'chaos.md'), md);
}
