import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FormulaError, parseFormula, problemsOf, resolveFormula, varEnv, type FormulaLoader, type ResolvedFormula,
} from '../../../src/formula/index.js';

/** Resolve `root` with the other formulas held in memory, as the file loader would find them. */
function resolve(root: string, others: Record<string, string> = {}, opts: { vars?: Record<string, string>; strict?: boolean } = {}): ResolvedFormula {
  const load: FormulaLoader = (name, ref) => {
    if (!(name in others)) throw new FormulaError(`no formula named "${name}"`, ref);
    return { file: `${name}.formula.toml`, source: others[name]! };
  };
  return resolveFormula(parseFormula(root, 'root.formula.toml'), { load, vars: opts.vars, strict: opts.strict });
}

function failure(fn: () => unknown): FormulaError {
  try {
    fn();
  } catch (err) {
    const found = problemsOf(err);
    if (found.length) return err as FormulaError;
    throw err;
  }
  throw new Error('expected a FormulaError');
}

const shape = (f: ResolvedFormula) => f.steps.map((s) => `${s.id}<${s.needs.join(',')}`);

describe('resolveFormula: graph checks', () => {
  it('refuses needs naming a missing step, at the line of the needs', () => {
    const err = failure(() => resolve('formula = "x"\n[[steps]]\nid = "build"\ntitle = "B"\n[[steps]]\nid = "test"\ntitle = "T"\nneeds = ["biuld"]\n'));
    expect(err.message).toBe('root.formula.toml:8: steps[test].needs: step "test" needs "biuld", which is not a step of this formula');
    expect(err.hint).toBe('did you mean "build"?');
  });

  it('refuses a cycle and names the steps in it', () => {
    const err = failure(() => resolve(`formula = "x"
[[steps]]
id = "a"
title = "A"
[[steps]]
id = "b"
title = "B"
needs = ["a", "d"]
[[steps]]
id = "c"
title = "C"
needs = ["b"]
[[steps]]
id = "d"
title = "D"
needs = ["c"]
`));
    expect(err.problem).toBe('dependency cycle: "b" needs "d", "d" needs "c", "c" needs "b"');
    expect(err.line).toBe(8);
    expect(err.field).toBe('steps[b].needs');
  });

  it('orders steps so needs come first, keeping the written order otherwise', () => {
    const f = resolve('formula = "x"\n[[steps]]\nid = "z"\ntitle = "Z"\nneeds = ["y"]\n[[steps]]\nid = "y"\ntitle = "Y"\n[[steps]]\nid = "w"\ntitle = "W"\n');
    expect(shape(f)).toEqual(['y<', 'z<y', 'w<']);
  });
});

describe('resolveFormula: extends', () => {
  const base = `formula = "base"
[vars.who]
default = "world"
[vars.mode]
default = "fast"
[[steps]]
id = "prepare"
title = "Prepare"
[[steps]]
id = "work"
title = "Work for {{who}}"
needs = ["prepare"]
[[steps]]
id = "finish"
title = "Finish"
needs = ["work"]
`;

  it('puts the parents\' vars and steps first and replaces same-id steps in place', () => {
    const f = resolve(`formula = "child"
extends = ["base"]
[vars.mode]
default = "slow"
[[steps]]
id = "work"
title = "Careful work ({{mode}})"
needs = ["prepare"]
[[steps]]
id = "celebrate"
title = "Celebrate"
needs = ["finish"]
`, { base });
    expect(shape(f)).toEqual(['prepare<', 'work<prepare', 'finish<work', 'celebrate<finish']);
    expect(f.steps[1]!.title).toBe('Careful work (slow)');
    expect(f.vars).toEqual({ who: 'world', mode: 'slow' });
    expect(f.name).toBe('child');
  });

  it('lets a child step need a parent step, and refuses an unknown parent with the extends line', () => {
    expect(shape(resolve('formula = "c"\nextends = "base"\n[[steps]]\nid = "more"\ntitle = "M"\nneeds = ["work"]\n', { base }))).toContain('more<work');
    const err = failure(() => resolve('formula = "c"\n\nextends = ["nope"]\n', { base }));
    expect(err.line).toBe(3);
    expect(err.field).toBe('extends');
  });

  it('refuses an extends cycle, naming the chain', () => {
    const err = failure(() => resolve('formula = "a"\nextends = ["b"]\n', { b: 'formula = "b"\nextends = ["a"]\n', a: 'formula = "a"\nextends = ["b"]\n' }));
    expect(err.problem).toBe('extends cycle: a → b → a');
    expect(err.file).toBe('b.formula.toml');
  });
});

