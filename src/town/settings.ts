import { existsSync } from 'node:fs';
import { readJsonFile, rigPaths, townPaths, writeJsonFile } from './layout.js';

/** How an agent runtime is started (the `runtime` block of the original). */
export interface RuntimeConfig {
  provider?: string;
  command: string;
  args?: string[];
  env?: Record<string, string>;
  prompt_mode?: 'arg' | 'none';
  /** With prompt_mode "arg": the flag that precedes the prompt, for CLIs whose positional argument is not a prompt. */
  prompt_flag?: string;
  /** A regular expression for a screen line that shows the runtime is ready for input (custom agents). */
  ready_prompt?: string;
  /** The context file a custom agent reads from its working folder (default AGENTS.md). */
  instructions_file?: string;
}

export interface TemporalSettings {
  /** host:port of an external cluster; when set no local dev server is started. */
  address?: string;
  namespace?: string;
  grpc_port?: number;
  ui_port?: number;
  /** orchestration task queue; default `gt-<town name>`. */
  task_queue?: string;
}

/** Durations are strings such as "90s", "10m", "1h". */
export interface Thresholds {
  /** How long a step or agent activity may go without a heartbeat before the engine retries it. */
  heartbeat_timeout?: string;
  stall_timeout?: string;
  nudge_grace?: string;
  /** How long a new session may take to show its ready prompt before it is a failed start. */
  start_timeout?: string;
  max_attempts?: number;
  max_polecats_per_rig?: number;
  skip_after_failures?: number;
}

export interface TownSettings {
  type?: 'town-settings';
  version?: number;
  default_agent?: string;
  agents?: Record<string, RuntimeConfig>;
  /** role → agent name (mayor, polecat, refinery, crew). */
  role_agents?: Record<string, string>;
  runtime?: RuntimeConfig;
  /** agent_nice: the nice value of agent sessions (0-19, default 10). */
  scheduler?: { max_polecats_per_rig?: number; agent_nice?: number };
  thresholds?: Thresholds;
  temporal?: TemporalSettings;
  /** Town-wide merge queue batching (a rig's own settings override it). */
  merge_queue?: Pick<MergeQueueSettings, 'batch_size' | 'max_batch_size' | 'max_concurrent'>;
}

export interface RigSettings {
  type?: 'rig-settings';
  version?: number;
  agent?: string;
  role_agents?: Record<string, string>;
  runtime?: RuntimeConfig;
  merge_queue?: MergeQueueSettings;
  namepool?: { style?: string; names?: string[] };
  thresholds?: Thresholds;
  /**
   * Where the rig's agents run: `town` (default: the town's own worker serves the rig's task
   * queue) or `workers` (only `gt worker --rig <rig>` processes on rig hosts do).
   */
  run_on?: 'town' | 'workers';
}

/**
 * The refinery: `test_command` runs (with `sh -c`) on each batch's candidate before it is merged;
 * `test_timeout` limits it (default 30m); the queue's workflow continues as new after
 * `history_limit` history events (default 5000). `batch_size`: requests merged together (a
 * number, or "adaptive", the default: 8, doubling after each green full batch up to
 * `max_batch_size` (32), halving after a red one); `max_concurrent`: test runs at once while a
 * red batch is searched for its culprit (default 2). The batch keys may be set town-wide too.
 */
export interface MergeQueueSettings {
  test_command?: string;
  enabled?: boolean;
  test_timeout?: string;
  history_limit?: number;
  batch_size?: number | 'adaptive';
  max_batch_size?: number;
  max_concurrent?: number;
}

export function defaultTownSettings(): TownSettings {
  return {
    type: 'town-settings',
    version: 1,
    default_agent: 'claude',
    agents: {},
    thresholds: { heartbeat_timeout: '30s', stall_timeout: '15m', nudge_grace: '2m', max_attempts: 3, skip_after_failures: 3 },
    scheduler: { max_polecats_per_rig: 25 },
    temporal: {},
  };
}

export function readTownSettings(root: string): TownSettings {
  const path = townPaths(root).settings;
  if (!existsSync(path)) return defaultTownSettings();
  return readJsonFile<TownSettings>(path);
}

export function writeTownSettings(root: string, settings: TownSettings): void {
  writeJsonFile(townPaths(root).settings, settings);
}

export function readRigSettings(root: string, rig: string): RigSettings {
  const path = rigPaths(root, rig).settings;
  if (!existsSync(path)) return {};
  return readJsonFile<RigSettings>(path);
}

export function writeRigSettings(root: string, rig: string, settings: RigSettings): void {
  writeJsonFile(rigPaths(root, rig).settings, settings);
}
