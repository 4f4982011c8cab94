import { execFileSync } from 'node:child_process';
import { GtError } from '../errors.js';
import { findTemporalCli } from '../temporal/binary.js';
import { rigTaskQueue, type EngineConfig } from '../temporal/config.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../temporal/search-attributes.js';
import { ensureUp, rigWorkerPid, servicePid } from '../temporal/services.js';
import { pollerAlive } from '../temporal/status.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/**
 * The engine: the temporal CLI, the server, our search attributes, and a live worker on the
 * town's task queue and on each rig's. Sets `ctx.client` and `ctx.liveQueues` for later checks.
 */
type EngineContext = DoctorContext & { config: EngineConfig };

function startServices(ctx: EngineContext): () => Promise<string> {
  return async () => {
    const serverWas = ctx.config.external || servicePid(ctx.root, 'temporal') !== undefined;
    const workerWas = servicePid(ctx.root, 'worker');
    await ensureUp(ctx.root);
    const started = [
      ...(serverWas ? [] : [`the embedded server (pid ${servicePid(ctx.root, 'temporal')})`]),
      ...(workerWas ? [] : [`the worker (pid ${servicePid(ctx.root, 'worker')})`]),
    ];
    return started.length ? `started ${started.join(' and ')}` : 'the server and the worker run (started meanwhile)';
  };
}

function checkCli(ctx: EngineContext): CheckResult {
  // An external cluster needs no local CLI; the embedded server is the CLI.
  const severity = ctx.config.external ? 'warning' : 'error';
  let cli: string;
  try {
    cli = findTemporalCli();
  } catch (err) {
    return problem('engine', 'temporal CLI', severity, (err as GtError).message, (err as GtError).hint);
  }
  try {
    const version = execFileSync(cli, ['--version'], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0];
    return ok('engine', 'temporal CLI', `${version} (${cli})`);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const why = (e.stderr?.trim() || e.message).split('\n').slice(-3).join(' ');
    return problem('engine', 'temporal CLI', severity, `${cli} does not run: ${why}`, 'reinstall it with `npm run setup` in the project folder, or set TEMPORAL_CLI to a working temporal binary');
  }
}

async function checkServer(ctx: EngineContext): Promise<CheckResult> {
  const { address, namespace, external } = ctx.config;
  if (!external && !servicePid(ctx.root, 'temporal')) {
    return problem('engine', 'server', 'error', `the embedded Temporal server is not running (it would listen on ${address})`, 'gt up', startServices(ctx));
  }
  const { connectClient } = await import('../temporal/client.js');
  try {
    const client = await connectClient(ctx.config, { connectTimeout: '3s' });
    try {
      await client.connection.workflowService.getSystemInfo({});
    } catch (err) {
      await client.connection.close().catch(() => undefined);
      throw err;
    }
    ctx.client = client;
    return ok('engine', 'server', `reachable at ${address} (namespace ${namespace}${external ? ', external cluster' : ', embedded dev server'})`);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return external
      ? problem('engine', 'server', 'error', `cannot reach the Temporal cluster at ${address}: ${why}`, 'start the cluster, or fix temporal.address in settings/config.json (or TEMPORAL_ADDRESS)')
      : problem('engine', 'server', 'error', `the embedded server (pid ${servicePid(ctx.root, 'temporal')}) does not answer at ${address}: ${why}`, 'gt down && gt up');
  }
}

async function checkSearchAttributes(ctx: EngineContext): Promise<CheckResult> {
  const client = ctx.client!;
  const { namespace } = ctx.config;
  let existing: Record<string, unknown>;
  try {
    existing = (await client.connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    return problem('engine', 'search attributes', 'error', `cannot list the search attributes of namespace ${namespace}: ${(err as Error).message.split('\n')[0]}`, `check that namespace ${namespace} exists (temporal operator namespace list)`);
  }
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in existing));
  if (missing.length === 0) return ok('engine', 'search attributes', `${SEARCH_ATTRIBUTE_NAMES.join(', ')} registered in namespace ${namespace}`);
  return problem(
    'engine', 'search attributes', 'error',
    `namespace ${namespace} lacks the search attribute${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: workflows that set them fail to start`,
    'gt doctor --fix (or gt up) registers them',
    async () => {
      const { ensureSearchAttributes } = await import('../temporal/client.js');
      await ensureSearchAttributes(ctx.config);
      return `registered the search attributes ${missing.join(', ')} in namespace ${namespace}`;
    },
  );
}

