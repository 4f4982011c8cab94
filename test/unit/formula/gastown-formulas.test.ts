/**
 * The original's 47 built-in formulas (beside the clone, in ../shared/reference/gastown-formulas):
 * the 46 valid ones lint clean and resolve to the steps and `needs` the original's parser gives
 * them; security-audit is refused, as the original refuses it.
 *
 * Expectations are derived here from the raw TOML (read with smol-toml, not with our parser),
 * following the rules of the original's cook (beads `internal/formula` and `cmd/bd/cook.go`):
 * - workflow: one bead per `[[steps]]` entry, in written order; its blocking edges are exactly
 *   its `needs` plus its `depends_on`.
 * - convoy: one bead per `[[legs]]` entry, then `synthesis`, which depends on `synthesis.depends_on`.
 * - expansion cooked alone: the template instantiated for a target named "main" (`{target}` → main).
 * The formulas that use extends, compose, children or gates get exact hand-derived lists below,
 * each with the rule it follows.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { beforeAll, describe, expect, it } from 'vitest';
import { lintFormula, loadResolvedFormula } from '../../../src/town/formulas.js';
import { referenceDir } from '../../helpers/reference.js';

const REF = referenceDir('gastown-formulas');
const present = existsSync(REF);
if (!present) console.warn(`skipping the original's formulas: ${REF} is absent (it sits beside the clone in CI)`);

type Raw = Record<string, unknown> & { steps?: Array<Record<string, unknown>>; legs?: Array<{ id: string }>; template?: Array<Record<string, unknown>> };

const files = present ? readdirSync(REF).filter((f) => f.endsWith('.formula.toml')).sort() : [];
const nameOf = (file: string) => file.replace(/\.formula\.toml$/, '');
const raw = (name: string): Raw => parseToml(readFileSync(join(REF, `${name}.formula.toml`), 'utf8')) as Raw;
const shape = (steps: Array<{ id: string; needs: string[] }>) => steps.map((s) => `${s.id}<${[...s.needs].sort().join(',')}`);

/** The five formulas whose shape needs more than the plain rules; exact lists below. */
const COMPOSITE = ['shiny-enterprise', 'shiny-secure', 'mol-polecat-work-monorepo-tdd', 'mol-gastown-boot', 'mol-shutdown-dance'];

/** The original's rule for a plain formula, from its raw TOML. */
function expectedPlain(r: Raw): string[] {
  if (r.legs) {
    const legs = r.legs.map((l) => `${l.id}<`);
    const deps = ((r.synthesis as { depends_on?: string[] } | undefined)?.depends_on ?? r.legs.map((l) => l.id)).slice().sort();
    return r.synthesis ? [...legs, `synthesis<${deps.join(',')}`] : legs;
  }
  if (r.template) {
    const fill = (t: string) => t.replaceAll('{target}', 'main');
    return r.template.map((t) => `${fill(t.id as string)}<${((t.needs as string[] | undefined) ?? []).map(fill).sort().join(',')}`);
  }
  return (r.steps ?? []).map((s) => `${s.id as string}<${[...((s.needs as string[] | undefined) ?? []), ...((s.depends_on as string[] | undefined) ?? [])].sort().join(',')}`);
}

