import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { action, collect, printJson } from '../run.js';
import { DAG_FORMATS, mergeFormula, parseVarArgs, resolveFormula, type DagFormat } from '../../formula/index.js';
import { lintFormula, listFormulas, loadFormulaDoc, renderDag, type FormulaSummary } from '../../town/formulas.js';

/** `bd formula list|show|lint`. Reads files only: never loads the Temporal client. */
export function registerFormulaCommands(program: Command): void {
  const formula = program.command('formula').description('Workflow formulas: list them, show a resolved DAG, check a file');

  formula
    .command('list')
    .description('List the formulas visible from here (rig, town, user, built-in; first match wins)')
    .option('--json', 'print JSON')
    .action(action((opts: { json?: boolean }) => {
      const formulas = listFormulas(process.cwd());
      if (opts.json) return printJson(formulas);
      process.stdout.write(formatList(formulas));
    }));

  formula
    .command('show <name>')
    .description('Show the resolved DAG of a formula (extends, expansions and conditions applied)')
    .option('--var <name=value>', 'set a var (repeatable)', collect, [])
    .option('--format <format>', `output: ${DAG_FORMATS.join(', ')}`, 'text')
    .option('--json', 'print JSON (same as --format json)')
    .action(action((name: string, opts: { var: string[]; format: string; json?: boolean }) => {
      const format = (opts.json ? 'json' : opts.format) as DagFormat;
      if (!DAG_FORMATS.includes(format)) throw usageError(`unknown format "${opts.format}"`, `use one of: ${DAG_FORMATS.join(', ')}`);
      const vars = parseVarArgs(opts.var);
      const { doc, found, load } = loadFormulaDoc(name, process.cwd());
      const resolved = resolveFormula(doc, { vars, load, strict: false, source: found.origin === 'built-in' ? 'built-in' : found.path });
      process.stdout.write(renderDag(resolved, format));
      if (format === 'text') {
        const missing = mergeFormula(doc, load).vars.filter((v) => !Object.hasOwn(resolved.vars, v.name));
        if (missing.length) {
          process.stdout.write(`not given: ${missing.map((v) => `${v.name}${v.required || v.requiredUnless ? ' (required)' : ''}`).join(', ')}; ` +
            `give --var name=value to fill them in\n`);
        }
      }
    }));

  formula
    .command('lint <file-or-name>')
    .description('Check a formula: TOML syntax, every field, extends, expansions, needs and cycles')
    .option('--json', 'print JSON')
    .action(action((target: string, opts: { json?: boolean }) => {
      const result = lintFormula(target, process.cwd());
      if (opts.json) {
        printJson({ ...result, problems: result.problems.map((p) => p.toJSON()) });
      } else if (result.ok) {
        for (const n of result.notes) process.stdout.write(`note: ${n.file}:${n.line}: ${n.field}: ${n.message}\n`);
        process.stdout.write(`ok: ${result.file} (${result.name}, ${result.steps} step${result.steps === 1 ? '' : 's'})\n`);
      } else {
        for (const p of result.problems) {
          process.stderr.write(`error: ${p.message}\n`);
          if (p.hint) process.stderr.write(`hint: ${p.hint}\n`);
        }
        process.stderr.write(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} in ${result.file}\n`);
      }
      if (!result.ok) process.exitCode = 1;
    }));
}

function formatList(formulas: FormulaSummary[]): string {
  if (formulas.length === 0) return 'no formulas found\n';
  const rows = formulas.map((f) => [
    f.name,
    f.type ?? '?',
    f.steps === undefined ? '?' : String(f.steps),
    f.origin === 'built-in' ? 'built-in' : `${f.origin}: ${f.path}`,
    f.error ? `BROKEN: ${f.error.split('\n')[0]}` : f.vars.map((v) => (v.required ? `${v.name}*` : v.default !== undefined && v.default !== '' ? `${v.name}=${v.default}` : v.name)).join(' '),
  ]);
  const header = ['NAME', 'TYPE', 'STEPS', 'SOURCE', 'VARS (* required)'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
