import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import type { CreateInput } from '../beads/ledger.js';
import { GtError } from '../errors.js';
import { topoSort } from '../formula/graph.js';
import type { ResolvedFormula, ResolvedStep } from '../formula/types.js';
import { findTownRoot } from '../town/layout.js';
import { ledgerDirForId, requireLedgerDirForCwd } from '../town/routes.js';
import type { MoleculeState, StepState } from './state.js';

/**
 * Molecules in the ledger: the root bead (type molecule) and one child bead per step, with
 * `blocks` edges from `needs`. Pouring is one locked write, so a molecule is there whole or not
 * at all.
 */
export interface Poured {
  molecule: string;
  stepBeads: Record<string, string>;
}

interface MoleculeMeta {
  formula: string;
  vars: Record<string, string>;
  cwd?: string;
  /** What `bd mol run` needs to run the molecule as poured (older molecules lack it). */
  type?: ResolvedFormula['type'];
  source?: string;
  version?: number;
}

interface StepMeta {
  step: string;
  gate?: string;
  kind: StepState['kind'];
  /** The resolved step as poured, so the molecule can be run later exactly as it was resolved. */
  spec?: ResolvedStep;
}

function kindOf(step: ResolvedStep): StepState['kind'] {
  return step.gate ? 'gate' : step.run !== undefined ? 'run' : step.children ? 'group' : 'agent';
}

export function pourMolecule(ledgerDir: string, formula: ResolvedFormula, opts: { cwd?: string } = {}): Poured {
  const vars = Object.entries(formula.vars).map(([k, v]) => `${k}=${v}`).join(' ');
  const inputs: CreateInput[] = [
    {
      key: 'root',
      title: `${formula.name}${vars ? ` (${vars})` : ''}`,
      description: formula.description,
      issue_type: 'molecule',
      labels: [`formula:${formula.name}`],
      metadata: {
        formula: formula.name, vars: formula.vars, cwd: opts.cwd, type: formula.type, source: formula.source, version: formula.version,
      } satisfies MoleculeMeta,
    },
  ];
  for (const step of formula.steps) {
    const kind = kindOf(step);
    inputs.push({
      key: `step:${step.id}`,
      parent: { key: 'root' },
      title: step.title,
      description: [step.description, step.run !== undefined ? `Runs: ${step.run}` : ''].filter(Boolean).join('\n\n') || undefined,
      acceptance_criteria: step.acceptance,
      // As the original: a step with children is an epic.
      issue_type: step.gate ? 'gate' : step.children ? 'epic' : 'task',
      deps: step.needs.map((n) => ({ key: `step:${n}`, type: 'blocks' as const })),
      metadata: { step: step.id, gate: step.gate?.type, kind, spec: step } satisfies StepMeta,
    });
  }
  const ledger = Ledger.open(ledgerDir);
  const created = ledger.createMany(inputs);
  const stepBeads: Record<string, string> = {};
  formula.steps.forEach((s, i) => {
    stepBeads[s.id] = created[i + 1]!.id;
  });
  return { molecule: created[0]!.id, stepBeads };
}

export interface PouredRun {
  ledgerDir: string;
  molecule: string;
  formula: ResolvedFormula;
  stepBeads: Record<string, string>;
  /** Steps whose beads are closed already (worked by hand). */
  done: string[];
  cwd?: string;
}

/**
 * A poured molecule as `bd mol run` starts it: the formula exactly as it was resolved when poured
 * (kept on the beads), and the steps already closed by hand. Refuses a molecule that is finished
 * or was poured by a version that did not keep its steps.
 */
