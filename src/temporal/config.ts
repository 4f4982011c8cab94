import { readTownJson } from '../town/layout.js';
import { readTownSettings } from '../town/settings.js';

export const DEFAULT_GRPC_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;

/** Where this town's engine is and which queues it uses. Cheap: no Temporal SDK import. */
export interface EngineConfig {
  address: string;
  namespace: string;
  /** true when the address comes from settings or TEMPORAL_ADDRESS: no local server is started. */
  external: boolean;
  grpcPort: number;
  uiPort: number;
  /** Web UI base address (local dev server, or TEMPORAL_UI_ADDRESS / settings for a cluster). */
  uiAddress?: string;
  /** Orchestration task queue: `gt-<town>`. */
  taskQueue: string;
}

export function engineConfig(root: string): EngineConfig {
  const settings = readTownSettings(root).temporal ?? {};
  const grpcPort = Number(process.env.GT_TEMPORAL_PORT ?? settings.grpc_port ?? DEFAULT_GRPC_PORT);
  const uiPort = Number(process.env.GT_TEMPORAL_UI_PORT ?? settings.ui_port ?? grpcPort + 1000);
  const externalAddress = process.env.TEMPORAL_ADDRESS ?? settings.address;
  const townName = safeName(readTownJson(root).name);
  return {
    address: externalAddress ?? `127.0.0.1:${grpcPort}`,
    namespace: process.env.TEMPORAL_NAMESPACE ?? settings.namespace ?? 'default',
    external: Boolean(externalAddress),
    grpcPort,
    uiPort,
    uiAddress: externalAddress
      ? process.env.TEMPORAL_UI_ADDRESS
      : `http://localhost:${uiPort}`,
    taskQueue: process.env.GT_TASK_QUEUE ?? settings.task_queue ?? `gt-${townName}`,
  };
}

/** Task queue for a rig's agent work, so its agents run where its worktrees are. */
export function rigTaskQueue(config: Pick<EngineConfig, 'taskQueue'>, rig: string): string {
  return `${config.taskQueue}-${rig}`;
}

/** Web UI link to one workflow, when a UI is known. */
export function workflowUiLink(config: EngineConfig, workflowId: string): string | undefined {
  if (!config.uiAddress) return undefined;
  return `${config.uiAddress}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '-');
}
