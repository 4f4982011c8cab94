import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { GtError } from '../errors.js';
import { durationProblem } from '../formula/duration.js';
import { closest } from '../formula/errors.js';
import { readJsonFile, rigPaths, townPaths } from '../town/layout.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/**
 * Settings files checked key by key: an unknown key (a typo such as `stall_timout` is silently
 * ignored by everything that reads settings) is named with its closest known key; values have
 * the right kind, and durations parse.
 */
type Shape = 'string' | 'integer' | 'boolean' | 'duration' | 'strings' | 'string-map' | 'positive' | 'batch-size' | { map: Shape } | { [key: string]: Shape };

const RUNTIME: Shape = { provider: 'string', command: 'string', args: 'strings', env: 'string-map', prompt_mode: 'string', prompt_flag: 'string', ready_prompt: 'string', instructions_file: 'string' };
const THRESHOLDS: Shape = {
  heartbeat_timeout: 'duration',
  stall_timeout: 'duration',
  nudge_grace: 'duration',
  start_timeout: 'duration',
  max_attempts: 'integer',
  max_polecats_per_rig: 'integer',
  skip_after_failures: 'integer',
};

export const TOWN_SETTINGS: Shape = {
  type: 'string',
  version: 'integer',
  default_agent: 'string',
  agents: { map: RUNTIME },
  role_agents: 'string-map',
  runtime: RUNTIME,
  scheduler: { max_polecats_per_rig: 'integer', agent_nice: 'integer' },
  thresholds: THRESHOLDS,
  temporal: { address: 'string', namespace: 'string', grpc_port: 'integer', ui_port: 'integer', task_queue: 'string' },
  merge_queue: { batch_size: 'batch-size', max_batch_size: 'positive', max_concurrent: 'positive' },
};

export const RIG_SETTINGS: Shape = {
  type: 'string',
  version: 'integer',
  agent: 'string',
  role_agents: 'string-map',
  runtime: RUNTIME,
  merge_queue: { test_command: 'string', enabled: 'boolean', test_timeout: 'duration', history_limit: 'integer', batch_size: 'batch-size', max_batch_size: 'positive', max_concurrent: 'positive' },
  namepool: { style: 'string', names: 'strings' },
  thresholds: THRESHOLDS,
  run_on: 'string',
};

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);

/** Every problem of `value` against `shape`, each naming its key path. */
export function settingsProblems(value: unknown, shape: Shape, path = ''): string[] {
  const at = path || '(top level)';
  if (shape === 'string') return typeof value === 'string' ? [] : [`${at} must be a string, not ${kindOf(value)}`];
  if (shape === 'boolean') return typeof value === 'boolean' ? [] : [`${at} must be true or false, not ${kindOf(value)}`];
  if (shape === 'integer') return Number.isInteger(value) && (value as number) >= 0 ? [] : [`${at} must be a whole number, not ${kindOf(value)}`];
  if (shape === 'positive') return Number.isInteger(value) && (value as number) >= 1 ? [] : [`${at} must be a whole number of at least 1, not ${kindOf(value)}`];
  if (shape === 'batch-size') {
    return value === 'adaptive' || (Number.isInteger(value) && (value as number) >= 1) ? [] : [`${at} must be "adaptive" or a whole number of at least 1, not ${kindOf(value)}`];
  }
  if (shape === 'duration') {
    const why = durationProblem(value);
    return why ? [`${at} is not a duration (${why}), e.g. "30s" or "15m"`] : [];
  }
  if (shape === 'strings') return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [] : [`${at} must be a list of strings`];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [`${at} must be an object, not ${kindOf(value)}`];
  const entries = Object.entries(value as Record<string, unknown>);
  if (shape === 'string-map') return entries.filter(([, v]) => typeof v !== 'string').map(([k, v]) => `${path ? `${path}.` : ''}${k} must be a string, not ${kindOf(v)}`);
  if ('map' in shape && Object.keys(shape).length === 1) {
    return entries.flatMap(([k, v]) => settingsProblems(v, shape.map as Shape, `${path ? `${path}.` : ''}${k}`));
  }
  const fields = shape as Record<string, Shape>;
  const known = Object.keys(fields);
  return entries.flatMap(([k, v]) => {
    const key = `${path ? `${path}.` : ''}${k}`;
    if (!(k in fields)) {
      const guess = closest(k, known);
      return [`unknown key "${key}"${guess ? ` (did you mean "${path ? `${path}.` : ''}${guess}"?)` : ` (known: ${known.join(', ')})`}`];
    }
    return settingsProblems(v, fields[k]!, key);
  });
}

function checkFile(ctx: DoctorContext, file: string, shape: Shape, name: string, required: boolean): CheckResult {
  const shown = relative(ctx.root, file);
  if (!existsSync(file)) {
    return required ? problem('town', name, 'error', `${shown} is missing`, `restore it (from git, or copy another town's) or run \`gt install\` again elsewhere`) : ok('town', name, `${shown}: none (defaults)`);
  }
  let value: unknown;
  try {
    value = readJsonFile(file);
  } catch (err) {
    return problem('town', name, 'error', (err as GtError).message, `fix the JSON in ${shown}`);
  }
  const problems = settingsProblems(value, shape);
  if (problems.length === 0) return ok('town', name, `${shown} is valid`);
  return problem('town', name, 'error', `${shown}: ${problems.join('; ')}`, `edit ${shown}`);
}

/** The town's settings and each checked rig's. */
export function checkSettings(ctx: DoctorContext): CheckResult[] {
  return [
    checkFile(ctx, townPaths(ctx.root).settings, TOWN_SETTINGS, 'settings', true),
    ...Object.keys(ctx.rigs).map((rig) => checkFile(ctx, rigPaths(ctx.root, rig).settings, RIG_SETTINGS, `settings of ${rig}`, false)),
  ];
}
