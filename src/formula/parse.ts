import { parse as parseToml, TomlError } from 'smol-toml';
import { closest, FormulaError, throwProblems } from './errors.js';
import { DURATION_HINT, describeValue, durationProblem, parseDuration } from './duration.js';
import { conditionProblem } from './condition.js';
import { VAR_NAME, envNameOf } from './vars.js';
import { SourceMap, type KeyPath } from './source-map.js';
import { looksLikeGoTemplate, parseGoTemplate, TemplateSyntaxError } from './gotemplate.js';
import { FORMULA_TYPES, GATE_TYPES, STEP_TYPES, type FormulaType, type GateSpec, type VarSpec } from './types.js';

/**
 * A formula file as written, checked field by field but not yet resolved: `extends`, expansions
 * and conditions are applied later by `resolveFormula`. Every item remembers its file and the
 * lines of its fields so problems found later still point at the right place.
 */
export interface FormulaDoc {
  file: string;
  name: string;
  description?: string;
  version?: number;
  type: FormulaType;
  extends: string[];
  vars: VarDoc[];
  steps: StepDoc[];
  /** Expansion formulas: the steps a target is replaced by, ids using `{target}`. */
  template: StepDoc[];
  composeExpand: ComposeExpandDoc[];
  /** Convoy formulas: parallel legs and the step that joins them. Aspect formulas: `[[aspects]]`. */
  legs: LegDoc[];
  synthesis?: SynthesisDoc;
  prompts: Record<string, string>;
  /** Convoy `[output]`: where legs and the synthesis write (Go templates). */
  output?: OutputDoc;
  /** Convoy `[presets.<name>]`: named subsets of the legs, chosen with `--var preset=<name>`. */
  presets: PresetDoc[];
  /** Agent runtime for the formula's agent steps that name none. */
  agent?: string;
  /** Aspect formulas: `[[advice]]` inserting steps before/after matching steps of another formula. */
  advice: AdviceDoc[];
  /** `compose.aspects`: aspect formulas whose advice is applied to this formula's steps. */
  composeAspects: Array<{ name: string; file: string; line: number }>;
  /** Keys accepted for compatibility with the original that have no effect here, and why. */
  notes: FormulaNote[];
  /** Line of each top-level key, e.g. `extends`. */
  lines: Record<string, number>;
}

/** A lint note: something the original means that does nothing here (not an error). */
export interface FormulaNote {
  file: string;
  line: number;
  field: string;
  message: string;
}

export interface OutputDoc extends Located {
  directory?: string;
  legPattern?: string;
  synthesis?: string;
}

export interface PresetDoc extends Located {
  name: string;
  description?: string;
  legs: string[];
}

export interface AdviceStepDoc extends Located {
  id: string;
  title?: string;
  description?: string;
}

export interface AdviceDoc extends Located {
  target: string;
  before: AdviceStepDoc[];
  after: AdviceStepDoc[];
}

export interface Located {
  file: string;
  /** Line of the item itself (its `[[steps]]` header or its key). */
  line: number;
  /** Line of each field that was written. */
  lines: Record<string, number>;
  /** How errors name it, e.g. `steps[build]`, `vars.version`. */
  label: string;
}

export interface StepDoc extends Located {
  id: string;
  title?: string;
  description?: string;
  acceptance?: string;
  needs: string[];
  condition?: string;
  gate?: GateSpec;
  run?: string;
  agent?: string;
  timeout?: string;
  retries?: number;
  expand?: string;
  /** `[[steps.children]]`: steps grouped under this one; the group is done when they all are. */
  children: StepDoc[];
}

export interface VarDoc extends VarSpec, Located {
  /** Convoy inputs: required unless one of these is given. */
  requiredUnless?: string[];
}

export interface ComposeExpandDoc extends Located {
  target: string;
  with: string;
}

export interface LegDoc extends Located {
  id: string;
  title: string;
  focus?: string;
  description?: string;
  agent?: string;
}

export interface SynthesisDoc extends Located {
  title: string;
  description?: string;
  acceptance?: string;
  dependsOn: string[];
  agent?: string;
}

export const SYNTHESIS_STEP_ID = 'synthesis';

const TOP_KEYS = [
  'formula', 'description', 'version', 'type', 'extends', 'vars', 'steps', 'compose', 'inputs', 'prompts', 'legs', 'synthesis', 'template',
  'aspects', 'output', 'presets', 'agent', 'advice', 'pointcuts', 'squash', 'pour', 'review_only',
] as const;
const STEP_KEYS = ['id', 'title', 'description', 'acceptance', 'needs', 'depends_on', 'condition', 'gate', 'run', 'agent', 'timeout', 'retries', 'expand', 'type', 'children'] as const;
const GATE_KEYS = ['type', 'timeout', 'id', 'condition'] as const;
const OUTPUT_KEYS = ['directory', 'leg_pattern', 'synthesis'] as const;
const PRESET_KEYS = ['description', 'legs'] as const;
const ADVICE_KEYS = ['target', 'before', 'after', 'around'] as const;
const AROUND_KEYS = ['before', 'after'] as const;
const ADVICE_STEP_KEYS = ['id', 'title', 'description', 'type'] as const;
const POINTCUT_KEYS = ['glob', 'type', 'label'] as const;
const SQUASH_KEYS = ['trigger', 'template_type', 'include_metrics'] as const;
const VAR_KEYS = ['description', 'required', 'default', 'enum', 'pattern'] as const;
const INPUT_KEYS = ['description', 'type', 'required', 'required_unless', 'default'] as const;
const INPUT_TYPES = ['string', 'number', 'boolean'] as const;
const LEG_KEYS = ['id', 'title', 'focus', 'description', 'agent'] as const;
const SYNTHESIS_KEYS = ['title', 'description', 'acceptance', 'depends_on', 'agent'] as const;
const COMPOSE_KEYS = ['expand', 'aspects'] as const;
const COMPOSE_EXPAND_KEYS = ['target', 'with'] as const;