export function pouredRun(cwd: string, id: string): PouredRun {
  const ledgerDir = findTownRoot(cwd) ? ledgerDirForId(id, cwd) : requireLedgerDirForCwd(cwd);
  const ledger = Ledger.open(ledgerDir);
  const root = ledger.get(id);
  if (root.issue_type !== 'molecule') throw new GtError(`${root.id} is a ${root.issue_type}, not a molecule`, { hint: '`bd mol list` shows molecules' });
  if (root.status === 'closed') {
    throw new GtError(`molecule ${root.id} is already ${root.close_reason === 'cancelled' ? 'cancelled' : 'done'}`, { hint: '`bd mol show` shows how it ended; pour the formula again to run it again' });
  }
  if (root.status === 'blocked') {
    throw new GtError(`molecule ${root.id} failed in an earlier run`, { hint: '`bd mol show` and `bd mol logs` say why; pour the formula again (`bd mol pour`) to run it again' });
  }
  const meta = (root.metadata ?? {}) as Partial<MoleculeMeta>;
  const children = ledger.children(root.id);
  const steps: ResolvedStep[] = [];
  const stepBeads: Record<string, string> = {};
  const done: string[] = [];
  for (const b of children) {
    const m = (b.metadata ?? {}) as Partial<StepMeta>;
    if (!m.spec || !meta.formula) {
      throw new GtError(`molecule ${root.id} was poured without its step definitions, so it cannot be run from the ledger`, { hint: `pour it again: bd mol pour ${meta.formula ?? '<formula>'}` });
    }
    steps.push(m.spec);
    stepBeads[m.spec.id] = b.id;
    if (b.status === 'closed') done.push(m.spec.id);
  }
  const formula: ResolvedFormula = {
    name: meta.formula!, type: meta.type ?? 'workflow', source: meta.source ?? 'ledger', vars: meta.vars ?? {}, steps: topoSort(steps),
  };
  if (root.description) formula.description = root.description;
  if (meta.version !== undefined) formula.version = meta.version;
  return { ledgerDir, molecule: root.id, formula, stepBeads, done, cwd: meta.cwd };
}

/** When the engine refused the run, say so on the molecule instead of leaving it looking alive. */
export function markRunNotStarted(ledgerDir: string, molecule: string, why: string): void {
  const ledger = Ledger.open(ledgerDir);
  ledger.transaction((tx) => {
    tx.addComment(molecule, `run not started: ${why}`);
    tx.update(molecule, { status: 'blocked' });
  });
}

function ledgerFor(cwd: string, id: string): Ledger {
  return Ledger.open(findTownRoot(cwd) ? ledgerDirForId(id, cwd) : requireLedgerDirForCwd(cwd));
}

export function resolveMoleculeId(cwd: string, id: string): string {
  const bead = ledgerFor(cwd, id).get(id);
  if (bead.issue_type !== 'molecule') {
    throw new GtError(`${bead.id} is a ${bead.issue_type}, not a molecule`, { hint: '`bd mol list` shows molecules' });
  }
  return bead.id;
}

/** The molecule a step bead belongs to: its parent. */
function moleculeOf(bead: Bead): string | undefined {
  return bead.dependencies?.find((d) => d.type === 'parent-child')?.depends_on_id;
}

/** The molecule and step a gate bead belongs to. */
export function gateTarget(cwd: string, beadId: string): { molecule: string; step: string } {
  const bead = ledgerFor(cwd, beadId).get(beadId);
  const meta = bead.metadata as Partial<StepMeta> | undefined;
  const molecule = moleculeOf(bead);
  if (!molecule || !meta?.step) {
    throw new GtError(`${bead.id} is not a step of a molecule`, { hint: '`bd gate list` shows open gates' });
  }
  if (meta.gate !== 'human' && meta.gate !== 'conditional') {
    throw new GtError(`${bead.id} (step ${meta.step}) is not a human or conditional gate${meta.gate ? ` (it is a ${meta.gate} gate)` : ''}`, {
      hint: 'only human and conditional gates are approved; `bd gate list` shows open gates',
    });
  }
  if (bead.status === 'closed') {
    throw new GtError(`gate ${bead.id} (step ${meta.step}) is already closed${bead.close_reason ? `: ${bead.close_reason}` : ''}`, {
      hint: '`bd gate list` shows open gates',
    });
  }
  return { molecule, step: meta.step };
}

export interface GateRow {
  bead: string;
  molecule: string;
  step: string;
  gate: string;
  status: string;
}

export function listGates(cwd: string): GateRow[] {
  const ledger = Ledger.open(requireLedgerDirForCwd(cwd));
  return ledger
    .list({ issue_type: 'gate' })
    .filter((b) => (b.metadata as Partial<StepMeta> | undefined)?.step && moleculeOf(b))
    .map((b) => {
      const meta = b.metadata as unknown as StepMeta;
      return { bead: b.id, molecule: moleculeOf(b)!, step: meta.step, gate: meta.gate ?? '?', status: b.status };
    });
}

