import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { GtError } from '../errors.js';
import { PROJECT_ROOT } from '../temporal/binary.js';
import { findTownRoot, readRigs, rigPaths, townPaths } from './layout.js';
import {
  closest, FORMULA_NAME, FormulaError, mergeFormula, parseFormula, problemsOf, renderDag, resolveFormula,
  type DagFormat, type FormulaDoc, type FormulaLoader, type FormulaLocation, type FormulaNote, type FormulaType, type ResolvedFormula,
} from '../formula/index.js';

/**
 * Finding formula files: `<name>.formula.toml` (or `<name>.toml`) in the rig's `.beads/formulas/`,
 * the town's `.beads/formulas/`, `~/.beads/formulas/`, then the built-ins shipped in `formulas/`.
 * First match wins. This is the I/O half of formulas; src/formula stays pure.
 */

export const BUILTIN_FORMULAS_DIR = join(PROJECT_ROOT, 'formulas');
export const FORMULA_SUFFIXES = ['.formula.toml', '.toml'] as const;

export type FormulaOrigin = 'file' | 'rig' | 'town' | 'user' | 'built-in';

export interface FormulaDir {
  origin: FormulaOrigin;
  dir: string;
  /** e.g. `rig myrig`, for messages. */
  label: string;
}

export interface FoundFormula {
  name: string;
  path: string;
  origin: FormulaOrigin;
}

/** The folders searched from `cwd`, in order. Folders that do not exist are still listed (errors say where we looked). */
export function formulaSearchPath(cwd: string): FormulaDir[] {
  const dirs: FormulaDir[] = [];
  const root = findTownRoot(cwd);
  if (root) {
    const rig = rigOf(root, cwd);
    if (rig) dirs.push({ origin: 'rig', dir: join(rigPaths(root, rig).beads, 'formulas'), label: `rig ${rig}` });
    dirs.push({ origin: 'town', dir: join(townPaths(root).beads, 'formulas'), label: 'town' });
  }
  dirs.push({ origin: 'user', dir: join(homedir(), '.beads', 'formulas'), label: 'user' });
  dirs.push({ origin: 'built-in', dir: BUILTIN_FORMULAS_DIR, label: 'built-in' });
  return dirs;
}

/** The rig whose folder holds `cwd` (a polecat worktree or crew clone counts), else GT_RIG. */
function rigOf(root: string, cwd: string): string | undefined {
  const rigs = Object.keys(readRigs(root).rigs);
  const rel = relative(root, resolve(cwd));
  const first = rel.split(sep)[0];
  if (first && !rel.startsWith('..') && rigs.includes(first)) return first;
  const fromEnv = process.env.GT_RIG;
  return fromEnv && rigs.includes(fromEnv) ? fromEnv : undefined;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function lookIn(dirs: readonly FormulaDir[], name: string): FoundFormula | undefined {
  for (const d of dirs) {
    for (const suffix of FORMULA_SUFFIXES) {
      const path = join(d.dir, name + suffix);
      if (isFile(path)) return { name, path, origin: d.origin };
    }
  }
  return undefined;
}

function describeSearch(dirs: readonly FormulaDir[], name: string): string {
  return dirs.map((d) => `  - ${join(d.dir, name + FORMULA_SUFFIXES[0])} (${d.label}${existsSync(d.dir) ? '' : ', folder missing'})`).join('\n');
}

/** Whether a command-line argument names a file rather than a formula. */
export function isFormulaPath(arg: string): boolean {
  return arg.includes('/') || arg.includes('\\') || arg.endsWith('.toml');
}

/**
 * Find a formula by name from `cwd`. Not found → an error listing each place it looked; when
 * `ref` is given (a name written in `extends` or `expand`) the error points at that line.
 */
export function findFormula(name: string, cwd: string, opts: { ref?: FormulaLocation; dirs?: FormulaDir[] } = {}): FoundFormula {
  const dirs = opts.dirs ?? formulaSearchPath(cwd);
  if (!FORMULA_NAME.test(name)) {
    const msg = `"${name}" is not a formula name`;
    const hint = 'formula names use letters, digits, ".", "_" and "-"; to use a file give its path (e.g. ./my.formula.toml)';
    throw opts.ref ? new FormulaError(msg, opts.ref, { hint }) : new GtError(msg, { hint, exitCode: 2 });
  }
  const found = lookIn(dirs, name);
  if (found) return found;
  const known = [...new Set(dirs.flatMap((d) => namesIn(d.dir)))];
  const guess = closest(name, known);
  const msg = `no formula named "${name}"; looked in:\n${describeSearch(dirs, name)}`;
  const hint = guess ? `did you mean "${guess}"? (\`bd formula list\` shows them all)` : '`bd formula list` shows the formulas there are';
  throw opts.ref ? new FormulaError(msg, opts.ref, { hint }) : new GtError(msg, { hint });
}

function namesIn(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const names: string[] = [];
  // `.formula.toml` before plain `.toml`, so `x.formula.toml` wins over `x.toml` as lookIn does.
  for (const suffix of FORMULA_SUFFIXES) {
    for (const entry of entries.sort()) {
      if (!entry.endsWith(suffix)) continue;
      const name = entry.slice(0, -suffix.length);
      if (FORMULA_NAME.test(name) && !name.endsWith('.formula') && !names.includes(name) && isFile(join(dir, entry))) names.push(name);
    }
  }
  return names;
}

function readSource(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GtError(`cannot read formula file ${path}: ${(err as Error).message}`);
  }
}