const ruleOfThree = `formula = "rule-of-three"
type = "expansion"
[[template]]
id = "{target}.draft"
title = "Draft: {target.title}"
description = "Do: {target.description}"
[[template]]
id = "{target}.check"
title = "Check {target.id}"
needs = ["{target}.draft"]
[[template]]
id = "{target}.polish"
title = "Polish"
needs = ["{target}.check"]
`;

describe('resolveFormula: expansions', () => {
  const work = (expandLine: string) => `formula = "w"
[[steps]]
id = "design"
title = "Design"
[[steps]]
id = "spike"
title = "Spike"
[[steps]]
id = "implement"
title = "Implement it"
description = "the feature"
needs = ["design", "spike"]
${expandLine}
[[steps]]
id = "review"
title = "Review"
needs = ["implement"]
`;

  it('replaces a step with expand = "x" by the template: first steps inherit its needs, dependents need the last', () => {
    const f = resolve(work('expand = "rule-of-three"'), { 'rule-of-three': ruleOfThree });
    expect(shape(f)).toEqual([
      'design<', 'spike<', 'implement.draft<design,spike', 'implement.check<implement.draft', 'implement.polish<implement.check', 'review<implement.polish',
    ]);
    expect(f.steps[2]).toMatchObject({ title: 'Draft: Implement it', description: 'Do: the feature' });
    expect(f.steps[3]!.title).toBe('Check implement');
  });

  it('does the same for [[compose.expand]], also on a step inherited through extends', () => {
    const f = resolve('formula = "e"\nextends = ["w"]\n[[compose.expand]]\ntarget = "implement"\nwith = "rule-of-three"\n',
      { w: work(''), 'rule-of-three': ruleOfThree });
    expect(shape(f)).toEqual(shape(resolve(work('expand = "rule-of-three"'), { 'rule-of-three': ruleOfThree })));
  });

  it('makes dependents need the last template step as written, as the original does, when a template ends in several', () => {
    const fork = 'formula = "fork"\ntype = "expansion"\n[[template]]\nid = "{target}.a"\ntitle = "A"\n[[template]]\nid = "{target}.b"\ntitle = "B"\n';
    expect(shape(resolve(work('expand = "fork"'), { fork }))).toEqual(['design<', 'spike<', 'implement.a<design,spike', 'implement.b<design,spike', 'review<implement.b']);
  });

  it('refuses a compose target that is no step, and expanding with a formula that is not an expansion', () => {
    const err = failure(() => resolve(`${work('')}\n[[compose.expand]]\ntarget = "implemnt"\nwith = "rule-of-three"\n`, { 'rule-of-three': ruleOfThree }));
    expect(err.field).toBe('compose.expand[0].target');
    expect(err.line).toBe(20);
    expect(err.hint).toBe('did you mean "implement"?');
    const notExp = failure(() => resolve(work('expand = "w2"'), { w2: 'formula = "w2"\n[[steps]]\nid = "a"\ntitle = "A"\n' }));
    expect(notExp.problem).toMatch(/"w2" is a workflow formula; only an expansion formula/);
    expect(notExp.line).toBe(13);
  });

  it('refuses duplicate ids made by a template without {target}', () => {
    const fixed = 'formula = "fixed"\ntype = "expansion"\n[[template]]\nid = "same"\ntitle = "S"\n';
    const err = failure(() => resolve('formula = "x"\n[[steps]]\nid = "a"\nexpand = "fixed"\n[[steps]]\nid = "b"\nexpand = "fixed"\n', { fixed }));
    expect(err.problem).toMatch(/duplicate step id "same" \(made by expanding with fixed/);
  });

  it('expands nested templates, carries the target\'s condition into its template, and refuses an expansion cycle', () => {
    const outer = 'formula = "outer"\ntype = "expansion"\n[[template]]\nid = "{target}.plan"\ntitle = "Plan"\n[[template]]\nid = "{target}.do"\nexpand = "rule-of-three"\nneeds = ["{target}.plan"]\n';
    const src = 'formula = "x"\n[vars.big]\ndefault = "yes"\n[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "job"\ntitle = "Job"\nexpand = "outer"\nneeds = ["a"]\ncondition = "{{big}}"\n[[steps]]\nid = "z"\ntitle = "Z"\nneeds = ["job"]\n';
    const others = { outer, 'rule-of-three': ruleOfThree };
    expect(shape(resolve(src, others))).toEqual([
      'a<', 'job.plan<a', 'job.do.draft<job.plan', 'job.do.check<job.do.draft', 'job.do.polish<job.do.check', 'z<job.do.polish',
    ]);
    expect(shape(resolve(src, others, { vars: { big: 'no' } }))).toEqual(['a<', 'z<a']);
    const selfish = 'formula = "selfish"\ntype = "expansion"\n[[template]]\nid = "{target}.again"\nexpand = "selfish"\n';
    const err = failure(() => resolve('formula = "x"\n[[steps]]\nid = "a"\nexpand = "selfish"\n', { selfish }));
    expect(err.problem).toBe('expansion cycle: selfish → selfish');
    expect(err.file).toBe('selfish.formula.toml');
  });

  it('shows an expansion formula alone as expanding a step named "main"', () => {
    const f = resolve(ruleOfThree);
    expect(f.steps.map((s) => s.id)).toEqual(['main.draft', 'main.check', 'main.polish']);
  });
});

describe('resolveFormula: conditions', () => {
  const src = `formula = "c"
[vars.publish]
default = "true"
[vars.env]
default = "staging"
[[steps]]
id = "build"
title = "Build"
[[steps]]
id = "publish"
title = "Publish"
needs = ["build"]
condition = "{{publish}}"
[[steps]]
id = "dry"
title = "Dry run"
needs = ["build"]
condition = "!{{publish}}"
[[steps]]
id = "smoke"
title = "Smoke"
needs = ["publish"]
condition = "{{env}} == prod"
[[steps]]
id = "notify"
title = "Notify"
needs = ["smoke", "dry"]
condition = "{{env}} != 'dev'"
`;

  it('keeps or skips each step; a skipped step\'s dependents inherit its needs', () => {
    expect(shape(resolve(src))).toEqual(['build<', 'publish<build', 'notify<publish,build']);
    expect(shape(resolve(src, {}, { vars: { publish: 'false', env: 'prod' } }))).toEqual(['build<', 'dry<build', 'smoke<build', 'notify<smoke,dry']);
    expect(shape(resolve(src, {}, { vars: { publish: 'yes', env: 'prod' } }))).toEqual(['build<', 'publish<build', 'smoke<publish', 'notify<smoke,build']);
    expect(shape(resolve(src, {}, { vars: { env: 'dev' } }))).toEqual(['build<', 'publish<build']);
  });

  it('refuses a condition on a var the formula does not have', () => {
    const err = failure(() => resolve('formula = "c"\n[[steps]]\nid = "a"\ntitle = "A"\ncondition = "{{ship}}"\n'));
    expect(err.message).toMatch(/root\.formula\.toml:5: steps\[a\]\.condition: uses \{\{ship\}\}, which is not a var/);
  });

  it('in a preview keeps a step whose condition var is not given, marked with the condition', () => {
    const f = resolve('formula = "c"\n[vars.ship]\nrequired = true\n[[steps]]\nid = "a"\ntitle = "A {{ship}}"\ncondition = "{{ship}}"\n', {}, { strict: false });
    expect(f.steps).toEqual([{ id: 'a', title: 'A {{ship}}', needs: [], condition: '{{ship}}' }]);
  });
});

describe('resolveFormula: convoy', () => {
  const convoy = `formula = "review"
type = "convoy"
[inputs.pr]
description = "PR number"
type = "number"
required_unless = ["branch"]
[inputs.branch]
required_unless = ["pr"]
[prompts]
base = "{{leg.title}} of PR {{pr}}: look at {{leg.focus}}. {{leg.description}}"
[[legs]]
id = "security"
title = "Security"
focus = "attacks"
description = "Think like an attacker."
[[legs]]
id = "style"
title = "Style"
focus = "names"
[synthesis]
title = "Synthesis"
description = "Join the findings."
`;

  it('makes the legs parallel steps joined by the synthesis step, with the base prompt filled in', () => {
    const f = resolve(convoy, {}, { vars: { pr: '42' } });
    expect(shape(f)).toEqual(['security<', 'style<', 'synthesis<security,style']);
    expect(f.steps[0]!.description).toBe('Security of PR 42: look at attacks. Think like an attacker.');
    expect(f.type).toBe('convoy');
    expect(f.vars).toEqual({ pr: '42', branch: '' });
  });

  it('requires one of a required_unless group, and checks an input type', () => {
    expect(failure(() => resolve(convoy)).message).toMatch(/"pr" is required unless one of branch is given/);
    expect(failure(() => resolve(convoy, {}, { vars: { pr: 'forty-two' } })).problem).toMatch(/does not match the pattern/);
    expect(shape(resolve(convoy, {}, { vars: { branch: 'feature/x' } }))).toHaveLength(3);
  });
});

describe('resolveFormula: aspect', () => {
  it('makes [[aspects]] parallel steps like convoy legs', () => {
    const f = resolve('formula = "a"\ntype = "aspect"\n[[aspects]]\nid = "ux"\ntitle = "UX"\nfocus = "users"\n[[aspects]]\nid = "ops"\ntitle = "Ops"\n[synthesis]\ntitle = "Join"\n');
    expect(shape(f)).toEqual(['ux<', 'ops<', 'synthesis<ux,ops']);
    expect(f.steps[0]!.description).toBe('Focus: users');
  });
});

describe('resolveFormula: vars', () => {
  const src = `formula = "release"
[vars.version]
description = "The version"
required = true
pattern = '^\\d+\\.\\d+\\.\\d+$'
[vars.channel]
enum = ["stable", "beta"]
default = "stable"
[[steps]]
id = "tag"
title = "Tag v{{version}} on {{channel}}"
description = "Tag {{version}}"
acceptance = "v{{version}} exists"
run = "git tag v{{version}}"
[[steps]]
id = "wait"
title = "Wait"
needs = ["tag"]
gate = { type = "bead", id = "{{tracker}}", timeout = "2d" }
[vars.tracker]
default = "gt-abc12"
`;

  it('substitutes vars in title, description, acceptance and gate id, and renders run as an env reference', () => {
    const f = resolve(src, {}, { vars: { version: '1.2.0' } });
    expect(f.vars).toEqual({ version: '1.2.0', channel: 'stable', tracker: 'gt-abc12' });
    expect(f.steps[0]).toEqual({
      id: 'tag', title: 'Tag v1.2.0 on stable', description: 'Tag 1.2.0', acceptance: 'v1.2.0 exists', needs: [], run: 'git tag v"$GT_VAR_VERSION"',
    });
    expect(f.steps[1]!.gate).toEqual({ type: 'bead', id: 'gt-abc12', timeout: '2d' });
  });

  it('refuses a missing required var at its declaration, with exit code 2', () => {
    const err = failure(() => resolve(src));
    expect(err.message).toBe('root.formula.toml:2: vars.version: missing required var "version" (The version)');
    expect(err.hint).toBe('give it with --var version=<value>');
    expect(err.exitCode).toBe(2);
  });

  it('refuses a value outside enum or not matching pattern', () => {
    expect(failure(() => resolve(src, {}, { vars: { version: '1.2' } })).message)
      .toBe('root.formula.toml:5: vars.version.pattern: var "version" is "1.2", which does not match the pattern ^\\d+\\.\\d+\\.\\d+$');
    const err = failure(() => resolve(src, {}, { vars: { version: '1.2.0', channel: 'nightly' } }));
    expect(err.message).toMatch(/:7: vars\.channel\.enum: var "channel" is "nightly", which is not one of the allowed values: stable, beta/);
  });

  it('refuses an unknown --var name with a did-you-mean', () => {
    const err = failure(() => resolve(src, {}, { vars: { version: '1.2.0', chanel: 'beta' } }));
    expect(err.problem).toMatch(/unknown var "chanel" given with --var: formula "release" has vars version, channel, tracker/);
    expect(err.hint).toBe('did you mean --var channel=beta?');
  });

  it('refuses {{name}} of a var the formula does not declare', () => {
    const err = failure(() => resolve('formula = "x"\n[vars.version]\ndefault = "1"\n[[steps]]\nid = "a"\ntitle = "A"\nrun = "echo {{verison}}"\n'));
    expect(err.message).toMatch(/:7: steps\[a\]\.run: uses \{\{verison\}\}, which is not a var of this formula/);
    expect(err.hint).toBe('did you mean {{version}}?');
  });

  it('passes a value full of shell metacharacters to the command as data', () => {
    const evil = `1.0"; touch pwned; echo '$(touch pwned2)' \`touch pwned3\` $HOME \\ & | > x ;#`;
    const f = resolve(`formula = "x"
[vars.v]
required = true
[[steps]]
id = "plain"
title = "P"
run = "printf '%s|' {{v}}"
[[steps]]
id = "dq"
title = "D"
run = "printf '%s|' \\"<{{v}}>\\""
[[steps]]
id = "sq"
title = "S"
run = "printf '%s|' '<{{v}}>'"
`, {}, { vars: { v: evil } });
    const dir = mkdtempSync(join(tmpdir(), 'gt-formula-run-'));
    const outputs = f.steps.map((s) => execFileSync('sh', ['-c', s.run!], { cwd: dir, env: { PATH: process.env.PATH, HOME: '/home/x', ...varEnv(f.vars) }, encoding: 'utf8' }));
    expect(outputs).toEqual([`${evil}|`, `<${evil}>|`, `<${evil}>|`]);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, 'pwned'))).toBe(false);
  });
});

