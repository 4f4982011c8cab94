import { closest, FormulaError, throwProblems, type FormulaLocation } from './errors.js';
import { evaluateCondition, parseCondition } from './condition.js';
import { findCycle, sinks, topoSort } from './graph.js';
import { parseFormula, SYNTHESIS_STEP_ID, type ComposeExpandDoc, type FormulaDoc, type LegDoc, type Located, type StepDoc, type SynthesisDoc, type VarDoc } from './parse.js';
import { checkVars, renderRun, substituteVars, varsUsedIn } from './vars.js';
import type { GateSpec, ResolvedFormula, ResolvedStep } from './types.js';

/** A formula's text and where it came from, as the loader finds it. */
export interface LoadedSource {
  /** Path (or other name) used in error messages. */
  file: string;
  source: string;
}

/**
 * Finds another formula by name (a parent in `extends`, an expansion in `expand` / `compose`).
 * `ref` is where the name was written, for the not-found error. The loader does the I/O so this
 * module stays pure; it throws when there is no such formula.
 */
export type FormulaLoader = (name: string, ref: FormulaLocation) => LoadedSource;

export interface ResolveOptions {
  /** Values given with `--var`. */
  vars?: Readonly<Record<string, string>>;
  load: FormulaLoader;
  /**
   * true (default, for running): every required var must be given and every condition decided.
   * false (for `show` and `lint`): missing vars are allowed; their `{{name}}` stays in the text
   * and a condition on them keeps its step, marked with `condition`.
   */
  strict?: boolean;
  /** `ResolvedFormula.source`; defaults to the root file. */
  source?: string;
}

/** A formula with its `extends` applied: parents' vars, steps and legs first, same ids replaced. */
export interface MergedFormula extends FormulaDoc {
  /** Every file it was built from, the root last. */
  files: string[];
}

/** Parse, merge, expand, check and render a formula: what `bd cook` pours. Pure; I/O is `load`. */
export function resolveFormula(root: FormulaDoc, opts: ResolveOptions): ResolvedFormula {
  const strict = opts.strict ?? true;
  const docs = new DocCache(opts.load);
  const merged = mergeFormula(root, opts.load, docs);
  const values = checkVars(merged.vars, opts.vars ?? {}, { name: merged.name, file: root.file, line: root.lines.vars ?? root.lines.formula ?? 1 }, { strict });

  let steps = stepsOf(merged);
  checkNeeds(steps);
  steps = expandAll(steps, merged.composeExpand, docs);
  checkGraph(steps);
  checkVarRefs(steps, new Set(merged.vars.map((v) => v.name)));
  const kept = applyConditions(steps, values, strict);

  const resolved: ResolvedStep[] = topoSort(kept).map((k) => render(k, values));
  const out: ResolvedFormula = {
    name: merged.name,
    type: merged.type,
    source: opts.source ?? root.file,
    vars: values,
    steps: resolved,
  };
  if (merged.description !== undefined) out.description = substituteVars(merged.description, values);
  if (merged.version !== undefined) out.version = merged.version;
  return out;
}

/** Apply `extends` (recursively): parents first, in order, then the formula itself. */
export function mergeFormula(root: FormulaDoc, load: FormulaLoader, docs: DocCache = new DocCache(load)): MergedFormula {
  return merge(root, docs, [root.name]);
}

/** Parsed formulas by name, so a formula used twice (two expansions, a diamond of parents) is read once. */
export class DocCache {
  private readonly docs = new Map<string, FormulaDoc>();
  constructor(private readonly load: FormulaLoader) {}
  get(name: string, ref: FormulaLocation): FormulaDoc {
    let doc = this.docs.get(name);
    if (!doc) {
      const src = this.load(name, ref);
      doc = parseFormula(src.source, src.file);
      this.docs.set(name, doc);
    }
    return doc;
  }
}