/** A loader for `extends` / `expand` names; a formula given by path sees its own folder first. */
export function formulaLoader(cwd: string, rootFile?: string): FormulaLoader {
  const dirs = formulaSearchPath(cwd);
  if (rootFile) dirs.unshift({ origin: 'file', dir: dirname(rootFile), label: 'beside the formula' });
  return (name, ref) => {
    const found = findFormula(name, cwd, { ref, dirs });
    return { file: found.path, source: readSource(found.path) };
  };
}

export interface LoadedFormula {
  doc: FormulaDoc;
  found: FoundFormula;
  load: FormulaLoader;
}

/** Read and parse a formula given by name (searched) or by path (relative to `cwd`). */
export function loadFormulaDoc(nameOrPath: string, cwd: string): LoadedFormula {
  let found: FoundFormula;
  if (isFormulaPath(nameOrPath)) {
    const path = resolve(cwd, nameOrPath);
    if (!isFile(path)) throw new GtError(`no formula file ${path}`, { hint: 'check the path, or give a formula name (see `bd formula list`)' });
    found = { name: formulaNameOfFile(path), path, origin: 'file' };
  } else {
    found = findFormula(nameOrPath, cwd);
  }
  const doc = parseFormula(readSource(found.path), found.path);
  return { doc, found, load: formulaLoader(cwd, found.origin === 'file' ? found.path : undefined) };
}

function formulaNameOfFile(path: string): string {
  const base = basename(path);
  for (const suffix of FORMULA_SUFFIXES) if (base.endsWith(suffix)) return base.slice(0, -suffix.length);
  return base;
}

function sourceOf(found: FoundFormula): string {
  return found.origin === 'built-in' ? 'built-in' : found.path;
}

/**
 * What `bd cook` pours: the formula found from `cwd`, with `extends`, expansions and conditions
 * applied, vars checked and substituted. Throws `FormulaError` (file, line, field) before
 * anything runs. `strict: false` is the preview used by `bd formula show`.
 */
export function loadResolvedFormula(nameOrPath: string, opts: { cwd: string; vars?: Record<string, string>; strict?: boolean }): ResolvedFormula {
  const { doc, found, load } = loadFormulaDoc(nameOrPath, opts.cwd);
  return resolveFormula(doc, { vars: opts.vars ?? {}, load, strict: opts.strict, source: sourceOf(found) });
}

export { renderDag, type DagFormat };

