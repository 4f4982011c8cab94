/** What a molecule run looks like from outside: the workflow's query answer. Import-free. */
import type { ResolvedFormula } from '../formula/types.js';

export type StepStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'not-run' | 'cancelled';
/** `poured`: in the ledger only, no run started and no step begun (seen from the ledger, never from a run). */
export type RunStatus = 'poured' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface StepState {
  id: string;
  title: string;
  bead: string;
  /** `group`: a step with children, done when they all are. */
  kind: 'run' | 'agent' | 'gate' | 'group';
  needs: string[];
  status: StepStatus;
  attempts?: number;
  startedAt?: string;
  endedAt?: string;
  /** Why it failed or was not run. */
  reason?: string;
  /** For gates: what it waits on. */
  waitingFor?: string;
}

export interface MoleculeState {
  molecule: string;
  formula: string;
  vars: Record<string, string>;
  status: RunStatus;
  startedAt: string;
  endedAt?: string;
  steps: StepState[];
}

/** The workflow's input: everything it needs, so a run never depends on files changing later. */
export interface MoleculeInput {
  molecule: string;
  /** Ledger folder holding the molecule and its step beads. */
  ledgerDir: string;
  /** Folder `run` steps and agents work in. */
  cwd: string;
  formula: ResolvedFormula;
  /** step id → step bead id */
  stepBeads: Record<string, string>;
  maxParallel: number;
  /** Heartbeat timeout of step activities, e.g. "30s": how fast a dead worker is noticed. */
  heartbeatTimeout: string;
  /** Agent name to use for agent steps with no `agent` of their own. */
  defaultAgent?: string;
  /** Steps whose beads were already closed (by hand, as agents do in the original) when the run started. */
  done?: string[];
}

export interface GateApproval {
  step: string;
  approver: string;
  note?: string;
}

export interface GateReceipt {
  molecule: string;
  step: string;
  bead: string;
  approver: string;
  approvedAt: string;
}

/** A batch of ledger changes the workflow asks for in one activity. */
export interface StepBeadChange {
  bead: string;
  status: 'in_progress' | 'closed' | 'blocked' | 'open';
  reason?: string;
  comment?: string;
  labels?: string[];
  /** Made already by the step's own activity (and told in the event stream there): written again only if that write was lost. */
  again?: boolean;
}

/** How a `run` step that succeeded is closed; the close is also its record that the command is done. */
export function runStepDoneReason(attempt: number): string {
  return `done (exit 0, attempt ${attempt})`;
}

export const MOLECULE_QUERY = 'state';
export const APPROVE_GATE_UPDATE = 'approveGate';
