import type { Command } from 'commander';
import { resolve } from 'node:path';
import { usageError } from '../../errors.js';
import { action, collect, printJson } from '../run.js';
import { currentActor } from '../../actor.js';

/**
 * `bd cook`, `bd mol`, `bd gate`: formulas run as durable workflows. Everything that talks to
 * the engine is imported lazily so the ledger commands stay fast.
 */

export function parseVars(pairs: string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`--var "${pair}" is not of the form name=value`, 'write it as --var name=value');
    const name = pair.slice(0, eq);
    if (name in vars) throw usageError(`--var ${name} is given twice`, 'give each var once');
    vars[name] = pair.slice(eq + 1);
  }
  return vars;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--max-parallel must be a whole number of at least 1, not "${value}"`);
  return n;
}

interface CookOptions {
  var?: string[];
  dryRun?: boolean;
  json?: boolean;
  format?: string;
  detach?: boolean;
  maxParallel?: string;
  cwd?: string;
}

async function cook(name: string, opts: CookOptions): Promise<void> {
  const vars = parseVars(opts.var);
  const cwd = resolve(opts.cwd ?? process.cwd());
  const maxParallel = positiveInt(opts.maxParallel ?? '16');
  const { loadResolvedFormula, renderDag } = await import('../../town/formulas.js');
  // A dry run without --var previews the formula as written (as the original's compile-time
  // cook does): required vars may be missing and conditions on them stay undecided. With --var
  // it is checked as a run would be.
  const formula = loadResolvedFormula(name, { cwd, vars, strict: !opts.dryRun || Object.keys(vars).length > 0 });
  if (opts.dryRun) {
    const format = opts.json ? 'json' : (opts.format ?? 'text');
    if (!['text', 'json', 'mermaid'].includes(format)) throw usageError(`--format must be text, json or mermaid, not "${format}"`);
    process.stdout.write(renderDag(formula, format as 'text' | 'json' | 'mermaid'));
    return;
  }
  const { requireTownRoot } = await import('../../town/layout.js');
  const root = requireTownRoot(cwd);
  const { requireLedgerDirForCwd } = await import('../../town/routes.js');
  const ledgerDir = requireLedgerDirForCwd(cwd);
  const { pourMolecule, markRunNotStarted } = await import('../../molecule/pour.js');
  await startAndFollow(root, () => {
    const poured = pourMolecule(ledgerDir, formula, { cwd });
    return { ...poured, ledgerDir, cwd, formula, done: [], onRefused: (why: string) => markRunNotStarted(ledgerDir, poured.molecule, why) };
  }, { ...opts, maxParallel });
}

interface RunTarget {
  molecule: string;
  ledgerDir: string;
  cwd: string;
  formula: import('../../formula/types.js').ResolvedFormula;
  stepBeads: Record<string, string>;
  done: string[];
  /** Called when the engine refuses to start the run. */
  onRefused?: (why: string) => void;
}

/** Start the molecule workflow for a poured molecule, then follow it (or print its id with --detach). */
async function startAndFollow(root: string, target: () => RunTarget, opts: { detach?: boolean; json?: boolean; maxParallel: number }): Promise<void> {
  const { withEngine, startMolecule, watchMolecule } = await import('../../molecule/engine.js');
  const { workflowUiLink } = await import('../../temporal/config.js');
  const { readTownSettings } = await import('../../town/settings.js');
  const heartbeatTimeout = readTownSettings(root).thresholds?.heartbeat_timeout ?? '30s';
  const final = await withEngine(root, async (client, config) => {
    const t = target();
    try {
      await startMolecule(client, config, {
        molecule: t.molecule,
        ledgerDir: t.ledgerDir,
        cwd: t.cwd,
        formula: t.formula,
        stepBeads: t.stepBeads,
        maxParallel: opts.maxParallel,
        heartbeatTimeout,
        ...(t.done.length ? { done: t.done } : {}),
      });
    } catch (err) {
      t.onRefused?.((err as Error).message);
      throw err;
    }
    const link = workflowUiLink(config, t.molecule);
    if (opts.detach) {
      if (opts.json) printJson({ molecule: t.molecule, steps: t.stepBeads, ui: link });
      else process.stdout.write(`${t.molecule}\n`);
      return undefined;
    }
    return watchMolecule(client, config, t.molecule, { tty: Boolean(process.stdout.isTTY) && !opts.json, quiet: opts.json });
  }, { start: true });
  if (!final) return;
  finishRun(final, opts.json);
}

function finishRun(final: import('../../molecule/state.js').MoleculeState, json?: boolean): void {
  if (json) printJson(final);
  else if (final.status !== 'running') {
    process.stdout.write(`${final.molecule}: ${final.status}\n`);
    const failed = final.steps.find((s) => s.status === 'failed' && (s.kind === 'run' || s.kind === 'agent'));
    if (failed) process.stdout.write(`Whole output of a step: bd mol logs ${final.molecule} ${failed.id}\n`);
  }
  if (final.status !== 'succeeded') process.exitCode = final.status === 'running' ? 130 : 1;
}

export function registerCookCommands(program: Command): void {
  program
    .command('cook <formula>')
    .description('run a formula as a durable workflow (pours the molecule, then follows it)')
    .option('--var <name=value>', 'set a formula var (repeatable)', collect, [])
    .option('--dry-run', 'resolve and validate, print the DAG, run nothing')
    .option('--format <format>', 'dry-run output: text, json or mermaid', 'text')
    .option('--detach', 'print the molecule id and return at once; the run goes on')
    .option('--max-parallel <n>', 'most steps running at once', '16')
    .option('--cwd <dir>', 'folder the steps run in (default: the current folder)')
    .option('--json', 'print JSON')
    .action(action(cook));

  const mol = program.command('mol').description('molecules: instances of formulas');

  mol
    .command('pour <formula>')
    .description('create a molecule (root bead + one bead per step) without running it')
    .option('--var <name=value>', 'set a formula var (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action(action(async (name: string, opts: { var?: string[]; json?: boolean }) => {
      const vars = parseVars(opts.var);
      const { loadResolvedFormula } = await import('../../town/formulas.js');
      const formula = loadResolvedFormula(name, { cwd: process.cwd(), vars });
      const { requireLedgerDirForCwd } = await import('../../town/routes.js');
      const { pourMolecule } = await import('../../molecule/pour.js');
      const poured = pourMolecule(requireLedgerDirForCwd(), formula, { cwd: process.cwd() });
      if (opts.json) printJson(poured);
      else {
        process.stdout.write(`Poured ${formula.name} as ${poured.molecule}\n`);
        for (const [step, bead] of Object.entries(poured.stepBeads)) process.stdout.write(`  ${bead}  ${step}\n`);
      }
    }));

  mol
    .command('run <molecule>')
    .description('run a poured molecule as a durable workflow (steps already closed by hand count as done)')
    .option('--detach', 'print the molecule id and return at once; the run goes on')
    .option('--max-parallel <n>', 'most steps running at once', '16')
    .option('--cwd <dir>', 'folder the steps run in (default: where it was poured)')
    .option('--json', 'print JSON')
    .action(action(async (id: string, opts: { detach?: boolean; maxParallel?: string; cwd?: string; json?: boolean }) => {
      const maxParallel = positiveInt(opts.maxParallel ?? '16');
      const { requireTownRoot } = await import('../../town/layout.js');
      const root = requireTownRoot();
      const { pouredRun } = await import('../../molecule/pour.js');
      const run = pouredRun(process.cwd(), id);
      const cwd = resolve(opts.cwd ?? run.cwd ?? process.cwd());
      await startAndFollow(root, () => ({ ...run, cwd }), { detach: opts.detach, json: opts.json, maxParallel });
    }));

  mol
    .command('logs <molecule> [step]')
    .description("print a step's whole output (every step's, without a step)")
    .action(action(async (id: string, step: string | undefined) => {
      const { requireTownRoot } = await import('../../town/layout.js');
      const root = requireTownRoot();
      const { moleculeLogs } = await import('../../molecule/logs.js');
      process.stdout.write(moleculeLogs(root, process.cwd(), id, step));
    }));

  mol
    .command('list')
    .description('list molecules in this ledger with their run state')
    .option('--all', 'include finished molecules')
    .option('--json', 'print JSON')
    .action(action(async (opts: { all?: boolean; json?: boolean }) => {
      const { listMoleculeRows } = await import('../../molecule/pour.js');
      const rows = await listMoleculeRows(process.cwd(), Boolean(opts.all));
      if (opts.json) printJson(rows);
      else if (rows.length === 0) process.stdout.write(opts.all ? 'No molecules\n' : 'No active molecules (--all shows finished ones)\n');
      else for (const r of rows) process.stdout.write(`${r.id}  ${r.formula.padEnd(16)}  ${r.run.padEnd(10)}  ${r.progress}  ${r.title}\n`);
    }));

  mol
    .command('show <molecule>')
    .description("show a molecule's steps and their state")
    .option('--json', 'print JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const { showMolecule } = await import('../../molecule/pour.js');
      const { state, link } = await showMolecule(process.cwd(), id);
      if (opts.json) printJson(state);
      else {
        const { renderMolecule } = await import('../../molecule/render.js');
        process.stdout.write(renderMolecule(state, link));
      }
    }));

  mol
    .command('watch <molecule>')
    .description('follow a running molecule (Ctrl-C detaches; the run goes on)')
    .option('--json', 'print the final state as JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const { requireTownRoot } = await import('../../town/layout.js');
      const root = requireTownRoot();
      const { resolveMoleculeId } = await import('../../molecule/pour.js');
      const molecule = resolveMoleculeId(process.cwd(), id);
      const { withEngine, watchMolecule } = await import('../../molecule/engine.js');
      const final = await withEngine(root, (client, config) =>
        watchMolecule(client, config, molecule, { tty: Boolean(process.stdout.isTTY) && !opts.json, quiet: opts.json }), { start: true });
      finishRun(final, opts.json);
    }));

  mol
    .command('cancel <molecule>')
    .description('cancel a running molecule: running steps are stopped, the rest never start')
    .option('--json', 'print JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const { requireTownRoot } = await import('../../town/layout.js');
      const root = requireTownRoot();
      const { resolveMoleculeId } = await import('../../molecule/pour.js');
      const molecule = resolveMoleculeId(process.cwd(), id);
      const { withEngine, cancelMolecule } = await import('../../molecule/engine.js');
      const state = await withEngine(root, (client) => cancelMolecule(client, molecule), { start: true });
      if (opts.json) printJson(state);
      else process.stdout.write(`${molecule}: ${state.status}\n`);
    }));

  const gate = program.command('gate').description('gates: steps that wait for a person, a timer or a bead');

  gate
    .command('approve <step-bead>')
    .description('approve a human gate; the molecule goes on')
    .option('--note <text>', 'a note kept with the approval')
    .option('--json', 'print the receipt as JSON')
    .action(action(async (beadId: string, opts: { note?: string; json?: boolean }) => {
      const { requireTownRoot } = await import('../../town/layout.js');
      const root = requireTownRoot();
      const { gateTarget } = await import('../../molecule/pour.js');
      const target = gateTarget(process.cwd(), beadId);
      const { withEngine, approveGate } = await import('../../molecule/engine.js');
      const receipt = await withEngine(root, (client) =>
        approveGate(client, target.molecule, { step: target.step, approver: currentActor(), note: opts.note }), { start: true });
      if (opts.json) printJson(receipt);
      else process.stdout.write(`Approved ${receipt.step} (${receipt.bead}) of ${receipt.molecule} as ${receipt.approver} at ${receipt.approvedAt}\n`);
    }));

  gate
    .command('list')
    .description('list open gates in this ledger')
    .option('--json', 'print JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const { listGates } = await import('../../molecule/pour.js');
      const gates = listGates(process.cwd());
      if (opts.json) printJson(gates);
      else if (gates.length === 0) process.stdout.write('No open gates\n');
      else for (const g of gates) process.stdout.write(`${g.bead}  ${g.molecule}  ${g.step.padEnd(16)}  ${g.gate}  ${g.status}\n`);
    }));

}