export interface FormulaVarSummary {
  name: string;
  required: boolean;
  default?: string;
  description?: string;
  enum?: string[];
}

export interface FormulaSummary {
  name: string;
  type?: FormulaType;
  description?: string;
  origin: FormulaOrigin;
  source: string;
  path: string;
  steps?: number;
  vars: FormulaVarSummary[];
  /** Formulas of the same name further down the search path, hidden by this one. */
  shadows: string[];
  /** Set when the formula does not parse or resolve. */
  error?: string;
}

/** Every formula visible from `cwd`, first match per name, sorted by name. Broken files are listed with their error. */
export function listFormulas(cwd: string): FormulaSummary[] {
  const dirs = formulaSearchPath(cwd);
  const byName = new Map<string, FormulaSummary>();
  for (const d of dirs) {
    for (const name of namesIn(d.dir)) {
      const found = lookIn([d], name)!;
      const seen = byName.get(name);
      if (seen) {
        seen.shadows.push(found.path);
        continue;
      }
      byName.set(name, summarize(found, cwd));
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function summarize(found: FoundFormula, cwd: string): FormulaSummary {
  const summary: FormulaSummary = { name: found.name, origin: found.origin, source: sourceOf(found), path: found.path, vars: [], shadows: [] };
  try {
    const doc = parseFormula(readSource(found.path), found.path);
    const load = formulaLoader(cwd);
    summary.type = doc.type;
    summary.description = doc.description?.trim().split('\n')[0];
    const merged = mergeFormula(doc, load);
    summary.vars = merged.vars.map((v) => {
      const s: FormulaVarSummary = { name: v.name, required: v.required === true };
      if (v.default !== undefined) s.default = v.default;
      if (v.description !== undefined) s.description = v.description;
      if (v.enum) s.enum = v.enum;
      return s;
    });
    summary.steps = resolveFormula(doc, { load, strict: false }).steps.length;
  } catch (err) {
    summary.error = err instanceof Error ? err.message : String(err);
  }
  return summary;
}

export interface LintResult {
  file: string;
  name?: string;
  ok: boolean;
  problems: FormulaError[];
  /** Step count of the resolved DAG when it resolves. */
  steps?: number;
  /** Keys the original uses that do nothing here, with why (not problems). */
  notes: FormulaNote[];
}

/**
 * Check a formula file as deeply as can be done without var values: syntax, every field, then
 * `extends`, expansions, needs, cycles and var references through a preview resolution.
 */
export function lintFormula(fileOrName: string, cwd: string): LintResult {
  const found: FoundFormula = isFormulaPath(fileOrName)
    ? { name: formulaNameOfFile(resolve(cwd, fileOrName)), path: resolve(cwd, fileOrName), origin: 'file' }
    : findFormula(fileOrName, cwd);
  if (!isFile(found.path)) throw new GtError(`no formula file ${found.path}`, { hint: 'check the path' });
  const result: LintResult = { file: found.path, ok: false, problems: [], notes: [] };
  try {
    const doc = parseFormula(readSource(found.path), found.path);
    result.name = doc.name;
    if (doc.name && doc.name !== found.name) {
      result.problems.push(new FormulaError(`the file is named "${basename(found.path)}" but declares formula = "${doc.name}"; it is found by its file name`,
        { file: found.path, line: doc.lines.formula, field: 'formula' }, { hint: `rename the file to ${doc.name}.formula.toml or set formula = "${found.name}"` }));
    }
    const resolved = resolveFormula(doc, { load: formulaLoader(cwd, found.origin === 'file' ? found.path : undefined), strict: false, notes: result.notes });
    result.steps = resolved.steps.length;
  } catch (err) {
    const problems = problemsOf(err);
    if (problems.length === 0) throw err;
    result.problems.push(...problems);
  }
  result.notes.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file === found.path ? -1 : b.file === found.path ? 1 : a.file.localeCompare(b.file)));
  result.ok = result.problems.length === 0;
  return result;
}
