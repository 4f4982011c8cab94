/** Formula shapes. Import-free: workflows import these. */

export const FORMULA_TYPES = ['workflow', 'convoy', 'expansion', 'aspect'] as const;
export type FormulaType = (typeof FORMULA_TYPES)[number];

/** `conditional` (the original's): waits, like `human`, until someone approves it; its condition says what to check. */
export const GATE_TYPES = ['human', 'timer', 'bead', 'conditional'] as const;
export type GateType = (typeof GATE_TYPES)[number];

/** A step's `type`, as the original accepts it (its bead's issue type; `parallel` for a group). */
export const STEP_TYPES = ['task', 'bug', 'feature', 'epic', 'chore', 'parallel'] as const;

export interface VarSpec {
  name: string;
  description?: string;
  required?: boolean;
  default?: string;
  enum?: string[];
  pattern?: string;
}

export interface GateSpec {
  type: GateType;
  /** How long to wait: for `timer` the delay, otherwise the give-up time. e.g. "24h". */
  timeout?: string;
  /** For `bead` gates: the bead whose close opens the gate. */
  id?: string;
  /** For `conditional` gates: what the approver checks before approving. */
  condition?: string;
}

/** A step after resolution: extends, expansions and conditions applied, vars rendered. */
export interface ResolvedStep {
  id: string;
  title: string;
  description?: string;
  acceptance?: string;
  needs: string[];
  gate?: GateSpec;
  run?: string;
  agent?: string;
  /** Duration string such as "30m". */
  timeout?: string;
  retries?: number;
  /** A group (a step with `[[steps.children]]`): its children. It is done when they all are. */
  children?: string[];
  /** A child step: the group it belongs to. */
  parent?: string;
  /**
   * Only in previews (`bd formula show` without all vars): the condition that could not be
   * decided yet. A formula resolved to run never has it: skipped steps are gone.
   */
  condition?: string;
}

/** A formula ready to pour: a validated DAG with every `{{var}}` substituted. */
export interface ResolvedFormula {
  name: string;
  type: FormulaType;
  description?: string;
  version?: number;
  /** Where it came from (file path or "built-in"). */
  source: string;
  /** The final value of every var (given, or default). */
  vars: Record<string, string>;
  steps: ResolvedStep[];
}
