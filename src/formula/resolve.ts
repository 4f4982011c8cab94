import { closest, FormulaError, throwProblems, type FormulaLocation } from './errors.js';
import { evaluateCondition, parseCondition } from './condition.js';
import { findCycle, topoSort } from './graph.js';
import {
  parseFormula, SYNTHESIS_STEP_ID, type AdviceDoc, type AdviceStepDoc, type ComposeExpandDoc, type FormulaDoc, type FormulaNote, type LegDoc,
  type Located, type OutputDoc, type PresetDoc, type StepDoc, type SynthesisDoc, type VarDoc,
} from './parse.js';
import { looksLikeGoTemplate, parseGoTemplate, renderGoTemplate, type TemplateValue } from './gotemplate.js';
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
  /** Lint notes of every formula file used (the root, parents, expansions, aspects) are added here. */
  notes?: FormulaNote[];
}

/** The var a formula with `[presets]` takes to run only some of its legs. */
export const PRESET_VAR = 'preset';

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
  const specs = withPresetVar(merged);
  const values = checkVars(specs, opts.vars ?? {}, { name: merged.name, file: root.file, line: root.lines.vars ?? root.lines.formula ?? 1 }, { strict });
  const notes = opts.notes;

  let steps = stepsOf(merged, values, notes);
  checkNeeds(steps);
  steps = expandAll(steps, merged.composeExpand, docs);
  steps = applyAspects(steps, merged, docs);
  checkGraph(steps);
  checkVarRefs(steps, new Set(specs.map((v) => v.name)));
  const kept = joinGroups(applyConditions(steps, values, strict));
  if (notes) {
    for (const n of [...root.notes, ...docs.notes()]) {
      if (!notes.some((m) => m.file === n.file && m.line === n.line && m.field === n.field)) notes.push(n);
    }
  }

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
  /** The lint notes of every formula read so far. */
  notes(): FormulaNote[] {
    return [...this.docs.values()].flatMap((d) => d.notes);
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
  let output: OutputDoc | undefined;
  let agent: string | undefined;
  const presets: PresetDoc[] = [];
  const aspects: FormulaDoc['composeAspects'] = [];
  const files: string[] = [];

  const add = (f: FormulaDoc) => {
    for (const v of f.vars) vars.set(v.name, v);
    replaceById(steps, f.steps);
    replaceById(legs, f.legs);
    compose.push(...f.composeExpand);
    synthesis = f.synthesis ?? synthesis;
    prompts = { ...prompts, ...f.prompts };
    output = f.output ?? output;
    agent = f.agent ?? agent;
    for (const p of f.presets) {
      const i = presets.findIndex((x) => x.name === p.name);
      if (i >= 0) presets[i] = p;
      else presets.push(p);
    }
    for (const a of f.composeAspects) if (!aspects.some((x) => x.name === a.name)) aspects.push(a);
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
  return { ...doc, vars: [...vars.values()], steps, legs, composeExpand: compose, synthesis, prompts, output, agent, presets, composeAspects: aspects, files };
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
  /** A group: the ids of its children (a step with `[[steps.children]]`). */
  children?: string[];
  /** A child: its group. */
  parent?: string;
  /** Its text was rendered as a Go template already (convoy legs and synthesis): no `{{var}}` check. */
  rendered?: boolean;
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
function stepsOf(f: MergedFormula, values: Readonly<Record<string, string>>, notes: FormulaNote[] | undefined): WorkStep[] {
  if (f.type === 'workflow') return withDefaultAgent(flatten(f.steps), f.agent);
  if (f.type === 'expansion') {
    // Alone, an expansion runs as if it expanded a step named "main" titled by the formula (as the original does).
    const main: WorkStep = {
      id: 'main', title: f.name, description: f.description, needs: [], conditions: [], chain: [],
      at: { file: f.file, line: 1, lines: {}, label: 'template' }, needsKey: 'needs',
    };
    return withDefaultAgent(flatten([], undefined, instantiate(f, main)), f.agent);
  }
  if (f.legs.length === 0) {
    throw new FormulaError(`aspect formula "${f.name}" has no [[aspects]], so it has nothing to run on its own` +
      (f.advice.length ? '; its [[advice]] applies only to another formula that names it in compose.aspects' : ''),
    { file: f.file, line: f.lines.type ?? f.lines.formula ?? 1, field: 'aspects' },
    { hint: f.advice.length ? `add compose.aspects = ["${f.name}"] to a workflow formula and cook that one` : 'add [[aspects]] entries with an id and a title' });
  }
  const legs = chooseLegs(f, values);
  const legIds = legs.map((l) => l.id);
  const prompts = new ConvoyPrompts(f, values, notes);
  const steps: WorkStep[] = legs.map((leg) => ({
    id: leg.id, title: leg.title, description: prompts.leg(leg), needs: [], conditions: [], chain: [], at: leg, needsKey: 'needs',
    agent: leg.agent ?? f.agent, rendered: true,
  }));
  const s = f.synthesis;
  if (s) {
    const allIds = f.legs.map((l) => l.id);
    for (const dep of s.dependsOn) {
      if (!allIds.includes(dep)) {
        const guess = closest(dep, allIds);
        throw new FormulaError(`names "${dep}", which is not a leg of this formula`, { file: s.file, line: s.lines.depends_on ?? s.line, field: 'synthesis.depends_on' },
          { hint: guess ? `did you mean "${guess}"?` : `legs: ${allIds.join(', ')}` });
      }
    }
    const dependsOn = s.dependsOn.filter((d) => legIds.includes(d));
    steps.push({
      id: SYNTHESIS_STEP_ID, title: prompts.synthesis(s.title, 'title'), description: s.description === undefined ? undefined : prompts.synthesis(s.description, 'description'),
      acceptance: s.acceptance, needs: s.dependsOn.length > 0 ? dependsOn : legIds, conditions: [], chain: [], at: s, needsKey: 'depends_on',
      agent: s.agent ?? f.agent, rendered: true,
    });
  }
  return steps;
}

/** Agent steps that name no agent take the formula's top-level `agent`. */
function withDefaultAgent(steps: WorkStep[], agent: string | undefined): WorkStep[] {
  if (agent === undefined) return steps;
  for (const s of steps) if (s.agent === undefined && s.run === undefined && !s.gate && !s.children && s.expand === undefined) s.agent = agent;
  return steps;
}

/**
 * `[[steps]]` with their `[[steps.children]]` as one list: a group, then its children (the
 * original's order). A step with a `conditional` gate becomes two, as the original makes two
 * beads: the gate `gate-<id>` (no needs: open from the start) and the step, which needs it.
 */
function flatten(docs: readonly StepDoc[], parent?: WorkStep, ready?: WorkStep[]): WorkStep[] {
  const out: WorkStep[] = [];
  const add = (w: WorkStep) => {
    if (parent) {
      w.parent = parent.id;
      w.conditions = [...parent.conditions, ...w.conditions];
    }
    if (w.gate?.type === 'conditional') {
      const gateId = `gate-${w.id}`;
      out.push({
        id: gateId, title: `Gate: conditional (${w.gate.condition})`, description: `Wait until this holds, then approve: ${w.gate.condition}`,
        needs: [], conditions: [...w.conditions], gate: w.gate, chain: w.chain, at: w.at, needsKey: w.needsKey, parent: w.parent,
      });
      w.gate = undefined;
      w.needs = [...w.needs, gateId];
    }
    out.push(w);
  };
  for (const w of ready ?? []) add(w);
  for (const d of docs) {
    const w = fromStepDoc(d);
    if (d.children.length > 0) w.children = [];
    add(w);
    if (d.children.length > 0) {
      const kids = flatten(d.children, w);
      w.children!.push(...kids.filter((k) => k.parent === w.id).map((k) => k.id));
      out.push(...kids);
    }
  }
  return out;
}

/** The legs to run: all, or those of the preset given with `--var preset=<name>`. */
function chooseLegs(f: MergedFormula, values: Readonly<Record<string, string>>): LegDoc[] {
  const name = values[PRESET_VAR];
  const preset = name ? f.presets.find((p) => p.name === name) : undefined;
  if (!preset) return f.legs;
  const ids = f.legs.map((l) => l.id);
  for (const leg of preset.legs) {
    if (!ids.includes(leg)) {
      const guess = closest(leg, ids);
      throw new FormulaError(`names "${leg}", which is not a leg of this formula`, { file: preset.file, line: preset.lines.legs ?? preset.line, field: `${preset.label}.legs` },
        { hint: guess ? `did you mean "${guess}"?` : `legs: ${ids.join(', ')}` });
    }
  }
  return f.legs.filter((l) => preset.legs.includes(l.id));
}

/** `[presets]` add a var `preset` (one of the preset names; not given: every leg runs). */
function withPresetVar(f: MergedFormula): VarDoc[] {
  if (f.presets.length === 0 || f.vars.some((v) => v.name === PRESET_VAR)) return f.vars;
  const first = f.presets[0]!;
  return [...f.vars, {
    name: PRESET_VAR, description: `which legs to run: ${f.presets.map((p) => p.name).join(', ')} (not given: all)`, enum: f.presets.map((p) => p.name),
    file: first.file, line: first.line, lines: {}, label: 'presets',
  }];
}

/**
 * Convoy prompts as the original renders them: `[prompts] base` per leg and the synthesis text as
 * Go templates over the inputs, `.formula_name`, `.leg`, `.output` and `.output_path`. A base
 * written with `{{leg.x}}` (no dot) is filled in the same way, for formulas written that way.
 */
class ConvoyPrompts {
  private readonly data: Record<string, TemplateValue>;
  private readonly known: Set<string>;
  private readonly dir: string;
  constructor(private readonly f: MergedFormula, values: Readonly<Record<string, string>>, private readonly notes: FormulaNote[] | undefined) {
    this.data = { ...values, formula_name: f.name };
    this.known = new Set([...f.vars.map((v) => v.name), 'formula_name', 'leg', 'output', 'output_path', PRESET_VAR]);
    const out = f.output;
    this.dir = out?.directory !== undefined ? this.render(out.directory, this.data, out, 'output.directory') : '';
    this.data.output = { directory: this.dir, leg_pattern: out?.legPattern ?? '', synthesis: out?.synthesis !== undefined ? this.render(out.synthesis, this.data, out, 'output.synthesis') : '' };
  }

  private path(file: string): string {
    return this.dir && file ? `${this.dir}/${file}` : file || this.dir;
  }

  leg(leg: LegDoc): string | undefined {
    const base = this.f.prompts.base;
    if (base === undefined) {
      if (leg.focus === undefined) return leg.description;
      return `Focus: ${leg.focus}${leg.description ? `\n\n${leg.description}` : ''}`;
    }
    const legData: TemplateValue = { id: leg.id, title: leg.title, focus: leg.focus ?? '', description: leg.description ?? '' };
    const out = this.f.output;
    const file = out?.legPattern !== undefined ? this.render(out.legPattern, { ...this.data, leg: legData }, out, 'output.leg_pattern') : '';
    const data = { ...this.data, leg: legData, output_path: this.path(file) };
    if (!looksLikeGoTemplate(base)) {
      return base.replace(/\{\{\s*(leg\.(?:id|title|focus|description)|formula)\s*\}\}/g, (_, k: string) =>
        k === 'formula' ? this.f.name : String((legData as Record<string, string>)[k.slice(4)]));
    }
    return this.render(base, data, undefined, 'prompts.base');
  }

  synthesis(text: string, field: string): string {
    const file = (this.data.output as Record<string, string>).synthesis ?? '';
    return this.render(text, { ...this.data, output_path: this.path(file) }, this.f.synthesis, `synthesis.${field}`);
  }

  private render(text: string, data: TemplateValue, at: Located | undefined, field: string): string {
    if (!looksLikeGoTemplate(text)) return text;
    const t = parseGoTemplate(text);
    for (const key of t.keys) {
      if (this.known.has(key) || !this.notes) continue;
      const note = {
        file: at?.file ?? this.f.file, line: at?.lines[field.split('.').pop()!] ?? at?.line ?? this.f.lines.prompts ?? 1, field,
        message: `{{.${key}}} names no input of this formula, so it renders empty (declare [inputs.${key}] to fill it)`,
      };
      if (!this.notes.some((n) => n.field === note.field && n.message === note.message)) this.notes.push(note);
    }
    return renderGoTemplate(t, data);
  }
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
 * first steps inherit the step's needs; steps that needed it now need the template's last step.
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
    // As the original: dependents of the target need the template's last step (as written),
    // even when the template ends in several.
    const ends = [replacement[replacement.length - 1]!.id];
    if (target.parent !== undefined) {
      const group = steps.find((s) => s.id === target.parent);
      for (const r of replacement) r.parent = target.parent;
      if (group?.children) group.children = group.children.flatMap((c) => (c === target.id ? replacement.map((r) => r.id) : [c]));
    }
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
    const fields: Array<[string, string | undefined]> = s.rendered ? [] : [
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
    if (s.gate.condition !== undefined) out.gate.condition = s.gate.condition;
  }
  if (s.run !== undefined) out.run = renderRun(s.run);
  if (s.agent !== undefined) out.agent = s.agent;
  if (s.children) out.children = s.children;
  if (s.parent !== undefined) out.parent = s.parent;
  if (s.timeout !== undefined) out.timeout = s.timeout;
  if (s.retries !== undefined) out.retries = s.retries;
  if (k.undecided.length > 0) out.condition = k.undecided.join(' && ');
  return out;
}

/**
 * `compose.aspects`: each named aspect formula's `[[advice]]`, applied as the original applies
 * it, to the steps there were before (never to steps advice inserted): for a step matching an
 * advice target, `before` steps are inserted ahead of it (chained; the step needs the last one),
 * `after` steps behind it (the first needs the step, each next one the previous). The step's
 * dependents keep needing the step itself.
 */
function applyAspects(steps: WorkStep[], f: MergedFormula, docs: DocCache): WorkStep[] {
  let out = steps;
  for (const ref of f.composeAspects) {
    const at = { file: ref.file, line: ref.line, field: 'compose.aspects' };
    const aspect = docs.get(ref.name, at);
    if (aspect.type !== 'aspect') {
      throw new FormulaError(`"${ref.name}" is a ${aspect.type} formula; compose.aspects names aspect formulas (type = "aspect" with [[advice]])`, at,
        { hint: 'name an aspect formula such as "security-audit"' });
    }
    out = applyAdvice(out, aspect.advice);
  }
  return out;
}

/** The original's step-id globs: exact, `*`, `prefix.*`, `*.suffix`, and `*` / `?` anywhere. */
function matchGlob(pattern: string, id: string): boolean {
  if (pattern === '*' || pattern === id) return true;
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  return re.test(id) || (pattern.startsWith('*.') && id.endsWith(pattern.slice(1))) || (pattern.endsWith('.*') && id.startsWith(pattern.slice(0, -1)));
}

function applyAdvice(steps: WorkStep[], advice: readonly AdviceDoc[]): WorkStep[] {
  const out: WorkStep[] = [];
  const byId = new Map(steps.map((s) => [s.id, s]));
  for (const step of steps) {
    const rules = advice.filter((a) => matchGlob(a.target, step.id));
    if (rules.length === 0) {
      out.push(step);
      continue;
    }
    const make = (a: AdviceStepDoc): WorkStep => {
      const fill = (t: string) => t.replaceAll('{step.id}', step.id).replaceAll('{step.title}', step.title);
      const id = fill(a.id);
      const w: WorkStep = {
        id, title: a.title ? fill(a.title) : id, needs: [], conditions: [...step.conditions], chain: step.chain, at: a, needsKey: 'needs',
        agent: step.agent, parent: step.parent,
      };
      if (a.description !== undefined) w.description = fill(a.description);
      if (step.parent) byId.get(step.parent)?.children?.push(id);
      return w;
    };
    const before = rules.flatMap((r) => r.before.map(make));
    const after = rules.flatMap((r) => r.after.map(make));
    before.forEach((b, i) => {
      if (i > 0) b.needs = [before[i - 1]!.id];
    });
    after.forEach((a, i) => {
      a.needs = [i === 0 ? step.id : after[i - 1]!.id];
    });
    if (before.length) step.needs = [...new Set([...step.needs, before[before.length - 1]!.id])];
    out.push(...before, step, ...after);
  }
  return out;
}

/**
 * Groups, as the original's parent-child beads behave: a child is held while its group is
 * (so it needs what the group needs), and the group is done when its children are (so it
 * needs them). Runs after conditions, so skipped children are not waited for.
 */
function joinGroups(kept: KeptStep[]): KeptStep[] {
  const byId = new Map(kept.map((k) => [k.id, k]));
  const own = new Map(kept.map((k) => [k.id, [...k.needs]]));
  const inherited = (id: string | undefined): string[] => {
    if (id === undefined) return [];
    const g = byId.get(id);
    return g ? [...own.get(id)!, ...inherited(g.step.parent)] : [];
  };
  for (const k of kept) {
    if (k.step.parent !== undefined) k.needs = [...new Set([...k.needs, ...inherited(k.step.parent)])];
  }
  for (const k of kept) {
    if (k.step.children) {
      const kids = k.step.children.filter((c) => byId.has(c));
      k.step.children = kids;
      k.needs = [...new Set([...k.needs, ...kids])];
    }
  }
  const cycle = findCycle(kept);
  if (cycle) {
    const first = byId.get(cycle[0]!)!.step;
    throw new FormulaError(`dependency cycle through a group: ${describeCycle(cycle)}`, where(first, first.needsKey),
      { hint: 'a group waits for its children and they wait for what the group needs; a child must not need a step that needs its group' });
  }
  return kept;
}