describe("resolveFormula: the original's groups, gates, aspects, presets and agents", () => {
  const group = `formula = "g"
[[steps]]
id = "prep"
title = "Prep"
[[steps]]
id = "fan"
title = "Fan out"
needs = ["prep"]
type = "parallel"
[[steps.children]]
id = "one"
title = "One"
condition = "{{one}}"
[[steps.children]]
id = "two"
title = "Two"
[[steps]]
id = "after"
title = "After"
needs = ["fan"]
[vars.one]
default = "yes"
`;

  it('a group waits for its children, which wait for what the group needs; a skipped child is not waited for', () => {
    expect(shape(resolve(group))).toEqual(['prep<', 'one<prep', 'two<prep', 'fan<prep,one,two', 'after<fan']);
    expect(shape(resolve(group, {}, { vars: { one: 'no' } }))).toEqual(['prep<', 'two<prep', 'fan<prep,two', 'after<fan']);
    expect(resolve(group).steps.find((s) => s.id === 'fan')).toMatchObject({ children: ['one', 'two'] });
  });

  it('refuses a group that also has work, and a child that needs a step waiting for its group', () => {
    expect(failure(() => resolve(group.replace('type = "parallel"', 'run = "make"'))).problem).toBe('a step with children is done when its children are; it cannot also have run');
    const cyc = group.replace('id = "two"\ntitle = "Two"', 'id = "two"\ntitle = "Two"\nneeds = ["after"]');
    expect(failure(() => resolve(cyc)).problem).toMatch(/^dependency cycle/);
  });

  it('a conditional gate is a gate-<step> step the step needs; it needs its condition', () => {
    const src = 'formula = "c"\n[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "b"\ntitle = "B"\nneeds = ["a"]\ngate = { type = "conditional", condition = "no reply" }\n';
    const f = resolve(src);
    expect(shape(f)).toEqual(['a<', 'gate-b<', 'b<a,gate-b']);
    expect(f.steps[1]).toMatchObject({ title: 'Gate: conditional (no reply)', gate: { type: 'conditional', condition: 'no reply' } });
    expect(f.steps[2]!.gate).toBeUndefined();
    const inGroup = resolve(group.replace('id = "two"\ntitle = "Two"', 'id = "two"\ntitle = "Two"\ngate = { type = "conditional", condition = "ok" }'));
    expect(shape(inGroup)).toEqual(['prep<', 'one<prep', 'gate-two<prep', 'two<gate-two,prep', 'fan<prep,one,gate-two,two', 'after<fan']);
    const err = failure(() => resolve(src.replace(', condition = "no reply"', '')));
    expect(err.message).toBe('root.formula.toml:9: steps[b].gate.condition: a conditional gate needs the condition it waits on');
  });

  it('compose.aspects applies [[advice]] by glob, and refuses a formula that is no aspect', () => {
    const audit = 'formula = "audit"\ntype = "aspect"\n[[advice]]\ntarget = "*.build"\nbefore = { id = "{step.id}-scan", title = "Scan {step.title}" }\nafter = { id = "{step.id}-sign" }\n';
    const src = 'formula = "w"\n[compose]\naspects = ["audit"]\n[[steps]]\nid = "app.build"\ntitle = "Build"\n[[steps]]\nid = "ship"\ntitle = "Ship"\nneeds = ["app.build"]\n';
    const f = resolve(src, { audit });
    expect(shape(f)).toEqual(['app.build-scan<', 'app.build<app.build-scan', 'app.build-sign<app.build', 'ship<app.build']);
    expect(f.steps[0]!.title).toBe('Scan Build');
    const err = failure(() => resolve(src, { audit: 'formula = "audit"\n[[steps]]\nid = "x"\ntitle = "X"\n' }));
    expect(err.message).toMatch(/^root\.formula\.toml:3: compose\.aspects: "audit" is a workflow formula; compose\.aspects names aspect formulas/);
  });

  it('[presets] choose legs with --var preset; an unknown preset or leg is refused', () => {
    const convoy = 'formula = "c"\ntype = "convoy"\nagent = "claude"\n[presets.quick]\nlegs = ["a"]\n[[legs]]\nid = "a"\ntitle = "A"\n[[legs]]\nid = "b"\ntitle = "B"\nagent = "codex"\n[synthesis]\ntitle = "S"\ndepends_on = ["a", "b"]\n';
    expect(shape(resolve(convoy))).toEqual(['a<', 'b<', 'synthesis<a,b']);
    expect(resolve(convoy).steps.map((s) => s.agent)).toEqual(['claude', 'codex', 'claude']);
    expect(shape(resolve(convoy, {}, { vars: { preset: 'quick' } }))).toEqual(['a<', 'synthesis<a']);
    expect(failure(() => resolve(convoy, {}, { vars: { preset: 'slow' } })).problem).toBe('var "preset" is "slow", which is not one of the allowed values: quick');
    expect(failure(() => resolve(convoy.replace('legs = ["a"]', 'legs = ["aa"]'))).message).toBe('root.formula.toml:5: presets.quick.legs: names "aa", which is not a leg of this formula');
  });

  it('a top-level agent is the default of agent steps only', () => {
    const f = resolve('formula = "w"\nagent = "gemini"\n[[steps]]\nid = "a"\ntitle = "A"\n[[steps]]\nid = "b"\ntitle = "B"\nrun = "true"\n[[steps]]\nid = "c"\ntitle = "C"\nagent = "codex"\n');
    expect(f.steps.map((s) => s.agent)).toEqual(['gemini', undefined, 'codex']);
  });

  it('{{else}}, {{end}} and {{this}} in instructions are not vars', () => {
    const f = resolve('formula = "w"\n[[steps]]\nid = "a"\ntitle = "A"\ndescription = "{{#if x}}yes{{else}}no{{/if}} {{#each y}}{{this}}{{/each}} {{end}}"\n');
    expect(f.steps[0]!.description).toBe('{{#if x}}yes{{else}}no{{/if}} {{#each y}}{{this}}{{/each}} {{end}}');
  });
});
