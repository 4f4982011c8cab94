/** Formula shapes. Import-free: workflows import these. */

export const FORMULA_TYPES = ['workflow', 'convoy', 'expansion', 'aspect'] as const;
export type FormulaType = (typeof FORMULA_TYPES)[number];

export const GATE_TYPES = ['human', 'timer', 'bead'] as const;
export type GateType = (typeof GATE_TYPES)[number];

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
