import type { EngineConfig } from '../temporal/config.js';

/**
 * The environment of everything a town starts (its worker, the engine, agent sessions, step and
 * test commands): the machine's ordinary environment (PATH, HOME, the agents' API keys, ...)
 * without anything that says who a process is or which town or engine it belongs to, plus what
 * the town's settings say. Never whatever the starting process happened to carry: a worker
 * started by an agent's `gt done` must not run as that agent, and an agent must reach the
 * town's engine the way the town does.
 */

/** gt's own namespaces (identity, town, ledger, engine) and the tmux client a process sits in. */
const TOWN_SCOPED = /^(GT_|BD_|BEADS_|TEMPORAL_|TMUX$|TMUX_PANE$)/;
/** Git variables that name another repository or give commits someone else's name. */
const GIT_SCOPED = /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|COMMON_DIR|NAMESPACE|AUTHOR_\w+|COMMITTER_\w+)$/;
/** Developer knobs in those namespaces that are settings of the machine, not of an identity. */
const MACHINE_KNOBS = new Set(['TEMPORAL_CLI', 'TEMPORAL_UI_ADDRESS', 'GT_DEBUG', 'GT_CONVOY_POLL_MS', 'BD_COMMIT_DELAY_MS']);

/**
 * A long-lived process whose environment never changes once it runs (the worker) reads it once:
 * reading process.env is a call into the runtime for every variable, and the worker builds the
 * environment of every command it starts (git, tmux, agents) from it.
 */
let frozen: { env: NodeJS.ProcessEnv; host: Record<string, string> } | undefined;
export function freezeProcessEnv(): void {
  const env = { ...process.env };
  frozen = { env, host: scopedOut(env) };
}

/** This process's environment (as read once, when frozen). */
export function processEnv(): NodeJS.ProcessEnv {
  return frozen?.env ?? process.env;
}

/** The machine's environment with every town-, identity- and repository-scoped variable removed. */
export function hostEnv(env?: NodeJS.ProcessEnv): Record<string, string> {
  if (!env && frozen) return { ...frozen.host };
  return scopedOut(env ?? process.env);
}

function scopedOut(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if ((TOWN_SCOPED.test(k) || GIT_SCOPED.test(k)) && !MACHINE_KNOBS.has(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * How a process reaches the town's engine, as variables: an external cluster by its address; the
 * town's own embedded server by its ports only, so a `gt` run with this environment still knows
 * the server is the town's to start when it is down.
 */
export function engineEnv(config: EngineConfig): Record<string, string> {
  const env: Record<string, string> = { TEMPORAL_NAMESPACE: config.namespace, GT_TASK_QUEUE: config.taskQueue };
  if (config.external) env.TEMPORAL_ADDRESS = config.address;
  else Object.assign(env, { GT_TEMPORAL_PORT: String(config.grpcPort), GT_TEMPORAL_UI_PORT: String(config.uiPort) });
  return env;
}

/**
 * The environment of the town's processes: the machine's, the town's root, engine and tmux server;
 * on a rig host (`gt worker`), also the host's name, so nothing there starts the town's services.
 */
export function townEnv(root: string, config: EngineConfig, tmuxSocket: string, rigHost: string | undefined = rigHostName()): Record<string, string> {
  return { ...hostEnv(), GT_ROOT: root, ...engineEnv(config), GT_TMUX_SOCKET: tmuxSocket, ...(rigHost ? { GT_WORKER_HOST: rigHost } : {}) };
}

/** The name of the rig host this process runs on (set by `gt worker` for it and its agents), or undefined on the town's host. */
export function rigHostName(): string | undefined {
  return process.env.GT_WORKER_HOST || undefined;
}