function merge(doc: FormulaDoc, docs: DocCache, chain: string[]): MergedFormula {
  if (doc.extends.length === 0) return { ...doc, files: [doc.file] };
  const at = { file: doc.file, line: doc.lines.extends, field: 'extends' };
  const vars = new Map<string, VarDoc>();
  const steps: StepDoc[] = [];
  const legs: LegDoc[] = [];
  const compose: ComposeExpandDoc[] = [];
  let synthesis: SynthesisDoc | undefined;
  let prompts: Record<string, string> = {};
  const files: string[] = [];

  const add = (f: FormulaDoc) => {
    for (const v of f.vars) vars.set(v.name, v);
    replaceById(steps, f.steps);
    replaceById(legs, f.legs);
    compose.push(...f.composeExpand);
    synthesis = f.synthesis ?? synthesis;
    prompts = { ...prompts, ...f.prompts };
  };

  for (const name of doc.extends) {
    if (chain.includes(name)) {
      throw new FormulaError(`extends cycle: ${[...chain, name].join(' → ')}`, at, { hint: 'a formula cannot be its own ancestor; remove one of the extends' });
    }
    const parent = merge(docs.get(name, at), docs, [...chain, name]);
    if (parent.type !== doc.type) {
      throw new FormulaError(`a ${doc.type} formula cannot extend "${name}", which is a ${parent.type} formula`, at,
        { hint: `extend a ${doc.type} formula, or set type = "${parent.type}"` });
    }
    files.push(...parent.files.filter((f) => !files.includes(f)));
    add(parent);
  }
  add(doc);
  files.push(doc.file);
  return { ...doc, vars: [...vars.values()], steps, legs, composeExpand: compose, synthesis, prompts, files };
}

function replaceById<T extends { id: string }>(into: T[], items: readonly T[]): void {
  for (const item of items) {
    const i = into.findIndex((x) => x.id === item.id);
    if (i >= 0) into[i] = item;
    else into.push(item);
  }
}

/** A step while resolving: the written fields plus what expansion and conditions add. */
interface WorkStep {
  id: string;
  title: string;
  description?: string;
  acceptance?: string;
  needs: string[];
  conditions: string[];
  gate?: GateSpec;
  run?: string;
  agent?: string;
  timeout?: string;
  retries?: number;
  expand?: string;
  /** Where `expand` was asked for (the step's field or a `[[compose.expand]]` entry). */
  expandAt?: FormulaLocation;
  /** Expansion formulas this step came out of, outermost first (to refuse expansion cycles). */
  chain: string[];
  at: Located;
  /** The key its needs were written under, for error locations. */
  needsKey: string;
}

function where(step: WorkStep, field: string): FormulaLocation {
  return { file: step.at.file, line: step.at.lines[field] ?? step.at.line, field: `${step.at.label}.${field}` };
}

function fromStepDoc(s: StepDoc): WorkStep {
  const w: WorkStep = {
    id: s.id, title: s.title ?? s.id, description: s.description, acceptance: s.acceptance, needs: [...s.needs],
    conditions: s.condition ? [s.condition] : [], gate: s.gate, run: s.run, agent: s.agent, timeout: s.timeout,
    retries: s.retries, expand: s.expand, chain: [], at: s, needsKey: s.lines.needs !== undefined || s.lines.depends_on === undefined ? 'needs' : 'depends_on',
  };
  if (s.expand !== undefined) w.expandAt = { file: s.file, line: s.lines.expand ?? s.line, field: `${s.label}.expand` };
  return w;
}

