import { describe, expect, it } from 'vitest';
import { FormulaError, FormulaProblems, parseFormula, problemsOf } from '../../../src/formula/index.js';

/** The problems a source produces, or [] when it parses. */
function problems(source: string): FormulaError[] {
  try {
    parseFormula(source, 'x.formula.toml');
    return [];
  } catch (err) {
    const found = problemsOf(err);
    if (found.length === 0) throw err;
    return found;
  }
}

function onlyProblem(source: string): FormulaError {
  const found = problems(source);
  expect(found.map((p) => p.message)).toHaveLength(1);
  return found[0]!;
}

describe('parseFormula', () => {
  it('reads the guide release example with every field', () => {
    const doc = parseFormula(`
description = "Standard release process"
formula = "release"
version = 1
[vars.version]
description = "The semantic version"
required = true
pattern = '^\\d+\\.\\d+\\.\\d+$'
[[steps]]
id = "bump-version"
title = "Bump version"
description = "Run ./scripts/bump-version.sh {{version}}"
run = "./scripts/bump-version.sh {{version}}"
timeout = "5m"
retries = 2
[[steps]]
id = "approve"
title = "Approve"
depends_on = ["bump-version"]
gate = { type = "human", timeout = "24h" }
`, 'release.formula.toml');
    expect(doc.name).toBe('release');
    expect(doc.type).toBe('workflow');
    expect(doc.version).toBe(1);
    expect(doc.vars).toMatchObject([{ name: 'version', required: true, pattern: '^\\d+\\.\\d+\\.\\d+$', line: 5 }]);
    expect(doc.steps[0]).toMatchObject({ id: 'bump-version', timeout: '5m', retries: 2, line: 9 });
    expect(doc.steps[1]).toMatchObject({ id: 'approve', needs: ['bump-version'], gate: { type: 'human', timeout: '24h' } });
  });

  it('reports a TOML syntax error with line and column', () => {
    const p = onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = = "A"\n');
    expect(p.line).toBe(4);
    expect(p.column).toBe(9);
    expect(p.message).toMatch(/^x\.formula\.toml:4:9: TOML syntax error/);
    expect(p.message).toContain('title = = "A"');
  });

  it('reports an unknown key with its line, field and a did-you-mean', () => {
    const p = onlyProblem('formula = "x"\n\n[[steps]]\nid = "a"\ntitle = "A"\nneeds = []\n\n[[steps]]\nid = "b"\ntitle = "B"\nneds = ["a"]\n');
    expect(p.message).toBe('x.formula.toml:11: steps[b].neds: unknown key "neds" in step "b"');
    expect(p.hint).toBe('did you mean "needs"?');
    expect(onlyProblem('formula = "x"\nstepz = 1\n[[steps]]\nid="a"\ntitle="A"\n').message).toMatch(/:2: stepz: unknown key "stepz" in a formula/);
  });

  it('refuses a formula without a name', () => {
    const p = onlyProblem('description = "no name"\n[[steps]]\nid = "a"\ntitle = "A"\n');
    expect(p.field).toBe('formula');
    expect(p.message).toMatch(/missing the formula name/);
    expect(p.hint).toMatch(/formula = "/);
  });

  it('refuses a duplicate step id, naming both lines', () => {
    const p = onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "a"\ntitle = "again"\n');
    expect(p.line).toBe(6);
    expect(p.field).toBe('steps[a].id');
    expect(p.message).toMatch(/duplicate step id "a" \(first used at line 2\)/);
  });

  it('refuses a bad gate type, a timer without timeout and a bead gate without id', () => {
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\ngate = { type = "robot" }\n').message)
      .toBe('x.formula.toml:5: steps[a].gate.type: bad gate type "robot"');
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\n[steps.gate]\ntype = "timer"\n').message)
      .toMatch(/:5: steps\[a\]\.gate\.timeout: a timer gate needs a timeout/);
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\ngate = { type = "bead" }\n').message)
      .toMatch(/steps\[a\]\.gate\.id: a bead gate needs the id/);
  });

  it('refuses bad durations in timeout and gate timeout', () => {
    const found = problems(`formula = "x"
[[steps]]
id = "a"
title = "A"
timeout = "5x"
[[steps]]
id = "b"
title = "B"
timeout = 30
[[steps]]
id = "c"
title = "C"
gate = { type = "timer", timeout = "30m1h" }
[[steps]]
id = "d"
title = "D"
timeout = "0s"
`);
    expect(found.map((p) => `${p.line} ${p.field} ${p.problem}`)).toEqual([
      '5 steps[a].timeout bad duration: "5x" is not a duration',
      '9 steps[b].timeout bad duration: 30 has no unit',
      '13 steps[c].gate.timeout bad duration: "30m1h" has its units out of order; write the largest unit first',
      '17 steps[d].timeout a timeout of zero would fail the step at once',
    ]);
    expect(found[0]!.hint).toMatch(/"1h30m"/);
    expect(found.length).toBe(4);
  });

  it('finds the right line past multi-line strings that look like keys and headers', () => {
    const p = onlyProblem(`formula = "x"
description = """
[[steps]]
id = "fake"
"""
[[steps]]
id = "a"
title = "A"
description = '''
retries = "lots"
'''
retries = -1
`);
    expect(p.line).toBe(12);
    expect(p.field).toBe('steps[a].retries');
  });

  it('lists every problem of a file at once, in line order', () => {
    const err = (() => {
      try {
        parseFormula('formula = "x"\n[[steps]]\nid = "a"\nneeds = "b"\n[[steps]]\ntitle = "B"\n', 'x.formula.toml');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FormulaProblems);
    const all = (err as FormulaProblems).problems.map((p) => `${p.line} ${p.field}`);
    expect(all).toEqual(['2 steps[a].title', '4 steps[a].needs', '5 steps[#2].id']);
    expect((err as Error).message).toMatch(/^3 problems:/);
  });

  it('checks var specs: names, enum/pattern against the default, bad regex; required with a default is a note', () => {
    const found = problems(`formula = "x"
[vars]
ok = "fine"
[vars.mode]
enum = ["a", "b"]
default = "c"
[vars.num]
pattern = "^[0-9]+$"
default = "x1"
[vars.re]
pattern = "(unclosed"
[vars.both]
required = true
default = "x"
[vars."bad-name"]
default = "1"
[vars.flag]
required = "yes"
[[steps]]
id = "a"
title = "A"
`);
    expect(found.map((p) => `${p.line} ${p.field}`)).toEqual([
      '6 vars.mode.default', '9 vars.num.default', '11 vars.re.pattern', '15 vars.bad-name', '18 vars.flag.required',
    ]);
    expect(found[0]!.problem).toBe('default "c" is not one of the allowed values: a, b');
    // As in the original's own formulas: the default is used, so `required` does nothing.
    const doc = parseFormula('formula = "x"\n[vars.both]\nrequired = true\ndefault = "x"\n[[steps]]\nid = "a"\ntitle = "A"\n', 'x.formula.toml');
    expect(doc.vars[0]).toMatchObject({ name: 'both', required: false, default: 'x' });
    expect(doc.notes).toEqual([{ file: 'x.formula.toml', line: 3, field: 'vars.both.required',
      message: 'var "both" is required but has a default: the default is used when it is not given, as in the original, so required has no effect' }]);
  });

  it('reads the vars shorthand `name = "default"`', () => {
    const doc = parseFormula('formula = "x"\n[vars]\nbranch = "main"\ncount = 3\n[[steps]]\nid = "a"\ntitle = "A"\n', 'x');
    expect(doc.vars.map((v) => [v.name, v.default, v.line])).toEqual([['branch', 'main', 3], ['count', '3', 4]]);
  });

  it('refuses conditions it cannot read', () => {
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\ncondition = "publish"\n').message).toMatch(/:5: steps\[a\]\.condition: condition "publish" names no var/);
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\ncondition = "{{a}} >= 3"\n').problem).toMatch(/cannot read the condition/);
  });

  it('refuses a step that mixes run, gate and expand, and a step without title', () => {
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\ntitle = "A"\nrun = "true"\ngate = { type = "human" }\n').problem).toMatch(/both gate and run/);
    expect(onlyProblem('formula = "x"\n[[steps]]\nid = "a"\n').problem).toMatch(/has no title/);
    // an expanded step needs no title
    expect(problems('formula = "x"\n[[steps]]\nid = "a"\nexpand = "rule-of-five"\n')).toEqual([]);
  });

  it('refuses fields that belong to another formula type and an unknown type', () => {
    expect(onlyProblem('formula = "x"\ntype = "workflow"\n[[legs]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "s"\ntitle = "S"\n').message)
      .toMatch(/:3: legs: "legs" does not apply to a workflow formula/);
    expect(onlyProblem('formula = "x"\ntype = "flow"\n[[steps]]\nid = "a"\ntitle = "A"\n').message).toMatch(/:2: type: unknown formula type "flow"/);
  });

  it('reads convoy formulas: inputs, prompts, legs and synthesis', () => {
    const doc = parseFormula(`formula = "cr"
type = "convoy"
[inputs.pr]
type = "number"
required_unless = ["files"]
[inputs.files]
required_unless = ["pr"]
[prompts]
base = "Review {{leg.focus}}"
[[legs]]
id = "security"
title = "Security"
focus = "attacks"
[synthesis]
title = "Join"
depends_on = ["security"]
`, 'cr');
    expect(doc.vars.map((v) => [v.name, v.requiredUnless, v.pattern])).toEqual([['pr', ['files'], '^-?\\d+(\\.\\d+)?$'], ['files', ['pr'], undefined]]);
    expect(doc.legs.map((l) => l.id)).toEqual(['security']);
    expect(doc.synthesis).toMatchObject({ title: 'Join', dependsOn: ['security'], line: 14 });
    expect(onlyProblem('formula = "cr"\ntype = "convoy"\n[[legs]]\nid = "a"\ntitle = "A"\n[synthesis]\ndepends_on = ["b"]\n').message)
      .toMatch(/:7: synthesis\.depends_on: names "b", which is not a leg/);
  });

  it('reads expansion templates with {target} ids', () => {
    const doc = parseFormula('formula = "e"\ntype = "expansion"\n[[template]]\nid = "{target}.draft"\ntitle = "Draft {target.title}"\n', 'e');
    expect(doc.template[0]).toMatchObject({ id: '{target}.draft' });
    expect(onlyProblem('formula = "e"\ntype = "expansion"\n').problem).toMatch(/needs at least one \[\[template\]\]/);
  });

  it('refuses vars whose environment names collide', () => {
    expect(onlyProblem('formula = "x"\n[vars]\nabc = "1"\nABC = "2"\n[[steps]]\nid = "a"\ntitle = "A"\n').problem)
      .toMatch(/both map to the environment variable GT_VAR_ABC/);
  });
});
