import { usageError } from '../errors.js';
import { closest, FormulaError, throwProblems } from './errors.js';
import type { VarDoc } from './parse.js';

/** Var names: what `{{name}}` may hold (the original's rule). */
export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const PLACEHOLDER_AT = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/y;

/** The environment variable a `run` command reads a var from: `GT_VAR_` + name upper-cased. */
export function envNameOf(name: string): string {
  return 'GT_VAR_' + name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The environment a `run` step's command gets its vars through: `{ GT_VAR_VERSION: "1.2.0" }`. */
export function varEnv(vars: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) env[envNameOf(name)] = value;
  return env;
}

/**
 * Words of Handlebars-style blocks the original's formulas write in their instructions
 * (`{{#if x}}…{{else}}…{{/if}}`, `{{#each xs}}{{this}}{{/each}}`, Go's `{{end}}`): text for the
 * agent, never vars.
 */
export const TEMPLATE_WORDS: ReadonlySet<string> = new Set(['else', 'end', 'this']);

/** Names of the vars `{{name}}` used in a text, in order of first use (template words are not vars). */
export function varsUsedIn(text: string | undefined): string[] {
  if (!text) return [];
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((n) => !TEMPLATE_WORDS.has(n)))];
}

/** Replace `{{name}}` by its value; names without a value are left as written. */
export function substituteVars(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => (Object.hasOwn(vars, name) ? vars[name]! : whole));
}

/**
 * Render a `run` command so each `{{name}}` reaches the shell as data, never as shell text: it
 * becomes a quoted reference to `GT_VAR_<NAME>`, which the step's environment carries (see
 * `varEnv`). The quoting follows where the placeholder stands:
 *   unquoted       v{{version}}        → v"$GT_VAR_VERSION"
 *   in "…"         "Release {{version}}" → "Release ${GT_VAR_VERSION}"
 *   in '…'         'v{{version}}'      → 'v'"$GT_VAR_VERSION"''
 * so a value full of quotes, `$`, `;` or backticks is never parsed by the shell. (Inside an
 * unquoted here-document the quotes would be literal; pass such values as arguments instead.)
 */
export function renderRun(command: string): string {
  let out = '';
  let state: 'plain' | 'single' | 'double' | 'ansi' = 'plain';
  let i = 0;
  while (i < command.length) {
    PLACEHOLDER_AT.lastIndex = i;
    const m = PLACEHOLDER_AT.exec(command);
    if (m) {
      const env = envNameOf(m[1]!);
      if (state === 'plain') out += `"$${env}"`;
      else if (state === 'double') out += `\${${env}}`;
      else if (state === 'single') out += `'"$${env}"'`;
      else out += `'"$${env}"$'`;
      i = PLACEHOLDER_AT.lastIndex;
      continue;
    }
    const c = command[i]!;
    if (c === '\\' && state !== 'single' && i + 1 < command.length) {
      out += c + command[i + 1];
      i += 2;
      continue;
    }
    if (state === 'plain') {
      if (c === "'") state = 'single';
      else if (c === '"') state = 'double';
      else if (c === '$' && command[i + 1] === "'") {
        out += "$'";
        i += 2;
        state = 'ansi';
        continue;
      }
    } else if ((state === 'single' || state === 'ansi') && c === "'") state = 'plain';
    else if (state === 'double' && c === '"') state = 'plain';
    out += c;
    i++;
  }
  return out;
}

/** `["version=1.2.0", "dry=true"]` (from repeated `--var`) → `{ version: "1.2.0", dry: "true" }`. */
export function parseVarArgs(args: readonly string[] = []): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw usageError(`--var ${arg}: expected name=value`, 'write --var version=1.2.0 (an empty value is --var name=)');
    const name = arg.slice(0, eq).trim();
    if (!VAR_NAME.test(name)) throw usageError(`--var ${arg}: "${name}" is not a var name`, 'var names use letters, digits and "_"');
    if (Object.hasOwn(vars, name)) throw usageError(`--var ${name} is given twice`, 'give each var once');
    vars[name] = arg.slice(eq + 1);
  }
  return vars;
}

/**
 * The final value of every var: the given one, else its default. Refuses (all problems at once,
 * exit code 2) an unknown name, a missing required var, a value outside `enum` or not matching
 * `pattern`. With `strict: false` (previews and lint) a missing var is left out instead of being
 * an error, and optional vars without a default are left out rather than set to "".
 */
export function checkVars(
  specs: readonly VarDoc[],
  given: Readonly<Record<string, string>>,
  formula: { name: string; file: string; line: number },
  opts: { strict?: boolean } = {},
): Record<string, string> {
  const strict = opts.strict ?? true;
  const problems: FormulaError[] = [];
  const byName = new Map(specs.map((v) => [v.name, v]));
  const fail = (message: string, at: { file: string; line?: number; field?: string }, hint?: string) =>
    problems.push(new FormulaError(message, at, { hint, exitCode: 2 }));

  for (const name of Object.keys(given)) {
    if (byName.has(name)) continue;
    const guess = closest(name, [...byName.keys()]);
    fail(`unknown var "${name}" given with --var: formula "${formula.name}" ${byName.size ? `has vars ${[...byName.keys()].join(', ')}` : 'takes no vars'}`,
      { file: formula.file, line: formula.line, field: 'vars' },
      guess ? `did you mean --var ${guess}=${given[name]}?` : 'see `bd formula show ' + formula.name + '` for its vars');
  }

  const values: Record<string, string> = {};
  for (const v of specs) {
    const at = (field?: string) => ({ file: v.file, line: (field && v.lines[field]) || v.line, field: field ? `${v.label}.${field}` : v.label });
    const value = Object.hasOwn(given, v.name) ? given[v.name] : v.default;
    if (value === undefined) {
      const alternatives = v.requiredUnless ?? [];
      if (alternatives.length > 0) {
        const satisfied = alternatives.some((a) => Object.hasOwn(given, a) || byName.get(a)?.default !== undefined);
        if (!satisfied && strict) {
          fail(`"${v.name}" is required unless one of ${alternatives.join(', ')} is given`, at(),
            `give one of them, e.g. --var ${v.name}=<value>${v.description ? ` (${v.description})` : ''}`);
        }
      } else if (v.required && strict) {
        fail(`missing required var "${v.name}"${v.description ? ` (${v.description})` : ''}`, at(), `give it with --var ${v.name}=<value>`);
      }
      if (strict) values[v.name] = '';
      continue;
    }
    if (v.enum && !v.enum.includes(value)) {
      fail(`var "${v.name}" is "${value}", which is not one of the allowed values: ${v.enum.join(', ')}`, at('enum'),
        `give one of: ${v.enum.map((e) => `--var ${v.name}=${e}`).join(', ')}`);
      continue;
    }
    if (v.pattern !== undefined && !new RegExp(v.pattern).test(value)) {
      fail(`var "${v.name}" is "${value}", which does not match the pattern ${v.pattern}`, at('pattern'),
        v.description ? `expected: ${v.description}` : 'give a value that matches the pattern');
      continue;
    }
    values[v.name] = value;
  }
  throwProblems(problems);
  return values;
}