describe.skipIf(!present)("the original's built-in formulas", () => {
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'gt-ref-formulas-'));
    process.env.HOME = cwd;
  });

  it('are the 47 the original ships', () => {
    expect(files).toHaveLength(47);
  });

  it.each(files.filter((f) => f !== 'security-audit.formula.toml'))('%s lints clean', (file) => {
    const result = lintFormula(join(REF, file), cwd);
    expect(result.problems.map((p) => p.message)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it.each(files.filter((f) => f !== 'security-audit.formula.toml' && !COMPOSITE.includes(nameOf(f))))(
    '%s resolves to the steps and needs the original gives it',
    (file) => {
      const resolved = loadResolvedFormula(join(REF, file), { cwd, strict: false });
      // Topological order differs from written order only where needs force it; compare as sets of edges.
      expect(shape(resolved.steps).sort()).toEqual(expectedPlain(raw(nameOf(file))).sort());
    },
  );

  it('refuses security-audit: an aspect with no [[aspects]] has nothing to run', () => {
    const result = lintFormula(join(REF, 'security-audit.formula.toml'), cwd);
    expect(result.ok).toBe(false);
    expect(result.problems[0]!.message).toMatch(/security-audit\.formula\.toml:3: aspects: aspect formula "security-audit" has no \[\[aspects\]\]/);
  });

  // compose.expand (beads expand.go): the target is replaced by the template; template roots take
  // the target's needs; every step that needed the target needs the template's LAST step.
  it('shiny-enterprise: implement expanded with rule-of-five', () => {
    expect(shape(loadResolvedFormula(join(REF, 'shiny-enterprise.formula.toml'), { cwd, strict: false }).steps)).toEqual([
      'design<', 'implement.draft<design', 'implement.refine-1<implement.draft', 'implement.refine-2<implement.refine-1',
      'implement.refine-3<implement.refine-2', 'implement.refine-4<implement.refine-3', 'review<implement.refine-4', 'test<review', 'submit<test',
    ]);
  });

  it('mol-polecat-work-monorepo-tdd: implement expanded with tdd-cycle, dependents re-pointed to its last step', () => {
    const r = raw('mol-polecat-work-monorepo');
    const tdd = raw('tdd-cycle').template!;
    const last = (tdd[tdd.length - 1]!.id as string).replaceAll('{target}', 'implement');
    const impl = r.steps!.find((s) => s.id === 'implement')!;
    const expected = [
      ...r.steps!.filter((s) => s.id !== 'implement').map((s) => `${s.id as string}<${((s.needs as string[]) ?? []).map((n) => (n === 'implement' ? last : n)).sort().join(',')}`),
      ...tdd.map((t) => {
        const needs = ((t.needs as string[] | undefined) ?? []).map((n) => n.replaceAll('{target}', 'implement'));
        return `${(t.id as string).replaceAll('{target}', 'implement')}<${(needs.length ? needs : (impl.needs as string[])).sort().join(',')}`;
      }),
    ];
    expect(shape(loadResolvedFormula(join(REF, 'mol-polecat-work-monorepo-tdd.formula.toml'), { cwd, strict: false }).steps).sort()).toEqual(expected.sort());
  });

  // compose.aspects (beads advice.go): around.before steps go ahead of the target (the first has
  // no needs; the target needs the last), around.after steps follow it (the first needs the
  // target); the target's dependents keep needing the target.
  it('shiny-secure: shiny with the security-audit advice around implement and submit', () => {
    expect(shape(loadResolvedFormula(join(REF, 'shiny-secure.formula.toml'), { cwd, strict: false }).steps)).toEqual([
      'design<', 'implement-security-prescan<', 'implement<design,implement-security-prescan', 'implement-security-postscan<implement',
      'review<implement', 'test<review', 'submit-security-prescan<', 'submit<submit-security-prescan,test', 'submit-security-postscan<submit',
    ]);
  });

  // [[steps.children]] (beads cook.go collectSteps): a child is a bead under its group, blocked
  // while the group is (so here it needs what the group needs), and the group is done when its
  // children are (so here it needs them). Written needs are kept exactly.
  it('mol-gastown-boot: parallel groups of children', () => {
    const steps = loadResolvedFormula(join(REF, 'mol-gastown-boot.formula.toml'), { cwd, strict: false }).steps;
    expect(shape(steps).sort()).toEqual([
      'ensure-daemon<', 'ensure-deacon<ensure-daemon',
      'ensure-witnesses<ensure-beads-witness,ensure-deacon,ensure-gastown-witness', 'ensure-gastown-witness<ensure-deacon', 'ensure-beads-witness<ensure-deacon',
      'ensure-refineries<ensure-beads-refinery,ensure-deacon,ensure-gastown-refinery', 'ensure-gastown-refinery<ensure-deacon', 'ensure-beads-refinery<ensure-deacon',
      'verify-town-health<ensure-refineries,ensure-witnesses',
    ].sort());
    expect(steps.find((s) => s.id === 'ensure-witnesses')!.children).toEqual(['ensure-gastown-witness', 'ensure-beads-witness']);
    expect(steps.find((s) => s.id === 'ensure-beads-witness')!.parent).toBe('ensure-witnesses');
  });

  // gate = {...} (beads cook.go createGateIssue): a gate bead `gate-<step>` with no needs of its
  // own blocks the step; the step keeps its written needs.
  it('mol-shutdown-dance: conditional gates become gate steps the step waits on', () => {
    const r = raw('mol-shutdown-dance');
    const expected: string[] = [];
    for (const s of r.steps!) {
      const needs = [...((s.needs as string[] | undefined) ?? [])];
      if (s.gate) {
        expected.push(`gate-${s.id as string}<`);
        needs.push(`gate-${s.id as string}`);
      }
      expected.push(`${s.id as string}<${needs.sort().join(',')}`);
    }
    const steps = loadResolvedFormula(join(REF, 'mol-shutdown-dance.formula.toml'), { cwd, strict: false }).steps;
    expect(shape(steps).sort()).toEqual(expected.sort());
    expect(steps.find((s) => s.id === 'gate-interrogation-2')!.gate).toEqual({ type: 'conditional', condition: 'no_response_1' });
  });

  it('renders the convoy prompts as Go templates: inputs, leg, output path, if/else/range', () => {
    const f = loadResolvedFormula(join(REF, 'code-review.formula.toml'), { cwd, vars: { files: 'src/a.ts, src/b.ts', preset: 'gate' } });
    expect(f.steps.map((s) => s.id)).toEqual(['security', 'smells', 'wiring', 'test-quality', 'synthesis']);
    const security = f.steps[0]!.description!;
    expect(security).toContain('- **Formula**: code-review\n- **Review target**: \n- **Your focus**: ');
    expect(security).toContain('- **Leg ID**: security\n');
    expect(security).toContain('## Files Under Review\n- src/a.ts\n- src/b.ts\n\n\n## Your Task');
    expect(security).toContain('Write your findings to: **.reviews//security-findings.md**');
    expect(security).not.toMatch(/\{\{/);
    expect(f.steps[4]!.needs).toEqual(['security', 'smells', 'wiring', 'test-quality']);
    expect(f.steps[4]!.description).toContain('A synthesized review at: .reviews//review-summary.md');

    const design = loadResolvedFormula(join(REF, 'design.formula.toml'), { cwd, vars: { problem: 'Rate limits', context: 'We use Redis' } });
    expect(design.steps[0]!.description).toContain('- **Problem**: Rate limits\n');
    expect(design.steps[0]!.description).toContain('\n## Additional Context\nWe use Redis\n');
    const bare = loadResolvedFormula(join(REF, 'design.formula.toml'), { cwd, vars: { problem: 'Rate limits' } });
    expect(bare.steps[0]!.description).not.toContain('Additional Context');
  });

  it('notes keys that have no effect here, and {{.x}} that names no input', () => {
    const notes = (name: string) => lintFormula(join(REF, `${name}.formula.toml`), cwd).notes.map((n) => `${n.field}: ${n.message}`);
    expect(notes('mol-convoy-cleanup')).toEqual([expect.stringMatching(/^squash: no effect here: the original squashes/)]);
    expect(notes('beads-release')).toEqual([expect.stringMatching(/^pour: no effect here/)]);
    expect(notes('mol-digest-generate')).toContainEqual(expect.stringMatching(/^vars\.period\.required: var "period" is required but has a default/));
    expect(notes('mol-plan-review')).toContainEqual(expect.stringMatching(/^review_only: no effect here/));
    expect(notes('code-review')).toContainEqual('output.directory: {{.review_id}} names no input of this formula, so it renders empty (declare [inputs.review_id] to fill it)');
  });
});
