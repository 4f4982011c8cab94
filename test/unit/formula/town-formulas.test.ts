import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { GtError } from '../../../src/errors.js';
import { FormulaError, varEnv } from '../../../src/formula/index.js';
import {
  BUILTIN_FORMULAS_DIR, findFormula, formulaSearchPath, lintFormula, listFormulas, loadResolvedFormula, renderDag,
} from '../../../src/town/formulas.js';

const FIXTURE = join(import.meta.dirname, '..', '..', '..', 'examples', 'release-repo');

function step(id: string, extra = ''): string {
  return `[[steps]]\nid = "${id}"\ntitle = "${id}"\n${extra}`;
}

function formula(name: string, body = step('only')): string {
  return `formula = "${name}"\n${body}`;
}

/** A town with one rig, and a HOME of its own, so the real user's formulas never leak in. */
function makeTown() {
  const base = mkdtempSync(join(tmpdir(), 'gt-formulas-'));
  const root = join(base, 'town');
  const home = join(base, 'home');
  mkdirSync(join(root, 'mayor'), { recursive: true });
  writeFileSync(join(root, 'mayor', 'town.json'), JSON.stringify({ type: 'town', version: 1, name: 'town', owner: 't', created_at: '' }));
  writeFileSync(join(root, 'mayor', 'rigs.json'), JSON.stringify({ version: 1, rigs: { myrig: { git_url: 'x', default_branch: 'main', prefix: 'mr', added_at: '' } } }));
  const dirs = {
    rig: join(root, 'myrig', '.beads', 'formulas'),
    town: join(root, '.beads', 'formulas'),
    user: join(home, '.beads', 'formulas'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const crew = join(root, 'myrig', 'crew', 'me');
  mkdirSync(crew, { recursive: true });
  process.env.HOME = home;
  return { base, root, home, dirs, crew };
}

beforeEach(() => {
  delete process.env.GT_ROOT;
  delete process.env.GT_RIG;
});

describe('finding formulas', () => {
  it('searches rig, town, user, then built-in; first match wins', () => {
    const t = makeTown();
    for (const [origin, dir] of Object.entries(t.dirs)) writeFileSync(join(dir, 'deploy.formula.toml'), formula('deploy', step(origin)));
    expect(formulaSearchPath(t.crew).map((d) => d.origin)).toEqual(['rig', 'town', 'user', 'built-in']);
    expect(findFormula('deploy', t.crew)).toMatchObject({ origin: 'rig', path: join(t.dirs.rig, 'deploy.formula.toml') });
    expect(findFormula('deploy', t.root)).toMatchObject({ origin: 'town' });
    expect(findFormula('deploy', t.base)).toMatchObject({ origin: 'user' });
    expect(findFormula('release', t.crew)).toMatchObject({ origin: 'built-in', path: join(BUILTIN_FORMULAS_DIR, 'release.formula.toml') });
    // A plain `.toml` is found too; a town copy of a built-in hides it.
    writeFileSync(join(t.dirs.town, 'release.toml'), formula('release'));
    expect(findFormula('release', t.crew)).toMatchObject({ origin: 'town', path: join(t.dirs.town, 'release.toml') });
  });

  it('says each folder it looked in when a name does not exist', () => {
    const t = makeTown();
    let err: unknown;
    try {
      findFormula('relase', t.crew);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GtError);
    const message = (err as Error).message;
    expect(message).toMatch(/^no formula named "relase"; looked in:/);
    for (const dir of [...Object.values(t.dirs), BUILTIN_FORMULAS_DIR]) expect(message).toContain(join(dir, 'relase.formula.toml'));
    expect((err as GtError).hint).toMatch(/did you mean "release"\?/);
    expect(() => findFormula('../etc/passwd', t.crew)).toThrow(/is not a formula name/);
  });

  it('points at the extends line when a parent is missing', () => {
    const t = makeTown();
    writeFileSync(join(t.dirs.town, 'child.formula.toml'), 'formula = "child"\n\nextends = ["ghost"]\n');
    let err: unknown;
    try {
      loadResolvedFormula('child', { cwd: t.root });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormulaError);
    expect((err as FormulaError).file).toBe(join(t.dirs.town, 'child.formula.toml'));
    expect((err as FormulaError).line).toBe(3);
    expect((err as Error).message).toContain(join(t.dirs.user, 'ghost.formula.toml'));
  });

  it('resolves a town formula that extends a built-in and expands with another', () => {
    const t = makeTown();
    writeFileSync(join(t.dirs.town, 'careful.formula.toml'), `formula = "careful"
extends = ["shiny"]
[[compose.expand]]
target = "test"
with = "rule-of-five"
`);
    const f = loadResolvedFormula('careful', { cwd: t.crew, vars: { feature: 'search' } });
    expect(f.source).toBe(join(t.dirs.town, 'careful.formula.toml'));
    expect(f.steps.map((s) => s.id)).toEqual([
      'design', 'implement', 'review', 'test.draft', 'test.correctness', 'test.clarity', 'test.edge-cases', 'test.excellence', 'submit',
    ]);
    expect(f.steps[3]!.title).toBe('Draft: Test search');
    expect(renderDag(f, 'mermaid')).toContain('s2 --> s3');
  });

  it('lists formulas with type, source, step count, vars and what they hide; broken ones with their error', () => {
    const t = makeTown();
    writeFileSync(join(t.dirs.town, 'release.formula.toml'), formula('release'));
    writeFileSync(join(t.dirs.rig, 'broken.formula.toml'), 'formula = "broken"\n[[steps]]\nid = "a"\n');
    const list = listFormulas(t.crew);
    const byName = new Map(list.map((f) => [f.name, f]));
    expect(byName.get('release')).toMatchObject({ origin: 'town', steps: 1, shadows: [join(BUILTIN_FORMULAS_DIR, 'release.formula.toml')] });
    expect(byName.get('shiny-enterprise')).toMatchObject({ origin: 'built-in', source: 'built-in', type: 'workflow', steps: 9 });
    expect(byName.get('shiny-enterprise')!.vars.map((v) => [v.name, v.required])).toEqual([['feature', true], ['base_branch', false]]);
    expect(byName.get('broken')!.error).toMatch(/broken\.formula\.toml:2: steps\[a\]\.title: step "a" has no title/);
    expect(list.map((f) => f.name)).toEqual([...list.map((f) => f.name)].sort());
  });
});

describe('built-in formulas', () => {
  it('ship the six of SPEC.md, and every one lints clean', () => {
    makeTown();
    const names = readdirSync(BUILTIN_FORMULAS_DIR).filter((f) => f.endsWith('.formula.toml')).map((f) => f.replace(/\.formula\.toml$/, ''));
    expect(names).toEqual(expect.arrayContaining(['release', 'shiny', 'shiny-enterprise', 'rule-of-five', 'code-review', 'mol-polecat-work']));
    for (const name of names) {
      const result = lintFormula(name, tmpdir());
      expect({ name, problems: result.problems.map((p) => p.message) }).toEqual({ name, problems: [] });
      expect(result.ok).toBe(true);
    }
  });

  it('have the types and shapes SPEC.md asks for', () => {
    makeTown();
    const cwd = tmpdir();
    const review = loadResolvedFormula('code-review', { cwd, vars: { pr: '7' } });
    expect(review.type).toBe('convoy');
    const synthesis = review.steps.find((s) => s.id === 'synthesis')!;
    expect(synthesis.needs.length).toBeGreaterThanOrEqual(4);
    expect(review.steps.filter((s) => s.needs.length === 0).map((s) => s.id)).toEqual(synthesis.needs);
    expect(loadResolvedFormula('rule-of-five', { cwd }).type).toBe('expansion');
    const work = loadResolvedFormula('mol-polecat-work', { cwd, vars: { issue: 'gt-abc12' } });
    expect(work.steps[0]!.description).toContain('bd show gt-abc12');
    expect(work.steps.at(-1)!.description).toContain('gt done');
    expect(() => loadResolvedFormula('release', { cwd, vars: { version: 'v1' } })).toThrow(/does not match the pattern/);
  });

  it('release runs its five commands on the sample repository in examples/release-repo', () => {
    const t = makeTown();
    const repo = join(t.base, 'repo');
    cpSync(FIXTURE, repo, { recursive: true });
    const env = {
      PATH: process.env.PATH, HOME: t.home, GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 'Release Bot', GIT_AUTHOR_EMAIL: 'bot@example.com', GIT_COMMITTER_NAME: 'Release Bot', GIT_COMMITTER_EMAIL: 'bot@example.com',
    };
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env, encoding: 'utf8' }).trim();
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'initial');

    const release = loadResolvedFormula('release', { cwd: repo, vars: { version: '1.2.0' } });
    expect(release.steps.map((s) => s.id)).toEqual(['bump-version', 'run-tests', 'build', 'create-tag', 'publish']);
    expect(release.steps.map((s) => s.description)).toEqual([
      'Run ./scripts/bump-version.sh 1.2.0', 'Run make test', 'Run make build', "Run git tag -a v1.2.0 -m 'Release v1.2.0'", 'Run ./scripts/publish.sh',
    ]);
    for (const s of release.steps) execFileSync('sh', ['-c', s.run!], { cwd: repo, env: { ...env, ...varEnv(release.vars) }, stdio: 'pipe' });

    expect(readFileSync(join(repo, 'VERSION'), 'utf8')).toBe('1.2.0\n');
    expect(git('log', '-1', '--format=%s')).toBe('Bump version to 1.2.0');
    expect(git('cat-file', '-t', 'v1.2.0')).toBe('tag');
    expect(git('tag', '-l', '--format=%(contents:subject)', 'v1.2.0')).toBe('Release v1.2.0');
    expect(git('rev-parse', 'v1.2.0^{commit}')).toBe(git('rev-parse', 'HEAD'));
    expect(readFileSync(join(repo, 'published', 'RELEASES'), 'utf8')).toBe('1.2.0\n');
    expect(git('status', '--porcelain')).toBe('');
    // Publishing again without a new tag is refused: the scripts really check the order.
    git('commit', '-q', '--allow-empty', '-m', 'later');
    expect(() => execFileSync('sh', ['-c', release.steps[4]!.run!], { cwd: repo, env, stdio: 'pipe' })).toThrow(/tag v1.2.0 does not point at HEAD/);
  });
});