/** The steps a formula runs, before expansion: its steps, or its legs and their synthesis. */
function stepsOf(f: MergedFormula): WorkStep[] {
  if (f.type === 'workflow') return f.steps.map(fromStepDoc);
  if (f.type === 'expansion') {
    // Alone, an expansion shows as if it expanded a step named "main".
    const main: WorkStep = {
      id: 'main', title: f.description?.split('\n')[0] || f.name, needs: [], conditions: [], chain: [],
      at: { file: f.file, line: 1, lines: {}, label: 'template' }, needsKey: 'needs',
    };
    return instantiate(f, main);
  }
  const legIds = f.legs.map((l) => l.id);
  const steps: WorkStep[] = f.legs.map((leg) => ({
    id: leg.id, title: leg.title, description: legDescription(leg, f), needs: [], conditions: [], chain: [], at: leg, needsKey: 'needs',
  }));
  const s = f.synthesis;
  if (s) {
    for (const dep of s.dependsOn) {
      if (!legIds.includes(dep)) {
        const guess = closest(dep, legIds);
        throw new FormulaError(`names "${dep}", which is not a leg of this formula`, { file: s.file, line: s.lines.depends_on ?? s.line, field: 'synthesis.depends_on' },
          { hint: guess ? `did you mean "${guess}"?` : `legs: ${legIds.join(', ')}` });
      }
    }
    steps.push({
      id: SYNTHESIS_STEP_ID, title: s.title, description: s.description, acceptance: s.acceptance,
      needs: s.dependsOn.length > 0 ? [...s.dependsOn] : legIds, conditions: [], chain: [], at: s, needsKey: 'depends_on',
    });
  }
  return steps;
}

/** A leg's prompt: `[prompts] base` with `{{leg.*}}` filled in, else its focus and description. */
function legDescription(leg: LegDoc, f: MergedFormula): string | undefined {
  const base = f.prompts.base;
  if (base !== undefined) {
    const fields: Record<string, string> = {
      'leg.id': leg.id, 'leg.title': leg.title, 'leg.focus': leg.focus ?? '', 'leg.description': leg.description ?? '', formula: f.name,
    };
    return base.replace(/\{\{\s*(leg\.(?:id|title|focus|description)|formula)\s*\}\}/g, (_, k: string) => fields[k]!);
  }
  if (leg.focus === undefined) return leg.description;
  return `Focus: ${leg.focus}${leg.description ? `\n\n${leg.description}` : ''}`;
}

/** A `needs` naming no step is an error at the line it was written. */
function checkNeeds(steps: readonly WorkStep[]): void {
  const ids = steps.map((s) => s.id);
  const known = new Set(ids);
  const problems: FormulaError[] = [];
  for (const s of steps) {
    for (const need of s.needs) {
      if (known.has(need)) continue;
      const guess = closest(need, ids);
      problems.push(new FormulaError(`step "${s.id}" needs "${need}", which is not a step of this formula`, where(s, s.needsKey),
        { hint: guess ? `did you mean "${guess}"?` : `steps: ${ids.join(', ')}` }));
    }
  }
  throwProblems(problems);
  checkGraph(steps);
}

/** `[a, c, b, a]` → "a needs c, c needs b, b needs a". */
function describeCycle(cycle: readonly string[]): string {
  return cycle.slice(0, -1).map((id, i) => `"${id}" needs "${cycle[i + 1]}"`).join(', ');
}

/** Unique ids and no cycle. */
function checkGraph(steps: readonly WorkStep[]): void {
  const seen = new Map<string, WorkStep>();
  for (const s of steps) {
    const first = seen.get(s.id);
    if (first) {
      const fromExpansion = s.chain.length > 0 ? ` (made by expanding with ${s.chain.join(' → ')}; template ids should contain {target})` : '';
      throw new FormulaError(`duplicate step id "${s.id}"${fromExpansion}; also at ${first.at.file}:${first.at.line}`, where(s, 'id'),
        { hint: 'give each step a unique id' });
    }
    seen.set(s.id, s);
  }
  const cycle = findCycle(steps);
  if (cycle) {
    const first = seen.get(cycle[0]!)!;
    throw new FormulaError(`dependency cycle: ${describeCycle(cycle)}`, where(first, first.needsKey),
      { hint: `steps ${cycle.slice(0, -1).join(', ')} wait on each other; remove one of these needs` });
  }
}

/**
 * Replace every step marked for expansion by the expansion formula's template. The template's
 * first steps inherit the step's needs; steps that needed it now need the template's last steps.
 */
