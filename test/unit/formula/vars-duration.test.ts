import { describe, expect, it } from 'vitest';
import { GtError } from '../../../src/errors.js';
import {
  durationProblem, envNameOf, evaluateCondition, formatDuration, parseCondition, parseDuration, parseVarArgs, renderRun, varEnv,
} from '../../../src/formula/index.js';

describe('parseDuration', () => {
  it('reads single and combined units into milliseconds', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration('1m30s500ms')).toBe(90_500);
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });

  it('says what is wrong with a bad duration', () => {
    expect(() => parseDuration('1.5h')).toThrow(/"1.5h" has a fraction; use a smaller unit/);
    expect(() => parseDuration('30')).toThrow(/"30" has no unit after 30/);
    expect(() => parseDuration('5 minutes')).toThrow(/"5 minutes" is not a duration: write a duration such as/);
    expect(() => parseDuration('5minutes')).toThrow(/"5minutes" is not a duration/);
    expect(() => parseDuration('1h5x')).toThrow(/cannot read "5x"/);
    expect(() => parseDuration('1m1m')).toThrow(/gives the unit "m" twice/);
    expect(() => parseDuration('30s1m')).toThrow(/units out of order/);
    expect(() => parseDuration('')).toThrow(/empty duration/);
    expect(durationProblem(30)).toBe('30 has no unit');
    expect(durationProblem('1h')).toBeUndefined();
  });
});

describe('vars', () => {
  it('maps var names to GT_VAR_ environment names', () => {
    expect(envNameOf('version')).toBe('GT_VAR_VERSION');
    expect(envNameOf('base_branch')).toBe('GT_VAR_BASE_BRANCH');
    expect(varEnv({ version: '1.2.0', base_branch: 'main' })).toEqual({ GT_VAR_VERSION: '1.2.0', GT_VAR_BASE_BRANCH: 'main' });
  });

  it('renders {{var}} in run as a quoted env reference that fits the quoting around it', () => {
    expect(renderRun('./scripts/bump-version.sh {{version}}')).toBe('./scripts/bump-version.sh "$GT_VAR_VERSION"');
    expect(renderRun(`git tag -a v{{version}} -m 'Release v{{version}}'`)).toBe(`git tag -a v"$GT_VAR_VERSION" -m 'Release v'"$GT_VAR_VERSION"''`);
    expect(renderRun('echo "v{{ version }}!"')).toBe('echo "v${GT_VAR_VERSION}!"');
    expect(renderRun("echo $'a\\'{{x}}'")).toBe(`echo $'a\\''"$GT_VAR_X"$''`);
    expect(renderRun('echo \\"{{x}}')).toBe('echo \\""$GT_VAR_X"');
    expect(renderRun('make test')).toBe('make test');
  });

  it('reads --var name=value arguments and refuses malformed ones as usage errors', () => {
    expect(parseVarArgs(['version=1.2.0', 'msg=a=b', 'empty='])).toEqual({ version: '1.2.0', msg: 'a=b', empty: '' });
    const usage = (args: string[]) => {
      try {
        parseVarArgs(args);
      } catch (err) {
        expect(err).toBeInstanceOf(GtError);
        expect((err as GtError).exitCode).toBe(2);
        return (err as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(usage(['version'])).toMatch(/--var version: expected name=value/);
    expect(usage(['1x=2'])).toMatch(/"1x" is not a var name/);
    expect(usage(['a=1', 'a=2'])).toMatch(/--var a is given twice/);
  });
});

describe('conditions', () => {
  it('reads the four forms and evaluates them', () => {
    const vars = { publish: 'true', off: 'false', env: 'prod', empty: '' };
    const run = (text: string) => evaluateCondition(parseCondition(text)!, vars);
    expect(run('{{publish}}')).toBe(true);
    expect(run('{{off}}')).toBe(false);
    expect(run('{{empty}}')).toBe(false);
    expect(run('!{{off}}')).toBe(true);
    expect(run('{{env}} == prod')).toBe(true);
    expect(run('{{env}} == "prod"')).toBe(true);
    expect(run("{{env}} != 'prod'")).toBe(false);
    expect(parseCondition('{{env}} == two words')).toBeUndefined();
    expect(parseCondition('env == prod')).toBeUndefined();
  });
});