async function checkWorkers(ctx: EngineContext): Promise<CheckResult[]> {
  const client = ctx.client!;
  const { temporal } = (await import('@temporalio/proto')).default;
  const { rigRunsOn } = await import('../temporal/worker.js');
  const queues: { queue: string; what: string; rig?: string }[] = [{ queue: ctx.config.taskQueue, what: "the town's task queue" }, ...Object.keys(ctx.rigs).map((rig) => ({ queue: rigTaskQueue(ctx.config, rig), what: `rig ${rig}'s task queue`, rig }))];
  const workerPid = servicePid(ctx.root, 'worker');
  ctx.liveQueues = new Set();
  const out: CheckResult[] = [];
  const describe = async (queue: string) => {
    const tq = await client.connection.workflowService.describeTaskQueue({
      namespace: ctx.config.namespace,
      taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (tq.pollers ?? []).map((p) => ({ identity: p.identity ?? '', at: p.lastAccessTime?.seconds ? Number(p.lastAccessTime.seconds) * 1000 : 0 }));
  };
  for (const { queue, what, rig } of queues) {
    const name = `worker on ${queue}`;
    let pollers: { identity: string; at: number }[];
    try {
      pollers = await describe(queue);
      // A worker that has just started (or picked up a new rig) polls within moments.
      for (let waited = 0; workerPid && waited < 5000 && !pollers.some((p) => pollerAlive(p.identity, p.at)); waited += 250) {
        await new Promise((r) => setTimeout(r, 250));
        pollers = await describe(queue);
      }
    } catch (err) {
      out.push(problem('engine', name, 'error', `cannot describe ${what} ${queue}: ${(err as Error).message.split('\n')[0]}`));
      continue;
    }
    const live = pollers.filter((p) => pollerAlive(p.identity, p.at));
    if (live.length) {
      ctx.liveQueues.add(queue);
      out.push(ok('engine', name, `${live.length} live poller${live.length === 1 ? '' : 's'} on ${what} (${live.map((p) => p.identity).join(', ')})`));
      continue;
    }
    const stale = pollers.length ? ` (${pollers.length} poller${pollers.length === 1 ? '' : 's'} of a stopped worker still listed by the server)` : '';
    if (rig && rigRunsOn(ctx.root, rig) === 'workers') {
      // Only rig hosts serve it: the town's worker cannot help.
      out.push(problem('engine', name, 'error', `no rig host serves ${what} ${queue}${stale}: rig ${rig} runs on workers`, `start one on a rig host: gt worker --rig ${rig} (or gt rig run-on ${rig} town)`));
    } else if (workerPid) {
      // The town's worker runs but nothing polls this queue: its rig worker picks up a new rig
      // within seconds, and is started again within seconds (30 at most) when it died.
      const rigsPid = rig ? rigWorkerPid(ctx.root) : undefined;
      const runs = rig ? (rigsPid ? `the town's rig worker (pid ${rigsPid}) runs` : `the worker (pid ${workerPid}) runs, its rig worker does not (it is started again within 30 s)`) : `the worker (pid ${workerPid}) runs`;
      out.push(problem('engine', name, 'error', `no live worker polls ${what} ${queue}${stale}, although ${runs}`, 'see .gt/logs/worker.log; then gt down && gt up'));
    } else {
      out.push(problem('engine', name, 'error', `no worker polls ${what} ${queue}${stale}: nothing runs there`, 'gt up', startServices(ctx)));
    }
  }
  return out;
}

export async function checkEngine(ctx: DoctorContext, config: EngineConfig): Promise<CheckResult[]> {
  const e: EngineContext = Object.assign(ctx, { config });
  const out = [checkCli(e), await checkServer(e)];
  if (!ctx.client) {
    out.push(problem('engine', 'search attributes', 'warning', 'not checked: the server cannot be reached'));
    out.push(problem('engine', 'workers', 'warning', 'not checked: the server cannot be reached'));
    return out;
  }
  out.push(await checkSearchAttributes(e));
  out.push(...(await checkWorkers(e)));
  return out;
}
