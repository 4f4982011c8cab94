import { GtError } from '../errors.js';
import { durationProblem, parseDuration } from '../formula/duration.js';
import { readRigSettings, readTownSettings, type Thresholds } from '../town/settings.js';
import type { PolecatLimits } from './state.js';

export const DEFAULT_MAX_POLECATS = 25;

const DEFAULTS: Required<Pick<Thresholds, 'heartbeat_timeout' | 'stall_timeout' | 'nudge_grace' | 'start_timeout' | 'max_attempts'>> = {
  heartbeat_timeout: '30s',
  start_timeout: '60s',
  stall_timeout: '15m',
  nudge_grace: '2m',
  max_attempts: 3,
};

/** Town thresholds overridden field by field by the rig's. */
export function rigThresholds(root: string, rig: string): Thresholds {
  return { ...(readTownSettings(root).thresholds ?? {}), ...(readRigSettings(root, rig).thresholds ?? {}) };
}

function duration(t: Thresholds, key: 'heartbeat_timeout' | 'stall_timeout' | 'nudge_grace' | 'start_timeout', rig: string): number {
  const text = t[key] ?? DEFAULTS[key];
  const problem = durationProblem(text);
  if (problem) {
    throw new GtError(`thresholds.${key} "${String(text)}" is not a duration (${problem})`, {
      hint: `fix it in settings/config.json or ${rig}/settings/config.json, e.g. "${DEFAULTS[key]}"`,
    });
  }
  return parseDuration(text);
}

export function polecatLimits(root: string, rig: string): PolecatLimits {
  const t = rigThresholds(root, rig);
  const maxAttempts = t.max_attempts ?? DEFAULTS.max_attempts;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new GtError(`thresholds.max_attempts must be a whole number of at least 1, not ${JSON.stringify(maxAttempts)}`, { hint: 'fix it in the town or rig settings' });
  }
  return {
    stallMs: duration(t, 'stall_timeout', rig),
    nudgeGraceMs: duration(t, 'nudge_grace', rig),
    heartbeatMs: duration(t, 'heartbeat_timeout', rig),
    startMs: duration(t, 'start_timeout', rig),
    maxAttempts,
  };
}

/** The most polecats of one rig that may work at once: rig threshold, else town scheduler, else 25. */
export function maxPolecatsPerRig(root: string, rig: string): number {
  const rigSettings = readRigSettings(root, rig);
  const town = readTownSettings(root);
  const cap = rigSettings.thresholds?.max_polecats_per_rig ?? town.scheduler?.max_polecats_per_rig ?? town.thresholds?.max_polecats_per_rig ?? DEFAULT_MAX_POLECATS;
  if (!Number.isInteger(cap) || cap < 1) {
    throw new GtError(`max_polecats_per_rig must be a whole number of at least 1, not ${JSON.stringify(cap)}`, { hint: 'fix scheduler.max_polecats_per_rig in settings/config.json' });
  }
  return cap;
}

export const DEFAULT_AGENT_NICE = 10;

/**
 * The nice value agent sessions run at (scheduler.agent_nice, 0-19; default 10; 0 runs them as
 * the worker does). On a machine the agents keep busy the worker and the engine come first: a
 * bead is handed on, merged and its next bead slung without waiting behind the agents' builds
 * and tests (bench/results/mountain.md); on a machine with cores to spare it changes nothing.
 */
export function agentNice(root: string): number {
  const nice = readTownSettings(root).scheduler?.agent_nice ?? DEFAULT_AGENT_NICE;
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) {
    throw new GtError(`scheduler.agent_nice must be a whole number from 0 to 19, not ${JSON.stringify(nice)}`, { hint: 'fix it in settings/config.json (10, the default, puts the engine well ahead of the agents; 0 leaves their priority as it is)' });
  }
  return nice;
}