/** A molecule's state from its beads alone (a poured molecule, or when the engine is away). */
export function stateFromLedger(ledger: Ledger, root: Bead): MoleculeState {
  const meta = (root.metadata ?? {}) as Partial<MoleculeMeta>;
  const children = ledger.children(root.id);
  const toStatus = (b: Bead): StepState['status'] =>
    b.status === 'closed' ? (b.close_reason === 'cancelled' ? 'cancelled' : 'succeeded') : b.status === 'in_progress' ? 'running' : b.status === 'blocked' ? 'failed' : 'pending';
  const statuses = children.map(toStatus);
  // Without a run the ledger tells: nothing begun is "poured", every step closed is done.
  const status: MoleculeState['status'] = root.status === 'closed'
    ? (root.close_reason === 'cancelled' ? 'cancelled' : 'succeeded')
    : root.status === 'blocked'
      ? 'failed'
      : statuses.length > 0 && statuses.every((s) => s === 'succeeded')
        ? 'succeeded'
        : statuses.every((s) => s === 'pending')
          ? 'poured'
          : 'running';
  return {
    molecule: root.id,
    formula: meta.formula ?? '?',
    vars: meta.vars ?? {},
    status,
    startedAt: root.created_at,
    endedAt: root.closed_at,
    steps: children.map((b) => {
      const m = (b.metadata ?? {}) as Partial<StepMeta>;
      return {
        id: m.step ?? b.id,
        title: b.title,
        bead: b.id,
        kind: m.kind ?? 'agent',
        needs: (b.dependencies ?? []).filter((d) => d.type === 'blocks').map((d) => (ledger.tryGet(d.depends_on_id)?.metadata as Partial<StepMeta> | undefined)?.step ?? d.depends_on_id),
        status: toStatus(b),
        ...(b.status === 'blocked' ? { reason: failureOf(b) } : {}),
      };
    }),
  };
}

/** Why a step failed, as the run wrote it on its bead. */
function failureOf(b: Bead): string | undefined {
  const c = [...(b.comments ?? [])].reverse().find((x) => x.text.startsWith('step failed: '));
  return c?.text.slice('step failed: '.length);
}

/** `bd mol show`: the engine's live state when the run exists there, else the ledger's view. */
export async function showMolecule(cwd: string, id: string): Promise<{ state: MoleculeState; link?: string }> {
  const ledger = ledgerFor(cwd, id);
  const root = ledger.get(id);
  if (root.issue_type !== 'molecule') throw new GtError(`${root.id} is a ${root.issue_type}, not a molecule`, { hint: '`bd mol list` shows molecules' });
  const town = findTownRoot(cwd);
  if (town) {
    const { withEngine, queryMolecule } = await import('./engine.js');
    const { workflowUiLink } = await import('../temporal/config.js');
    try {
      return await withEngine(town, async (client, config) => ({ state: await queryMolecule(client, root.id), link: workflowUiLink(config, root.id) }));
    } catch (err) {
      if (err instanceof GtError && !/no run of molecule/.test(err.message) && !/cannot reach/.test(err.message)) throw err;
    }
  }
  return { state: stateFromLedger(ledger, root) };
}

export interface MoleculeRow {
  id: string;
  formula: string;
  title: string;
  run: string;
  progress: string;
  created_at: string;
}

export async function listMoleculeRows(cwd: string, all: boolean): Promise<MoleculeRow[]> {
  const ledger = Ledger.open(requireLedgerDirForCwd(cwd));
  const roots = ledger.list({ issue_type: 'molecule', all: true });
  let runs = new Map<string, { runStatus?: string; status: string }>();
  const town = findTownRoot(cwd);
  if (town && roots.length) {
    try {
      const { withEngine, listRuns } = await import('./engine.js');
      runs = await withEngine(town, (client) => listRuns(client));
    } catch {
      // engine not running: the ledger still tells a lot
    }
  }
  const rows = roots.map((root) => {
    const state = stateFromLedger(ledger, root);
    const done = state.steps.filter((s) => s.status === 'succeeded').length;
    const run = runs.get(root.id);
    return {
      id: root.id,
      formula: state.formula,
      title: root.title,
      run: run?.runStatus ?? (run ? run.status.toLowerCase() : state.status),
      progress: `${done}/${state.steps.length}`,
      created_at: root.created_at,
    };
  });
  return rows.filter((r) => all || r.run === 'running' || r.run === 'poured').sort((a, b) => a.created_at.localeCompare(b.created_at));
}