function expandAll(input: WorkStep[], compose: readonly ComposeExpandDoc[], docs: DocCache): WorkStep[] {
  let steps = [...input];
  for (const c of compose) {
    const at = { file: c.file, line: c.lines.target ?? c.line, field: `${c.label}.target` };
    const target = steps.find((s) => s.id === c.target);
    if (!target) {
      const guess = closest(c.target, steps.map((s) => s.id));
      throw new FormulaError(`targets "${c.target}", which is not a step of this formula`, at,
        { hint: guess ? `did you mean "${guess}"?` : `steps: ${steps.map((s) => s.id).join(', ')}` });
    }
    if (target.expand !== undefined && target.expand !== c.with) {
      throw new FormulaError(`step "${c.target}" is already expanded with "${target.expand}"`, at, { hint: 'expand a step with one formula only' });
    }
    target.expand = c.with;
    target.expandAt = { file: c.file, line: c.lines.with ?? c.line, field: `${c.label}.with` };
  }

  for (let guard = 0; ; guard++) {
    const i = steps.findIndex((s) => s.expand !== undefined);
    if (i < 0) return steps;
    if (guard > 1000) throw new FormulaError('expansions go on without end', steps[i]!.expandAt!, { hint: 'an expansion template must not expand itself' });
    const target = steps[i]!;
    const at = target.expandAt!;
    const name = target.expand!;
    if (target.chain.includes(name)) {
      throw new FormulaError(`expansion cycle: ${[...target.chain, name].join(' → ')}`, at, { hint: 'an expansion template must not expand with a formula it came from' });
    }
    const exp = docs.get(name, at);
    if (exp.type !== 'expansion') {
      throw new FormulaError(`"${name}" is a ${exp.type} formula; only an expansion formula (type = "expansion", [[template]] steps) can replace a step`, at,
        { hint: 'name an expansion formula such as "rule-of-five"' });
    }
    const replacement = instantiate(exp, target);
    const ends = sinks(replacement).map((s) => s.id);
    steps = [...steps.slice(0, i), ...replacement, ...steps.slice(i + 1)];
    for (const s of steps) {
      if (s.needs.includes(target.id)) s.needs = [...new Set(s.needs.flatMap((n) => (n === target.id ? ends : [n])))];
    }
  }
}

/** The template of an expansion formula, made for one target step. */
function instantiate(exp: FormulaDoc, target: WorkStep): WorkStep[] {
  const fill = (text: string) =>
    text.replace(/\{target(?:\.(id|title|description))?\}/g, (_, field?: string) =>
      field === 'title' ? target.title : field === 'description' ? (target.description ?? '') : target.id);
  const ids = exp.template.map((t) => fill(t.id));
  const steps = exp.template.map((t, i): WorkStep => {
    const needs = t.needs.map(fill);
    for (const need of needs) {
      if (!ids.includes(need)) {
        throw new FormulaError(`template step "${t.id}" needs "${need}", which is not a template step of "${exp.name}"`,
          { file: t.file, line: t.lines.needs ?? t.lines.depends_on ?? t.line, field: `${t.label}.needs` },
          { hint: `template steps: ${exp.template.map((x) => x.id).join(', ')}` });
      }
    }
    const w: WorkStep = {
      id: ids[i]!,
      title: fill(t.title ?? t.id),
      needs: needs.length > 0 ? needs : [...target.needs],
      conditions: [...target.conditions, ...(t.condition ? [t.condition] : [])],
      chain: [...target.chain, exp.name],
      at: t,
      needsKey: 'needs',
      agent: t.agent ?? target.agent,
      timeout: t.timeout ?? target.timeout,
      retries: t.retries ?? target.retries,
    };
    if (t.description !== undefined) w.description = fill(t.description);
    if (t.acceptance !== undefined) w.acceptance = fill(t.acceptance);
    if (t.run !== undefined) w.run = fill(t.run);
    if (t.gate) w.gate = t.gate.id !== undefined ? { ...t.gate, id: fill(t.gate.id) } : { ...t.gate };
    if (t.expand !== undefined) {
      w.expand = t.expand;
      w.expandAt = { file: t.file, line: t.lines.expand ?? t.line, field: `${t.label}.expand` };
    }
    return w;
  });
  const cycle = findCycle(steps);
  if (cycle) {
    const first = steps.find((s) => s.id === cycle[0])!;
    throw new FormulaError(`dependency cycle in template: ${describeCycle(cycle)}`, where(first, 'needs'), { hint: 'remove one of these needs' });
  }
  return steps;
}

