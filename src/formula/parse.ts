import { parse as parseToml, TomlError } from 'smol-toml';
import { closest, FormulaError, throwProblems } from './errors.js';
import { DURATION_HINT, describeValue, durationProblem, parseDuration } from './duration.js';
import { conditionProblem } from './condition.js';
import { VAR_NAME, envNameOf } from './vars.js';
import { SourceMap, type KeyPath } from './source-map.js';
import { FORMULA_TYPES, GATE_TYPES, type FormulaType, type GateSpec, type VarSpec } from './types.js';

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
  /** Line of each top-level key, e.g. `extends`. */
  lines: Record<string, number>;
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
}

export interface SynthesisDoc extends Located {
  title: string;
  description?: string;
  acceptance?: string;
  dependsOn: string[];
}

export const SYNTHESIS_STEP_ID = 'synthesis';

const TOP_KEYS = ['formula', 'description', 'version', 'type', 'extends', 'vars', 'steps', 'compose', 'inputs', 'prompts', 'legs', 'synthesis', 'template', 'aspects'] as const;
const STEP_KEYS = ['id', 'title', 'description', 'acceptance', 'needs', 'depends_on', 'condition', 'gate', 'run', 'agent', 'timeout', 'retries', 'expand'] as const;
const GATE_KEYS = ['type', 'timeout', 'id'] as const;
const VAR_KEYS = ['description', 'required', 'default', 'enum', 'pattern'] as const;
const INPUT_KEYS = ['description', 'type', 'required', 'required_unless', 'default'] as const;
const INPUT_TYPES = ['string', 'number', 'boolean'] as const;
const LEG_KEYS = ['id', 'title', 'focus', 'description'] as const;
const SYNTHESIS_KEYS = ['title', 'description', 'acceptance', 'depends_on'] as const;
const COMPOSE_KEYS = ['expand'] as const;
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
  constructor(
    readonly file: string,
    readonly map: SourceMap,
  ) {}

  problem(path: KeyPath, field: string, message: string, hint?: string): void {
    this.problems.push(new FormulaError(message, { file: this.file, line: this.map.lineOf(path), field }, { hint }));
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
  const composeExpand = readCompose(raw, r);

  // What belongs to which type: a field another type uses is a mistake, not something to ignore.
  const belongs: Record<string, FormulaType[]> = {
    steps: ['workflow'],
    compose: ['workflow'],
    template: ['expansion'],
    legs: ['convoy'],
    aspects: ['aspect'],
    synthesis: ['convoy', 'aspect'],
    inputs: ['convoy', 'aspect'],
    prompts: ['convoy', 'aspect'],
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
    aspect: ['aspects', legs.length],
  };
  const [needKey, count] = needs[type];
  if (count === 0 && parents.length === 0 && raw[needKey] === undefined) {
    r.problem([], needKey, `a ${type} formula needs at least one [[${needKey}]] entry`, `add a [[${needKey}]] table${type === 'workflow' ? ' or extends = ["<parent>"]' : ''}`);
  }
  if (type === 'expansion' && parents.length > 0) {
    r.problem(['extends'], 'extends', 'an expansion formula cannot extend another formula', 'copy the template steps you need');
  }

  return {
    file: r.file, name, description, version, type, extends: parents, vars, steps, template, composeExpand,
    legs, synthesis, prompts, lines,
  };
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
    r.problems.push(new FormulaError(`var "${v.name}" is required but also has a default, so it can never be missing`, at('default'),
      { hint: 'drop `required = true` or the default' }));
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
  const tables = r.tableArray(raw, key, key);
  const out: StepDoc[] = [];
  const seen = new Map<string, StepDoc>();
  tables.forEach((t, i) => {
    const path: KeyPath = [key, i];
    const id = typeof t.id === 'string' ? t.id : undefined;
    const label = id ? `${key}[${id}]` : `${key}[#${i + 1}]`;
    const p = `${label}.`;
    const what = isTemplate ? `template step ${id ? `"${id}"` : `#${i + 1}`}` : `step ${id ? `"${id}"` : `#${i + 1}`}`;
    r.unknownKeys(t, STEP_KEYS, path, label, what);
    const step: StepDoc = { id: id ?? '', needs: [], ...r.located(path, label, STEP_KEYS) };

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

    if (t.title === undefined && step.expand === undefined) {
      r.problem(path, `${p}title`, `${what} has no title`, 'add title = "..." (only a step with `expand` may leave it out)');
    }
    const kinds = [step.gate && 'gate', step.run !== undefined && 'run', step.expand !== undefined && 'expand'].filter(Boolean);
    if (kinds.length > 1) {
      r.problem([...path, kinds[1] as string], `${p}${kinds[1]}`, `a step cannot have both ${kinds.join(' and ')}`,
        'split it into two steps joined by needs');
    }
    if (step.agent !== undefined && (step.run !== undefined || step.gate)) {
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

function readCompose(raw: Table, r: Reader): ComposeExpandDoc[] {
  const t = raw.compose;
  if (t === undefined) return [];
  if (!isTable(t)) {
    r.problem(['compose'], 'compose', `expected a table, got ${describeValue(t)}`, 'write [[compose.expand]] tables');
    return [];
  }
  r.unknownKeys(t, COMPOSE_KEYS, ['compose'], 'compose', 'compose');
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
  return out;
}