/** Names of formulas (and so of their files): no path separators, nothing hidden. */
export const FORMULA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Step ids; expansion templates may also use `{target}` / `{target.id}`. */
const STEP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const MAX_RETRIES = 100;

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Collects problems with their lines while the document is read. */
class Reader {
  readonly problems: FormulaError[] = [];
  readonly notes: FormulaNote[] = [];
  constructor(
    readonly file: string,
    readonly map: SourceMap,
  ) {}

  problem(path: KeyPath, field: string, message: string, hint?: string): void {
    this.problems.push(new FormulaError(message, { file: this.file, line: this.map.lineOf(path), field }, { hint }));
  }

  note(path: KeyPath, field: string, message: string): void {
    this.notes.push({ file: this.file, line: this.map.lineOf(path), field, message });
  }

  /**
   * A text written as a Go template (convoy prompts, output, synthesis) must parse. The error
   * names the line in the file: the key's line plus the lines before the bad action (a
   * multi-line string starts on the line after its key).
   */
  goTemplate(path: KeyPath, field: string, text: string | undefined): void {
    if (text === undefined || !looksLikeGoTemplate(text)) return;
    try {
      parseGoTemplate(text);
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err;
      const keyLine = this.map.lineOf(path);
      const below = /=\s*("""|''')\s*$/.test(this.map.textOf(keyLine)) ? 1 : 0;
      this.problems.push(new FormulaError(`Go template does not parse: ${err.problem}`,
        { file: this.file, line: keyLine + below + err.line - 1, field },
        { hint: 'write {{.name}}, {{if .name}}…{{else}}…{{end}} or {{range .list}}…{{end}}; each {{if}}, {{range}} and {{with}} needs its {{end}}' }));
    }
  }

  located(path: KeyPath, label: string, keys: Iterable<string>): Located {
    const lines: Record<string, number> = {};
    for (const k of keys) {
      const line = this.map.exactLine([...path, k]);
      if (line !== undefined) lines[k] = line;
    }
    return { file: this.file, line: this.map.lineOf(path), lines, label };
  }

  unknownKeys(table: Table, allowed: readonly string[], path: KeyPath, label: string, what: string): void {
    for (const key of Object.keys(table)) {
      if (allowed.includes(key)) continue;
      const guess = closest(key, allowed);
      this.problem([...path, key], label ? `${label}.${key}` : key, `unknown key "${key}" in ${what}`,
        guess ? `did you mean "${guess}"?` : `known keys: ${allowed.join(', ')}`);
    }
  }

  string(table: Table, key: string, path: KeyPath, label: string, opts: { nonEmpty?: boolean } = {}): string | undefined {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.problem([...path, key], `${label}${key}`, `expected a string, got ${describeValue(v)}`);
      return undefined;
    }
    if (opts.nonEmpty && v.trim() === '') {
      this.problem([...path, key], `${label}${key}`, 'must not be empty');
      return undefined;
    }
    return v;
  }

  stringList(table: Table, key: string, path: KeyPath, label: string): string[] | undefined {
    const v = table[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.problem([...path, key], `${label}${key}`, `expected an array of strings, got ${describeValue(v)}`,
        `write ${key} = ["a", "b"]`);
      return undefined;
    }
    return v as string[];
  }

  boolean(table: Table, key: string, path: KeyPath, label: string): boolean | undefined {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') {
      this.problem([...path, key], `${label}${key}`, `expected true or false, got ${describeValue(v)}`);
      return undefined;
    }
    return v;
  }

  /** Strings, numbers and booleans are all accepted where a var value is meant: `port = 8080`. */
  scalar(table: Table, key: string, path: KeyPath, label: string): string | undefined {
    const v = table[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    this.problem([...path, key], `${label}${key}`, `expected a string, number or boolean, got ${describeValue(v)}`);
    return undefined;
  }

  tableArray(root: Table, key: string, label: string, base: KeyPath = []): Table[] {
    const v = root[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.problem([...base, key], label, `expected [[${key}]] entries, got ${describeValue(v)}`, `write each one as a [[${key}]] table`);
      return [];
    }
    const out: Table[] = [];
    v.forEach((item, i) => {
      if (isTable(item)) out.push(item);
      else this.problem([...base, key, i], `${label}[#${i + 1}]`, `expected a table, got ${describeValue(item)}`);
    });
    return out.length === v.length ? out : [];
  }
}

/**
 * Parse and check one formula file. `file` is only used to name it in errors. Throws a
 * `FormulaError` (or `FormulaProblems` listing several) naming file, line and field.
 */
export function parseFormula(source: string, file: string): FormulaDoc {
  let raw: Table;
  try {
    raw = parseToml(source) as Table;
  } catch (err) {
    if (err instanceof TomlError) {
      const reason = err.message.replace(/^Invalid TOML document: /, '').split('\n')[0];
      throw new FormulaError(`TOML syntax error: ${reason}\n${err.codeblock.trimEnd()}`, { file, line: err.line, column: err.column },
        { hint: `fix the TOML at line ${err.line}, column ${err.column}` });
    }
    throw err;
  }
  const r = new Reader(file, new SourceMap(source));
  const doc = readDoc(raw, r);
  throwProblems(r.problems);
  return doc;
}

function readDoc(raw: Table, r: Reader): FormulaDoc {
  r.unknownKeys(raw, TOP_KEYS, [], '', 'a formula');
  const lines: Record<string, number> = {};
  for (const k of Object.keys(raw)) lines[k] = r.map.lineOf([k]);

  let name = r.string(raw, 'formula', [], '', { nonEmpty: true }) ?? '';
  if (raw.formula === undefined) {
    r.problem([], 'formula', 'missing the formula name', 'add a line such as formula = "release" at the top of the file');
  } else if (name && !FORMULA_NAME.test(name)) {
    r.problem(['formula'], 'formula', `"${name}" is not a valid formula name`, 'use letters, digits, ".", "_" and "-", starting with a letter or digit');
    name = '';
  }
  const description = r.string(raw, 'description', [], '');
  let version: number | undefined;
  if (raw.version !== undefined) {
    if (typeof raw.version === 'number' && Number.isInteger(raw.version) && raw.version >= 0) version = raw.version;
    else r.problem(['version'], 'version', `expected a whole number, got ${describeValue(raw.version)}`);
  }

  const type = readType(raw, r);
  let parents: string[] = [];
  if (typeof raw.extends === 'string') parents = [raw.extends];
  else parents = r.stringList(raw, 'extends', [], '') ?? [];
  for (const p of parents) {
    if (!FORMULA_NAME.test(p)) r.problem(['extends'], 'extends', `"${p}" is not a valid formula name`);
    if (p === name) r.problem(['extends'], 'extends', `formula "${name}" extends itself`);
  }

  const vars = [...readVars(raw, r), ...readInputs(raw, r, type)];
  const seenEnv = new Map<string, VarDoc>();
  for (const v of vars) {
    const env = envNameOf(v.name);
    const other = seenEnv.get(env);
    if (other) {
      r.problems.push(new FormulaError(`vars "${other.name}" and "${v.name}" both map to the environment variable ${env}`,
        { file: r.file, line: v.line, field: v.label }, { hint: 'rename one of them' }));
    }
    seenEnv.set(env, v);
  }

  const steps = readSteps(raw, r, 'steps', false);
  const template = readSteps(raw, r, 'template', true);
  const legs = [...readLegs(raw, r, 'legs'), ...readLegs(raw, r, 'aspects')];
  const synthesis = readSynthesis(raw, r, legs);
  const prompts = readPrompts(raw, r);
  const { expand: composeExpand, aspects: composeAspects } = readCompose(raw, r);
  const output = readOutput(raw, r);
  const presets = readPresets(raw, r, legs);
  const advice = readAdvice(raw, r);
  const agent = r.string(raw, 'agent', [], '', { nonEmpty: true });
  readCompatibilityKeys(raw, r);
  if (type === 'convoy' || type === 'aspect') {
    for (const [k, v] of Object.entries(prompts)) r.goTemplate(['prompts', k], `prompts.${k}`, v);
    r.goTemplate(['synthesis', 'title'], 'synthesis.title', synthesis?.title);
    r.goTemplate(['synthesis', 'description'], 'synthesis.description', synthesis?.description);
    r.goTemplate(['output', 'directory'], 'output.directory', output?.directory);
    r.goTemplate(['output', 'leg_pattern'], 'output.leg_pattern', output?.legPattern);
    r.goTemplate(['output', 'synthesis'], 'output.synthesis', output?.synthesis);
  }

  // What belongs to which type: a field another type uses is a mistake, not something to ignore.
  const belongs: Record<string, FormulaType[]> = {
    steps: ['workflow'],
    compose: ['workflow'],
    template: ['expansion'],
    legs: ['convoy'],
    aspects: ['aspect'],
    advice: ['aspect'],
    pointcuts: ['aspect'],
    synthesis: ['convoy', 'aspect'],
    inputs: ['convoy', 'aspect'],
    prompts: ['convoy', 'aspect'],
    output: ['convoy', 'aspect'],
    presets: ['convoy', 'aspect'],
  };
  for (const [key, types] of Object.entries(belongs)) {
    if (raw[key] !== undefined && !types.includes(type)) {
      r.problem([key], key, `"${key}" does not apply to a ${type} formula (only to ${types.join(' or ')})`,
        raw.type === undefined ? `add type = "${types[0]}"` : `remove "${key}" or change type`);
    }
  }
  const needs: Record<FormulaType, [string, number]> = {
    workflow: ['steps', steps.length],
    expansion: ['template', template.length],
    convoy: ['legs', legs.length],
    // An aspect is either parallel [[aspects]] (run on its own) or [[advice]] for other formulas.
    aspect: ['aspects', legs.length + advice.length],
  };
  const [needKey, count] = needs[type];
  if (count === 0 && parents.length === 0 && raw[needKey] === undefined && !(type === 'aspect' && raw.advice !== undefined)) {
    r.problem([], needKey, `a ${type} formula needs at least one [[${needKey}]] entry`,
      `add a [[${needKey}]] table${type === 'workflow' ? ' or extends = ["<parent>"]' : type === 'aspect' ? ' (or [[advice]] to apply to other formulas)' : ''}`);
  }
  if (type === 'expansion' && parents.length > 0) {
    r.problem(['extends'], 'extends', 'an expansion formula cannot extend another formula', 'copy the template steps you need');
  }

  return {
    file: r.file, name, description, version, type, extends: parents, vars, steps, template, composeExpand,
    legs, synthesis, prompts, output, presets, agent, advice, composeAspects, notes: r.notes, lines,
  };
}

/**
 * Keys of the original that mean something only to its own machinery. They are checked (so a
 * typo still fails) and accepted with a note saying why they do nothing here.
 */
function readCompatibilityKeys(raw: Table, r: Reader): void {
  if (raw.squash !== undefined) {
    if (!isTable(raw.squash)) r.problem(['squash'], 'squash', `expected a table, got ${describeValue(raw.squash)}`);
    else r.unknownKeys(raw.squash, SQUASH_KEYS, ['squash'], 'squash', 'squash');
    r.note(['squash'], 'squash', 'no effect here: the original squashes a finished molecule\'s step beads into one digest bead; here the step beads stay closed in the ledger and the run\'s history is kept by the engine');
  }
  if (raw.pour !== undefined) {
    r.boolean(raw, 'pour', [], '');
    r.note(['pour'], 'pour', 'no effect here: the original makes step beads only when pour = true; here every molecule has one bead per step, so its progress is always tracked');
  }
  if (raw.review_only !== undefined) {
    r.boolean(raw, 'review_only', [], '');
    r.note(['review_only'], 'review_only', 'no effect here: the original tells its polecats that these steps commit no code; formula steps here never go through the merge queue, so there is nothing to skip');
  }
  if (raw.pointcuts !== undefined) {
    r.tableArray(raw, 'pointcuts', 'pointcuts').forEach((p, i) => r.unknownKeys(p, POINTCUT_KEYS, ['pointcuts', i], `pointcuts[#${i + 1}]`, 'a pointcut'));
    r.note(['pointcuts'], 'pointcuts', 'no effect here, as in the original: each [[advice]] target chooses the steps it applies to');
  }
}

function readOutput(raw: Table, r: Reader): OutputDoc | undefined {
  const t = raw.output;
  if (t === undefined) return undefined;
  if (!isTable(t)) {
    r.problem(['output'], 'output', `expected a table, got ${describeValue(t)}`, 'write [output] with directory, leg_pattern, synthesis');
    return undefined;
  }
  r.unknownKeys(t, OUTPUT_KEYS, ['output'], 'output', '[output]');
  const out: OutputDoc = { ...r.located(['output'], 'output', OUTPUT_KEYS) };
  out.directory = r.string(t, 'directory', ['output'], 'output.', { nonEmpty: true });
  out.legPattern = r.string(t, 'leg_pattern', ['output'], 'output.', { nonEmpty: true });
  out.synthesis = r.string(t, 'synthesis', ['output'], 'output.', { nonEmpty: true });
  return out;
}

function readPresets(raw: Table, r: Reader, legs: LegDoc[]): PresetDoc[] {
  const t = raw.presets;
  if (t === undefined) return [];
  if (!isTable(t)) {
    r.problem(['presets'], 'presets', `expected a table of presets, got ${describeValue(t)}`, 'write [presets.<name>] with legs = ["..."]');
    return [];
  }
  const out: PresetDoc[] = [];
  const ids = legs.map((l) => l.id);
  for (const [name, spec] of Object.entries(t)) {
    const path = ['presets', name];
    const label = `presets.${name}`;
    if (!isTable(spec)) {
      r.problem(path, label, `expected a table, got ${describeValue(spec)}`, `write [presets.${name}] with legs = ["..."]`);
      continue;
    }
    r.unknownKeys(spec, PRESET_KEYS, path, label, `preset "${name}"`);
    const preset: PresetDoc = { name, legs: [], ...r.located(path, label, PRESET_KEYS) };
    preset.description = r.string(spec, 'description', path, `${label}.`);
    preset.legs = r.stringList(spec, 'legs', path, `${label}.`) ?? [];
    if (spec.legs === undefined) r.problem(path, `${label}.legs`, `preset "${name}" names no legs`, 'add legs = ["<leg-id>", ...]');
    if (raw.extends === undefined) {
      for (const leg of preset.legs) {
        if (ids.includes(leg)) continue;
        const guess = closest(leg, ids);
        r.problem([...path, 'legs'], `${label}.legs`, `names "${leg}", which is not a leg of this formula`, guess ? `did you mean "${guess}"?` : `legs: ${ids.join(', ')}`);
      }
    }
    out.push(preset);
  }
  return out;
}

function readAdviceStep(value: unknown, path: KeyPath, label: string, r: Reader): AdviceStepDoc | undefined {
  if (!isTable(value)) {
    r.problem(path, label, `expected a table, got ${describeValue(value)}`, 'write id = "{step.id}-check" and a title');
    return undefined;
  }
  r.unknownKeys(value, ADVICE_STEP_KEYS, path, label, 'an advice step');
  const id = r.string(value, 'id', path, `${label}.`, { nonEmpty: true });
  if (value.id === undefined) r.problem(path, `${label}.id`, 'an advice step needs an id', 'add id = "{step.id}-<name>"');
  if (id === undefined) return undefined;
  if (!STEP_ID.test(id.replace(/\{step\.(id|title)\}/g, 'x'))) {
    r.problem([...path, 'id'], `${label}.id`, `"${id}" is not a valid step id`, 'use letters, digits, ".", "_" and "-"; {step.id} stands for the matched step');
  }
  r.string(value, 'type', path, `${label}.`);
  return {
    id, title: r.string(value, 'title', path, `${label}.`), description: r.string(value, 'description', path, `${label}.`),
    ...r.located(path, label, ADVICE_STEP_KEYS),
  };
}

function readAdvice(raw: Table, r: Reader): AdviceDoc[] {
  const out: AdviceDoc[] = [];
  r.tableArray(raw, 'advice', 'advice').forEach((t, i) => {
    const path: KeyPath = ['advice', i];
    const label = `advice[#${i + 1}]`;
    r.unknownKeys(t, ADVICE_KEYS, path, label, 'an advice');
    const target = r.string(t, 'target', path, `${label}.`, { nonEmpty: true });
    if (t.target === undefined) r.problem(path, `${label}.target`, 'an advice needs a target (a step id or glob such as "*.implement")', 'add target = "<step-id>"');
    const advice: AdviceDoc = { target: target ?? '', before: [], after: [], ...r.located(path, label, ADVICE_KEYS) };
    const one = (key: 'before' | 'after') => {
      if (t[key] === undefined) return;
      const s = readAdviceStep(t[key], [...path, key], `${label}.${key}`, r);
      if (s) advice[key].push(s);
    };
    // The original's order: `before`, then `around.before`; after: `after`, then `around.after`.
    one('before');
    one('after');
    if (t.around !== undefined) {
      if (!isTable(t.around)) r.problem([...path, 'around'], `${label}.around`, `expected a table, got ${describeValue(t.around)}`);
      else {
        r.unknownKeys(t.around, AROUND_KEYS, [...path, 'around'], `${label}.around`, 'around');
        for (const key of AROUND_KEYS) {
          r.tableArray(t.around, key, `${label}.around.${key}`, [...path, 'around']).forEach((s, j) => {
            const step = readAdviceStep(s, [...path, 'around', key, j], `${label}.around.${key}[#${j + 1}]`, r);
            if (step) advice[key].push(step);
          });
        }
      }
    }
    if (advice.before.length === 0 && advice.after.length === 0) {
      r.problem(path, label, 'an advice inserts no step', 'add before, after or [advice.around] steps');
    }
    if (target !== undefined) out.push(advice);
  });
  return out;
}

function readType(raw: Table, r: Reader): FormulaType {
  if (raw.type === undefined) {
    if (raw.legs !== undefined) return 'convoy';
    if (raw.template !== undefined) return 'expansion';
    if (raw.aspects !== undefined) return 'aspect';
    return 'workflow';
  }
  if (typeof raw.type === 'string' && (FORMULA_TYPES as readonly string[]).includes(raw.type)) return raw.type as FormulaType;
  r.problem(['type'], 'type', `unknown formula type ${describeValue(raw.type)}`, `use one of: ${FORMULA_TYPES.join(', ')}`);
  return 'workflow';
}

function readVars(raw: Table, r: Reader): VarDoc[] {
  if (raw.vars === undefined) return [];
  if (!isTable(raw.vars)) {
    r.problem(['vars'], 'vars', `expected a table of vars, got ${describeValue(raw.vars)}`, 'write [vars.<name>] tables or name = "default" under [vars]');
    return [];
  }
  const out: VarDoc[] = [];
  for (const [name, spec] of Object.entries(raw.vars)) {
    const path = ['vars', name];
    const label = `vars.${name}`;
    if (!VAR_NAME.test(name)) {
      r.problem(path, label, `"${name}" is not a valid var name`, 'use letters, digits and "_", starting with a letter or "_"');
      continue;
    }
    if (typeof spec === 'string' || typeof spec === 'number' || typeof spec === 'boolean') {
      out.push({ name, default: String(spec), ...r.located(path, label, []) });
      continue;
    }
    if (!isTable(spec)) {
      r.problem(path, label, `expected a default value or a table, got ${describeValue(spec)}`);
      continue;
    }
    r.unknownKeys(spec, VAR_KEYS, path, label, `var "${name}"`);
    const v: VarDoc = { name, ...r.located(path, label, VAR_KEYS) };
    v.description = r.string(spec, 'description', path, `${label}.`);
    v.required = r.boolean(spec, 'required', path, `${label}.`);
    v.default = r.scalar(spec, 'default', path, `${label}.`);
    if (spec.enum !== undefined) {
      const values = Array.isArray(spec.enum) ? spec.enum : undefined;
      if (!values || values.length === 0 || values.some((x) => !['string', 'number', 'boolean'].includes(typeof x))) {
        r.problem([...path, 'enum'], `${label}.enum`, 'expected a non-empty array of values', 'write enum = ["a", "b"]');
      } else {
        v.enum = values.map(String);
      }
    }
    const pattern = r.string(spec, 'pattern', path, `${label}.`);
    if (pattern !== undefined) {
      try {
        new RegExp(pattern);
        v.pattern = pattern;
      } catch (err) {
        r.problem([...path, 'pattern'], `${label}.pattern`, `not a valid regular expression: ${(err as Error).message}`,
          'in TOML basic strings a backslash is written twice: "^\\\\d+$"; or use a literal string: \'^\\d+$\'');
      }
    }
    checkVarSpec(v, r);
    out.push(v);
  }
  return out;
}

function checkVarSpec(v: VarDoc, r: Reader): void {
  const at = (field: string) => ({ file: r.file, line: v.lines[field] ?? v.line, field: `${v.label}.${field}` });
  if (v.required && v.default !== undefined) {
    // The original's own formulas do this (mol-digest-generate, mol-orphan-scan), and its runner
    // takes the default when the var is not given: so here too, and `required` changes nothing.
    r.notes.push({ file: r.file, line: v.lines.required ?? v.line, field: `${v.label}.required`,
      message: `var "${v.name}" is required but has a default: the default is used when it is not given, as in the original, so required has no effect` });
    v.required = false;
  }
  if (v.default !== undefined && v.enum && !v.enum.includes(v.default)) {
    r.problems.push(new FormulaError(`default "${v.default}" is not one of the allowed values: ${v.enum.join(', ')}`, at('default')));
  }
  if (v.default !== undefined && v.pattern !== undefined && !new RegExp(v.pattern).test(v.default)) {
    r.problems.push(new FormulaError(`default "${v.default}" does not match the pattern ${v.pattern}`, at('default')));
  }
}

/** Convoy `[inputs.X]` are vars by another name; `required_unless` makes one of a group required. */
function readInputs(raw: Table, r: Reader, type: FormulaType): VarDoc[] {
  if (raw.inputs === undefined || (type !== 'convoy' && type !== 'aspect')) return [];
  if (!isTable(raw.inputs)) {
    r.problem(['inputs'], 'inputs', `expected a table of inputs, got ${describeValue(raw.inputs)}`);
    return [];
  }
  const out: VarDoc[] = [];
  for (const [name, spec] of Object.entries(raw.inputs)) {
    const path = ['inputs', name];
    const label = `inputs.${name}`;
    if (!VAR_NAME.test(name)) {
      r.problem(path, label, `"${name}" is not a valid input name`, 'use letters, digits and "_", starting with a letter or "_"');
      continue;
    }
    if (!isTable(spec)) {
      r.problem(path, label, `expected a table, got ${describeValue(spec)}`, `write [inputs.${name}] with description, required, default`);
      continue;
    }
    r.unknownKeys(spec, INPUT_KEYS, path, label, `input "${name}"`);
    const v: VarDoc = { name, ...r.located(path, label, INPUT_KEYS) };
    v.description = r.string(spec, 'description', path, `${label}.`);
    v.required = r.boolean(spec, 'required', path, `${label}.`);
    v.default = r.scalar(spec, 'default', path, `${label}.`);
    const kind = r.string(spec, 'type', path, `${label}.`);
    if (kind !== undefined && !(INPUT_TYPES as readonly string[]).includes(kind)) {
      r.problem([...path, 'type'], `${label}.type`, `unknown input type "${kind}"`, `use one of: ${INPUT_TYPES.join(', ')}`);
    }
    if (kind === 'number') v.pattern = '^-?\\d+(\\.\\d+)?$';
    if (kind === 'boolean') v.enum = ['true', 'false'];
    v.requiredUnless = r.stringList(spec, 'required_unless', path, `${label}.`);
    for (const other of v.requiredUnless ?? []) {
      const inputs = raw.inputs as Table;
      if (inputs[other] === undefined) {
        r.problem([...path, 'required_unless'], `${label}.required_unless`, `names "${other}", which is not an input of this formula`);
      }
    }
    checkVarSpec(v, r);
    out.push(v);
  }
  return out;
}

function readSteps(raw: Table, r: Reader, key: 'steps' | 'template', isTemplate: boolean): StepDoc[] {
  return readStepTables(r.tableArray(raw, key, key), [key], key, r, isTemplate, new Map());
}

/** Steps of one list: `[[steps]]`, `[[template]]` or a step's `[[steps.children]]` (ids unique across all). */
function readStepTables(tables: Table[], base: KeyPath, key: string, r: Reader, isTemplate: boolean, seen: Map<string, StepDoc>): StepDoc[] {
  const out: StepDoc[] = [];
  tables.forEach((t, i) => {
    const path: KeyPath = [...base, i];
    const id = typeof t.id === 'string' ? t.id : undefined;
    const label = id ? `${key}[${id}]` : `${key}[#${i + 1}]`;
    const p = `${label}.`;
    const what = isTemplate ? `template step ${id ? `"${id}"` : `#${i + 1}`}` : `step ${id ? `"${id}"` : `#${i + 1}`}`;
    r.unknownKeys(t, STEP_KEYS, path, label, what);
    const step: StepDoc = { id: id ?? '', needs: [], children: [], ...r.located(path, label, STEP_KEYS) };

    if (t.id === undefined) r.problem(path, `${label}.id`, `${what} has no id`, 'add id = "<unique-name>"');
    else if (id === undefined) r.problem([...path, 'id'], `${label}.id`, `expected a string, got ${describeValue(t.id)}`);
    else if (!STEP_ID.test(isTemplate ? id.replace(/\{target(\.id)?\}/g, 'x') : id)) {
      r.problem([...path, 'id'], `${label}.id`, `"${id}" is not a valid step id`,
        `use letters, digits, ".", "_" and "-", starting with a letter or digit${isTemplate ? '; {target} stands for the expanded step' : ''}`);
    }
    if (id !== undefined) {
      const first = seen.get(id);
      if (first) {
        r.problem([...path, 'id'], `${label}.id`, `duplicate step id "${id}" (first used at line ${first.line})`, 'give each step a unique id');
      } else {
        seen.set(id, step);
      }
    }

    step.title = r.string(t, 'title', path, p, { nonEmpty: true });
    step.description = r.string(t, 'description', path, p);
    step.acceptance = r.string(t, 'acceptance', path, p);
    step.needs = [...(r.stringList(t, 'needs', path, p) ?? []), ...(r.stringList(t, 'depends_on', path, p) ?? [])];
    step.needs = [...new Set(step.needs)];
    if (id !== undefined && step.needs.includes(id)) {
      r.problem([...path, t.needs !== undefined ? 'needs' : 'depends_on'], `${p}needs`, `step "${id}" needs itself`);
    }
    step.condition = r.string(t, 'condition', path, p, { nonEmpty: true });
    if (step.condition !== undefined) {
      const problem = conditionProblem(step.condition);
      if (problem) {
        r.problem([...path, 'condition'], `${p}condition`, problem, 'write "{{v}}", "!{{v}}", "{{v}} == value" or "{{v}} != value"');
        step.condition = undefined;
      }
    }
    step.run = r.string(t, 'run', path, p, { nonEmpty: true });
    step.agent = r.string(t, 'agent', path, p, { nonEmpty: true });
    step.expand = r.string(t, 'expand', path, p, { nonEmpty: true });
    if (step.expand !== undefined && !FORMULA_NAME.test(step.expand)) {
      r.problem([...path, 'expand'], `${p}expand`, `"${step.expand}" is not a valid formula name`);
      step.expand = undefined;
    }
    if (t.timeout !== undefined) {
      const problem = durationProblem(t.timeout);
      if (problem) r.problem([...path, 'timeout'], `${p}timeout`, `bad duration: ${problem}`, DURATION_HINT);
      else if (parseDuration(String(t.timeout)) === 0) {
        r.problem([...path, 'timeout'], `${p}timeout`, 'a timeout of zero would fail the step at once', DURATION_HINT);
      } else step.timeout = String(t.timeout).trim();
    }
    if (t.retries !== undefined) {
      if (typeof t.retries === 'number' && Number.isInteger(t.retries) && t.retries >= 0 && t.retries <= MAX_RETRIES) step.retries = t.retries;
      else r.problem([...path, 'retries'], `${p}retries`, `expected a whole number from 0 to ${MAX_RETRIES}, got ${describeValue(t.retries)}`);
    }
    if (t.gate !== undefined) step.gate = readGate(t.gate, [...path, 'gate'], `${p}gate`, r);
    const kind = r.string(t, 'type', path, p, { nonEmpty: true });
    if (kind !== undefined) {
      if (!(STEP_TYPES as readonly string[]).includes(kind)) {
        const guess = closest(kind, STEP_TYPES);
        r.problem([...path, 'type'], `${p}type`, `unknown step type "${kind}"`, guess ? `did you mean "${guess}"?` : `use one of: ${STEP_TYPES.join(', ')}`);
      } else {
        r.note([...path, 'type'], `${p}type`, kind === 'parallel'
          ? 'no effect here: children of a step always run at the same time (as far as their needs allow), and the step is done when they all are'
          : `no effect here: the original makes the step's bead a ${kind}; step beads here are tasks, and how a step runs does not depend on it`);
      }
    }
    if (t.children !== undefined && isTemplate) {
      r.problem([...path, 'children'], `${p}children`, 'template steps cannot have children', 'expand into a step of the template with expand = "<formula>" instead');
    } else if (t.children !== undefined) {
      const tables = r.tableArray(t, 'children', `${p}children`, path);
      step.children = readStepTables(tables, [...path, 'children'], `${label}.children`, r, isTemplate, seen);
      if (tables.length === 0 && Array.isArray(t.children)) r.problem([...path, 'children'], `${p}children`, 'has no children', 'add [[steps.children]] tables or remove children');
      if (step.children.length > 0) {
        const other = [step.gate && 'gate', step.run !== undefined && 'run', step.expand !== undefined && 'expand', step.agent !== undefined && 'agent'].find(Boolean);
        if (other) r.problem([...path, other as string], `${p}${other}`, `a step with children is done when its children are; it cannot also have ${other}`, 'move the work into a child step');
      }
    }

    if (t.title === undefined && step.expand === undefined) {
      r.problem(path, `${p}title`, `${what} has no title`, 'add title = "..." (only a step with `expand` may leave it out)');
    }
    // A conditional gate is a step of its own (gate-<id>) that this one waits on, so the step keeps its work.
    const gating = step.gate && step.gate.type !== 'conditional';
    const kinds = [gating && 'gate', step.run !== undefined && 'run', step.expand !== undefined && 'expand'].filter(Boolean);
    if (kinds.length > 1) {
      r.problem([...path, kinds[1] as string], `${p}${kinds[1]}`, `a step cannot have both ${kinds.join(' and ')}`,
        'split it into two steps joined by needs');
    }
    if (step.agent !== undefined && (step.run !== undefined || gating)) {
      r.problem([...path, 'agent'], `${p}agent`, `a ${step.run !== undefined ? 'run' : 'gate'} step has no agent`, 'remove agent, or remove run/gate to make it an agent step');
    }
    out.push(step);
  });
  return out;
}

function readGate(value: unknown, path: KeyPath, label: string, r: Reader): GateSpec | undefined {
  if (!isTable(value)) {
    r.problem(path, label, `expected a table, got ${describeValue(value)}`, 'write gate = { type = "human", timeout = "24h" }');
    return undefined;
  }
  r.unknownKeys(value, GATE_KEYS, path, label, 'a gate');
  const type = value.type;
  if (typeof type !== 'string' || !(GATE_TYPES as readonly string[]).includes(type)) {
    r.problem([...path, 'type'], `${label}.type`, type === undefined ? 'a gate needs a type' : `bad gate type ${describeValue(type)}`,
      `use one of: ${GATE_TYPES.join(', ')}`);
    return undefined;
  }
  const gate: GateSpec = { type: type as GateSpec['type'] };
  if (value.timeout !== undefined) {
    const problem = durationProblem(value.timeout);
    if (problem) r.problem([...path, 'timeout'], `${label}.timeout`, `bad duration: ${problem}`, DURATION_HINT);
    else gate.timeout = String(value.timeout).trim();
  }
  const id = r.string(value, 'id', path, `${label}.`, { nonEmpty: true });
  if (id !== undefined) gate.id = id;
  const condition = r.string(value, 'condition', path, `${label}.`, { nonEmpty: true });
  if (condition !== undefined) gate.condition = condition;
  if (gate.type === 'conditional' && value.condition === undefined) {
    r.problem(path, `${label}.condition`, 'a conditional gate needs the condition it waits on', 'add condition = "<what must hold>"');
  }
  if (gate.type !== 'conditional' && value.condition !== undefined) {
    r.problem([...path, 'condition'], `${label}.condition`, 'only a conditional gate has a condition', 'use type = "conditional", or a step condition (condition = "{{var}}")');
  }
  if (gate.type === 'timer' && value.timeout === undefined) {
    r.problem(path, `${label}.timeout`, 'a timer gate needs a timeout (how long to wait)', 'add timeout = "1h"');
  }
  if (gate.type === 'bead' && value.id === undefined) {
    r.problem(path, `${label}.id`, 'a bead gate needs the id of the bead whose close opens it', 'add id = "gt-abc12" (vars allowed: "{{bead}}")');
  }
  if (gate.type === 'timer' && value.id !== undefined) {
    r.problem([...path, 'id'], `${label}.id`, 'a timer gate waits for its timeout only; id is for bead gates');
  }
  return gate;
}

function readLegs(raw: Table, r: Reader, key: 'legs' | 'aspects'): LegDoc[] {
  const out: LegDoc[] = [];
  const seen = new Map<string, LegDoc>();
  r.tableArray(raw, key, key).forEach((t, i) => {
    const path: KeyPath = [key, i];
    const id = typeof t.id === 'string' ? t.id : undefined;
    const label = id ? `${key}[${id}]` : `${key}[#${i + 1}]`;
    r.unknownKeys(t, LEG_KEYS, path, label, key === 'legs' ? 'a leg' : 'an aspect');
    const leg: LegDoc = { id: id ?? '', title: '', ...r.located(path, label, LEG_KEYS) };
    if (id === undefined) r.problem(t.id === undefined ? path : [...path, 'id'], `${label}.id`, t.id === undefined ? 'has no id' : `expected a string, got ${describeValue(t.id)}`);
    else if (!STEP_ID.test(id)) r.problem([...path, 'id'], `${label}.id`, `"${id}" is not a valid id`, 'use letters, digits, ".", "_" and "-"');
    else if (id === SYNTHESIS_STEP_ID) r.problem([...path, 'id'], `${label}.id`, `"${SYNTHESIS_STEP_ID}" is the id of the synthesis step`, 'rename the leg');
    else if (seen.has(id)) r.problem([...path, 'id'], `${label}.id`, `duplicate ${key === 'legs' ? 'leg' : 'aspect'} id "${id}" (first used at line ${seen.get(id)!.line})`);
    else seen.set(id, leg);
    const title = r.string(t, 'title', path, `${label}.`, { nonEmpty: true });
    if (t.title === undefined) r.problem(path, `${label}.title`, 'has no title', 'add title = "..."');
    leg.title = title ?? '';
    leg.focus = r.string(t, 'focus', path, `${label}.`);
    leg.description = r.string(t, 'description', path, `${label}.`);
    leg.agent = r.string(t, 'agent', path, `${label}.`, { nonEmpty: true });
    out.push(leg);
  });
  return out;
}

function readSynthesis(raw: Table, r: Reader, legs: LegDoc[]): SynthesisDoc | undefined {
  const t = raw.synthesis;
  if (t === undefined) return undefined;
  const path = ['synthesis'];
  if (!isTable(t)) {
    r.problem(path, 'synthesis', `expected a table, got ${describeValue(t)}`);
    return undefined;
  }
  r.unknownKeys(t, SYNTHESIS_KEYS, path, 'synthesis', 'the synthesis');
  const s: SynthesisDoc = { title: '', dependsOn: [], ...r.located(path, 'synthesis', SYNTHESIS_KEYS) };
  s.title = r.string(t, 'title', path, 'synthesis.', { nonEmpty: true }) ?? 'Synthesis';
  s.description = r.string(t, 'description', path, 'synthesis.');
  s.acceptance = r.string(t, 'acceptance', path, 'synthesis.');
  s.dependsOn = r.stringList(t, 'depends_on', path, 'synthesis.') ?? [];
  s.agent = r.string(t, 'agent', path, 'synthesis.', { nonEmpty: true });
  // With extends the legs may come from a parent; the resolver checks those.
  if (raw.extends === undefined) {
    const ids = new Set(legs.map((l) => l.id));
    for (const dep of s.dependsOn) {
      if (!ids.has(dep)) {
        const guess = closest(dep, [...ids]);
        r.problem([...path, 'depends_on'], 'synthesis.depends_on', `names "${dep}", which is not a leg of this formula`,
          guess ? `did you mean "${guess}"?` : `legs: ${[...ids].join(', ')}`);
      }
    }
  }
  return s;
}

function readPrompts(raw: Table, r: Reader): Record<string, string> {
  const t = raw.prompts;
  if (t === undefined) return {};
  if (!isTable(t)) {
    r.problem(['prompts'], 'prompts', `expected a table of strings, got ${describeValue(t)}`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === 'string') out[k] = v;
    else r.problem(['prompts', k], `prompts.${k}`, `expected a string, got ${describeValue(v)}`);
  }
  return out;
}

function readCompose(raw: Table, r: Reader): { expand: ComposeExpandDoc[]; aspects: FormulaDoc['composeAspects'] } {
  const t = raw.compose;
  const aspects: FormulaDoc['composeAspects'] = [];
  if (t === undefined) return { expand: [], aspects };
  if (!isTable(t)) {
    r.problem(['compose'], 'compose', `expected a table, got ${describeValue(t)}`, 'write [[compose.expand]] tables');
    return { expand: [], aspects };
  }
  r.unknownKeys(t, COMPOSE_KEYS, ['compose'], 'compose', 'compose');
  for (const name of r.stringList(t, 'aspects', ['compose'], 'compose.') ?? []) {
    if (!FORMULA_NAME.test(name)) r.problem(['compose', 'aspects'], 'compose.aspects', `"${name}" is not a valid formula name`);
    else aspects.push({ name, file: r.file, line: r.map.lineOf(['compose', 'aspects']) });
  }
  const out: ComposeExpandDoc[] = [];
  r.tableArray(t, 'expand', 'compose.expand', ['compose']).forEach((e, i) => {
    const path = ['compose', 'expand', i];
    const label = `compose.expand[${i}]`;
    r.unknownKeys(e, COMPOSE_EXPAND_KEYS, path, label, 'compose.expand');
    const target = r.string(e, 'target', path, `${label}.`, { nonEmpty: true });
    const withName = r.string(e, 'with', path, `${label}.`, { nonEmpty: true });
    if (e.target === undefined) r.problem(path, `${label}.target`, 'needs the id of the step to expand', 'add target = "<step-id>"');
    if (e.with === undefined) r.problem(path, `${label}.with`, 'needs the name of an expansion formula', 'add with = "<formula>"');
    if (withName !== undefined && !FORMULA_NAME.test(withName)) r.problem([...path, 'with'], `${label}.with`, `"${withName}" is not a valid formula name`);
    if (target !== undefined && withName !== undefined && FORMULA_NAME.test(withName)) {
      out.push({ target, with: withName, ...r.located(path, label, COMPOSE_EXPAND_KEYS) });
    }
  });
  return { expand: out, aspects };
}