/** Every `{{name}}` a step uses must be a var of the formula (as the original checks). */
function checkVarRefs(steps: readonly WorkStep[], declared: ReadonlySet<string>): void {
  const problems: FormulaError[] = [];
  for (const s of steps) {
    const fields: Array<[string, string | undefined]> = [
      ['title', s.title], ['description', s.description], ['acceptance', s.acceptance], ['run', s.run], ['gate', s.gate?.id],
      ...s.conditions.map((c): [string, string] => ['condition', c]),
    ];
    for (const [field, text] of fields) {
      for (const name of varsUsedIn(text)) {
        if (declared.has(name)) continue;
        const guess = closest(name, [...declared]);
        problems.push(new FormulaError(`uses {{${name}}}, which is not a var of this formula`, where(s, field),
          { hint: guess ? `did you mean {{${guess}}}?` : `declare it: [vars.${name}] with a description and a default or required = true` }));
      }
    }
  }
  throwProblems(problems);
}

interface KeptStep {
  id: string;
  needs: string[];
  step: WorkStep;
  /** The conditions a preview could not decide. */
  undecided: string[];
}

/** Drop steps whose condition is false; their dependents inherit their needs. */
function applyConditions(steps: readonly WorkStep[], values: Readonly<Record<string, string>>, strict: boolean): KeptStep[] {
  const skipped = new Map<string, string[]>();
  const undecided = new Map<string, string[]>();
  for (const s of steps) {
    const open: string[] = [];
    let run = true;
    for (const text of s.conditions) {
      const cond = parseCondition(text)!;
      if (!strict && !Object.hasOwn(values, cond.var)) open.push(text);
      else if (!evaluateCondition(cond, values)) run = false;
    }
    if (run) undecided.set(s.id, open);
    else skipped.set(s.id, s.needs);
  }
  const effective = (id: string, seen = new Set<string>()): string[] => {
    const needs = skipped.get(id);
    if (!needs) return [id];
    if (seen.has(id)) return [];
    seen.add(id);
    return needs.flatMap((n) => effective(n, seen));
  };
  return steps
    .filter((s) => !skipped.has(s.id))
    .map((s) => ({ id: s.id, needs: [...new Set(s.needs.flatMap((n) => effective(n)))], step: s, undecided: undecided.get(s.id)! }));
}

function render(k: KeptStep, values: Readonly<Record<string, string>>): ResolvedStep {
  const s = k.step;
  const out: ResolvedStep = { id: s.id, title: substituteVars(s.title, values), needs: k.needs };
  if (s.description !== undefined) out.description = substituteVars(s.description, values);
  if (s.acceptance !== undefined) out.acceptance = substituteVars(s.acceptance, values);
  if (s.gate) {
    out.gate = { type: s.gate.type };
    if (s.gate.timeout !== undefined) out.gate.timeout = s.gate.timeout;
    if (s.gate.id !== undefined) out.gate.id = substituteVars(s.gate.id, values);
  }
  if (s.run !== undefined) out.run = renderRun(s.run);
  if (s.agent !== undefined) out.agent = s.agent;
  if (s.timeout !== undefined) out.timeout = s.timeout;
  if (s.retries !== undefined) out.retries = s.retries;
  if (k.undecided.length > 0) out.condition = k.undecided.join(' && ');
  return out;
}
