import { loadFormulaDoc, loadResolvedFormula } from '../town/formulas.js';
import { readRigs, rigPaths } from '../town/layout.js';
import { readRigSettings } from '../town/settings.js';

export const DEFAULT_WORK_FORMULA = 'mol-polecat-work';

export interface ChecklistStep {
  id: string;
  title: string;
  description?: string;
  acceptance?: string;
  needs: string[];
}

export interface Checklist {
  formula: string;
  steps: ChecklistStep[];
}

/**
 * The work checklist of a polecat's bead: its formula resolved with the vars Gas Town knows
 * (`issue`, `base_branch`, `test_command`, where the formula declares them) and those given to
 * `gt sling --var`. Throws a FormulaError naming file, line and field when it does not resolve.
 */
export function workChecklist(root: string, rig: string, bead: string, formula = DEFAULT_WORK_FORMULA, vars: Record<string, string> = {}): Checklist {
  const cwd = rigPaths(root, rig).dir;
  const declared = new Set(loadFormulaDoc(formula, cwd).doc.vars.map((v) => v.name));
  const known: Record<string, string> = {
    issue: bead,
    base_branch: readRigs(root).rigs[rig]?.default_branch ?? 'main',
    test_command: readRigSettings(root, rig).merge_queue?.test_command ?? '',
  };
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(known)) if (declared.has(k)) all[k] = v;
  Object.assign(all, vars);
  const resolved = loadResolvedFormula(formula, { cwd, vars: all });
  return {
    formula: resolved.name,
    steps: resolved.steps.map((s) => ({ id: s.id, title: s.title, description: s.description, acceptance: s.acceptance, needs: s.needs })),
  };
}
