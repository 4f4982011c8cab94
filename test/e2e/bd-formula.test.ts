import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT, runCli, tempDir } from '../helpers/cli.js';
import { referenceDir } from '../helpers/reference.js';

/** A town made by `gt install`, and a HOME of its own so no user formulas leak in. */
function setup() {
  const base = tempDir();
  const home = join(base, 'home');
  mkdirSync(home);
  const r = runCli('gt', ['install', 'town'], { cwd: base, env: { HOME: home } });
  expect(r.code).toBe(0);
  const root = join(base, 'town');
  const formulas = join(root, '.beads', 'formulas');
  mkdirSync(formulas, { recursive: true });
  const bd = (args: string[], cwd = root, env: Record<string, string> = {}) => runCli('bd', args, { cwd, env: { HOME: home, ...env } });
  return { base, root, home, formulas, bd };
}

const BUILTINS = readdirSync(join(PROJECT, 'formulas')).filter((f) => f.endsWith('.formula.toml')).map((f) => f.replace(/\.formula\.toml$/, ''));

describe('bd formula list', () => {
  it('lists built-in and town formulas with type, source, steps and vars', () => {
    const t = setup();
    writeFileSync(join(t.formulas, 'deploy.formula.toml'), 'formula = "deploy"\n[vars.env]\nrequired = true\n[[steps]]\nid = "go"\ntitle = "Go to {{env}}"\n');
    const json = t.bd(['formula', 'list', '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const list = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(list.map((f) => f.name)).toEqual(expect.arrayContaining([...BUILTINS, 'deploy']));
    expect(list.find((f) => f.name === 'deploy')).toMatchObject({
      type: 'workflow', origin: 'town', source: join(t.formulas, 'deploy.formula.toml'), steps: 1, vars: [{ name: 'env', required: true }],
    });
    expect(list.find((f) => f.name === 'release')).toMatchObject({ type: 'workflow', source: 'built-in', steps: 5, vars: [{ name: 'version', required: true }] });
    expect(list.find((f) => f.name === 'code-review')).toMatchObject({ type: 'convoy' });

    const text = t.bd(['formula', 'list']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+TYPE\s+STEPS\s+SOURCE\s+VARS/);
    expect(lines.find((l) => l.startsWith('release '))).toMatch(/^release\s+workflow\s+5\s+built-in\s+version\*$/);
    expect(lines.find((l) => l.startsWith('deploy '))).toContain(`town: ${join(t.formulas, 'deploy.formula.toml')}`);
  });

  it('does not load the Temporal SDK', () => {
    const t = setup();
    for (const args of [['formula', 'list'], ['formula', 'show', 'release'], ['formula', 'lint', 'release']]) {
      const r = t.bd(args, t.root, { NODE_DEBUG: 'module' });
      expect(r.code).toBe(0);
      expect(r.stderr).not.toContain('@temporalio');
    }
  });
});

describe('bd formula show', () => {
  it('prints the resolved DAG as text, JSON or mermaid, with vars as env references in run', () => {
    const t = setup();
    const text = t.bd(['formula', 'show', 'release', '--var', 'version=1.2.0']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('release (workflow, version 1) from built-in');
    expect(text.stdout).toContain('vars: version="1.2.0"');
    expect(text.stdout).toContain('run: ./scripts/bump-version.sh "$GT_VAR_VERSION"');
    expect(text.stdout).toMatch(/5\. publish\s+Publish\n\s+run, wave 5; needs create-tag/);

    const json = JSON.parse(t.bd(['formula', 'show', 'release', '--var', 'version=1.2.0', '--json']).stdout);
    expect(json.steps.map((s: { id: string }) => s.id)).toEqual(['bump-version', 'run-tests', 'build', 'create-tag', 'publish']);
    expect(json.steps[3]).toMatchObject({ title: 'Create release tag', needs: ['build'], run: `git tag -a v"$GT_VAR_VERSION" -m 'Release v'"$GT_VAR_VERSION"''` });

    const mermaid = t.bd(['formula', 'show', 'shiny-enterprise', '--var', 'feature=search', '--format', 'mermaid']);
    expect(mermaid.stdout.split('\n')[0]).toBe('graph TD');
    expect(mermaid.stdout).toContain('implement.draft<br/>Draft: Implement search');
  });

  it('previews a formula whose required vars are not given, and says which', () => {
    const t = setup();
    const r = t.bd(['formula', 'show', 'release']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Run ./scripts/bump-version.sh {{version}}');
    expect(r.stdout).toContain('not given: version (required)');
  });

  it('refuses bad vars, unknown formulas and bad options with a message on stderr', () => {
    const t = setup();
    const unknown = t.bd(['formula', 'show', 'release', '--var', 'verison=1.2.0']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toContain('unknown var "verison" given with --var');
    expect(unknown.stderr).toContain('hint: did you mean --var version=1.2.0?');

    const pattern = t.bd(['formula', 'show', 'release', '--var', 'version=1.2']);
    expect(pattern.code).toBe(2);
    expect(pattern.stderr).toMatch(/release\.formula\.toml:\d+: vars\.version\.pattern: var "version" is "1\.2", which does not match the pattern/);

    const missing = t.bd(['formula', 'show', 'relaese']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no formula named "relaese"; looked in:');
    expect(missing.stderr).toContain(join(t.formulas, 'relaese.formula.toml'));
    expect(missing.stderr).toContain(join(t.home, '.beads', 'formulas', 'relaese.formula.toml'));
    expect(missing.stderr).toContain(join(PROJECT, 'formulas', 'relaese.formula.toml'));
    expect(missing.stderr).toContain('hint: did you mean "release"?');

    expect(t.bd(['formula', 'show', 'release', '--format', 'svg']).code).toBe(2);
    expect(t.bd(['formula', 'show', 'release', '--var', 'version']).stderr).toContain('expected name=value');
    expect(t.bd(['formula', 'show']).code).toBe(2);
  });
});

describe('bd formula lint', () => {
  it('passes every built-in formula', () => {
    const t = setup();
    for (const name of BUILTINS) {
      const r = t.bd(['formula', 'lint', name]);
      expect({ name, stderr: r.stderr, code: r.code }).toEqual({ name, stderr: '', code: 0 });
      expect(r.stdout).toMatch(new RegExp(`^ok: .*${name}\\.formula\\.toml \\(${name}, \\d+ steps\\)`));
    }
  });

  it('reports every problem of a file with file, line and field, and exits 1', () => {
    const t = setup();
    const file = join(t.base, 'bad.formula.toml');
    writeFileSync(file, `formula = "bad"

[[steps]]
id = "build"
title = "Build"
neds = ["x"]

[[steps]]
id = "build"
title = "Build again"
gate = { type = "robot" }
`);
    const r = t.bd(['formula', 'lint', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: ${file}:6: steps[build].neds: unknown key "neds" in step "build"\nhint: did you mean "needs"?`);
    expect(r.stderr).toContain(`error: ${file}:9: steps[build].id: duplicate step id "build" (first used at line 3)`);
    expect(r.stderr).toContain(`error: ${file}:11: steps[build].gate.type: bad gate type "robot"`);
    expect(r.stderr).toContain(`3 problems in ${file}`);

    const json = t.bd(['formula', 'lint', file, '--json']);
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout);
    expect(out.ok).toBe(false);
    expect(out.problems.map((p: { line: number; field: string }) => `${p.line} ${p.field}`)).toEqual(['6 steps[build].neds', '9 steps[build].id', '11 steps[build].gate.type']);
  });

  it('refuses a typo in a key of the original (did-you-mean) and a Go template that does not parse (file, line, field)', () => {
    const t = setup();
    const typo = join(t.base, 'typo.formula.toml');
    writeFileSync(typo, 'formula = "typo"\n[squash]\ntriger = "on_complete"\n[[steps]]\nid = "a"\ntitle = "A"\n[[steps.chidren]]\nid = "b"\ntitle = "B"\n');
    let r = t.bd(['formula', 'lint', typo]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: ${typo}:3: squash.triger: unknown key "triger" in squash\nhint: did you mean "trigger"?`);
    expect(r.stderr).toContain(`error: ${typo}:7: steps[a].chidren: unknown key "chidren" in step "a"\nhint: did you mean "children"?`);
    r = t.bd(['cook', typo, '--dry-run']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');

    const tmpl = join(t.base, 'tmpl.formula.toml');
    writeFileSync(tmpl, 'formula = "tmpl"\ntype = "convoy"\n[prompts]\nbase = """\nReview {{.leg.title}}\n{{if .focus}}\nFocus: {{.focus}}\n"""\n[[legs]]\nid = "a"\ntitle = "A"\n');
    const ledger = join(t.root, '.beads', 'issues.jsonl');
    const before = readFileSync(ledger, 'utf8');
    for (const args of [['formula', 'lint', tmpl], ['cook', tmpl, '--dry-run'], ['cook', tmpl], ['mol', 'pour', tmpl]]) {
      r = t.bd(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`error: ${tmpl}:6: prompts.base: Go template does not parse: {{if .focus}} has no {{end}}`);
    }
    for (const args of [['cook', typo], ['mol', 'pour', typo]]) {
      r = t.bd(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('did you mean "trigger"?');
    }
    expect(readFileSync(ledger, 'utf8')).toBe(before);
  });

  it('accepts the original\'s keys that do nothing here with a note saying why', () => {
    const t = setup();
    const file = join(t.base, 'notes.formula.toml');
    writeFileSync(file, 'formula = "notes"\npour = true\n[[steps]]\nid = "a"\ntitle = "A"\ntype = "chore"\n');
    const r = t.bd(['formula', 'lint', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`note: ${file}:2: pour: no effect here: the original makes step beads only when pour = true`);
    expect(r.stdout).toContain(`note: ${file}:6: steps[a].type: no effect here: the original makes the step's bead a chore`);
    expect(r.stdout).toContain(`ok: ${file} (notes, 1 step)`);
  });

  it('reports a TOML syntax error with line and column, a missing name, needs on a missing step and a cycle', () => {
    const t = setup();
    const write = (name: string, text: string) => {
      const file = join(t.formulas, `${name}.formula.toml`);
      writeFileSync(file, text);
      return file;
    };
    const syntax = write('syntax', 'formula = "syntax"\n[[steps]\nid = "a"\n');
    let r = t.bd(['formula', 'lint', 'syntax']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`error: ${syntax.replace(/[.]/g, '\\.')}:2:\\d+: TOML syntax error`));

    write('noname', 'description = "x"\n[[steps]]\nid = "a"\ntitle = "A"\n');
    r = t.bd(['formula', 'lint', 'noname']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/noname\.formula\.toml:1: formula: missing the formula name/);

    write('needs', 'formula = "needs"\n[[steps]]\nid = "a"\ntitle = "A"\nneeds = ["b"]\n');
    r = t.bd(['formula', 'lint', 'needs']);
    expect(r.stderr).toMatch(/needs\.formula\.toml:5: steps\[a\]\.needs: step "a" needs "b", which is not a step of this formula/);

    write('loop', 'formula = "loop"\n[[steps]]\nid = "a"\ntitle = "A"\nneeds = ["b"]\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["a"]\n');
    r = t.bd(['formula', 'lint', 'loop']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/loop\.formula\.toml:5: steps\[a\]\.needs: dependency cycle: "a" needs "b", "b" needs "a"/);

    write('misnamed', 'formula = "other"\n[[steps]]\nid = "a"\ntitle = "A"\n');
    expect(t.bd(['formula', 'lint', 'misnamed']).stderr).toMatch(/declares formula = "other"; it is found by its file name/);
  });

  it('refuses a file or name that does not exist', () => {
    const t = setup();
    const r = t.bd(['formula', 'lint', './nope.formula.toml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no formula file ${join(t.root, 'nope.formula.toml')}`);
    expect(t.bd(['formula', 'lint', 'nope']).stderr).toContain('no formula named "nope"; looked in:');
  });
});

const ORIGINAL = referenceDir('gastown-formulas');
if (!existsSync(ORIGINAL)) console.warn(`skipping the original's formulas: ${ORIGINAL} is absent (it sits beside the clone in CI)`);

describe.skipIf(!existsSync(ORIGINAL))("the original's built-in formulas through the CLI", () => {
  it('every valid one lints clean and `bd cook <file> --dry-run` resolves it; security-audit is refused', () => {
    const t = setup();
    const files = readdirSync(ORIGINAL).filter((f) => f.endsWith('.formula.toml')).sort();
    expect(files).toHaveLength(47);
    for (const file of files) {
      const path = join(ORIGINAL, file);
      const lint = t.bd(['formula', 'lint', path]);
      const cook = t.bd(['cook', path, '--dry-run', '--json']);
      if (file === 'security-audit.formula.toml') {
        expect(lint.code).toBe(1);
        expect(cook.code).toBe(1);
        expect(cook.stderr).toContain('aspect formula "security-audit" has no [[aspects]], so it has nothing to run on its own');
        continue;
      }
      expect(lint.stderr, file).toBe('');
      expect(lint.code, file).toBe(0);
      expect(lint.stdout, file).toMatch(/^ok: /m);
      expect(cook.stderr, file).toBe('');
      expect(cook.code, file).toBe(0);
      expect((JSON.parse(cook.stdout) as { steps: unknown[] }).steps.length, file).toBeGreaterThan(0);
    }
  });
});
