/**
 * Formulas: parse (smol-toml), check, resolve (extends, expansions, conditions, vars) and render.
 * Pure: no Node imports, so workflows may import this folder. Finding files is src/town/formulas.ts.
 */
export * from './types.js';
export { FormulaError, FormulaProblems, problemsOf, closest, type FormulaLocation } from './errors.js';
export { parseDuration, durationProblem, formatDuration, DURATION_HINT } from './duration.js';
export { parseCondition, evaluateCondition, isTruthy, type Condition } from './condition.js';
export { envNameOf, varEnv, renderRun, substituteVars, varsUsedIn, parseVarArgs, checkVars, VAR_NAME } from './vars.js';
export { parseFormula, FORMULA_NAME, SYNTHESIS_STEP_ID, type FormulaDoc, type FormulaNote, type StepDoc, type VarDoc, type LegDoc, type SynthesisDoc, type ComposeExpandDoc } from './parse.js';
export { resolveFormula, mergeFormula, DocCache, type FormulaLoader, type LoadedSource, type ResolveOptions, type MergedFormula } from './resolve.js';
export { renderDag, DAG_FORMATS, type DagFormat } from './render.js';
export { findCycle, topoSort, levels } from './graph.js';
