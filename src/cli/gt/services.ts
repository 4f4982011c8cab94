import type { Command } from 'commander';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';

export function registerServiceCommands(program: Command): void {
  program
    .command('up')
    .description('start the town services: the embedded Temporal server (unless an external cluster is set) and the worker')
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { ensureUp } = await import('../../temporal/services.js');
      await ensureUp(root);
      const { townStatus } = await import('../../temporal/status.js');
      const status = await townStatus(root);
      if (opts.json) printJson(status);
      else process.stdout.write(formatStatus(status));
    }));

  program
    .command('down')
    .description('stop the worker and the embedded Temporal server (workflows resume on the next `gt up`)')
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { stopServices } = await import('../../temporal/services.js');
      const stopped = await stopServices(root);
      // Ledger changes waiting for their batched git commit are committed now, not lost.
      const { flushLedgerCommits } = await import('../../beads/ledger.js');
      const { townRoutes } = await import('../../town/routes.js');
      for (const route of townRoutes(root)) flushLedgerCommits(route.dir);
      if (opts.json) printJson({ stopped });
      else {
        const names = Object.entries(stopped).filter(([, v]) => v).map(([k]) => k);
        process.stdout.write(names.length ? `Stopped: ${names.join(', ')}\n` : 'Nothing was running\n');
      }
    }));

  program
    .command('status')
    .description("show the town services: server, Web UI, worker and their health, and every worker polling the town's queues (host, queues, last seen)")
    .option('--json', 'print the result as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { townStatus } = await import('../../temporal/status.js');
      const status = await townStatus(root);
      if (opts.json) printJson(status);
      else process.stdout.write(formatStatus(status));
    }));
}

type Status = Awaited<ReturnType<typeof import('../../temporal/status.js').townStatus>>;

function formatStatus(s: Status): string {
  const lines = [
    `Town:     ${s.town} (${s.root})`,
    `Temporal: ${s.server.address} ${s.server.external ? '(external cluster)' : '(embedded dev server)'} — ${s.server.healthy ? 'healthy' : 'not reachable'}${s.server.pid ? ` [pid ${s.server.pid}]` : ''}`,
    `Web UI:   ${s.server.ui ?? '(unknown for an external cluster; set TEMPORAL_UI_ADDRESS)'}`,
    `Worker:   ${s.worker.running ? `running [pid ${s.worker.pid}${s.worker.rigsPid ? `; its rigs' worker pid ${s.worker.rigsPid}` : ''}]` : 'stopped'} on task queue ${s.worker.taskQueue}${s.worker.pollers !== undefined ? ` (${s.worker.pollers} live poller${s.worker.pollers === 1 ? '' : 's'}${s.worker.stalePollers ? `; ${s.worker.stalePollers} of a stopped worker still listed by the server` : ''}${s.worker.lastPollAgoS !== undefined ? `; last poll ${s.worker.lastPollAgoS}s ago` : ''})` : ''}`,
  ];
  if (s.workers) {
    lines.push(`Workers:  ${s.workers.filter((w) => w.live).length} live`);
    for (const w of s.workers) {
      lines.push(`  ${w.identity.padEnd(24)} host ${w.host}, polls ${w.queues.join(' ')}; last seen ${w.lastSeenAgoS}s ago${w.live ? '' : ' (gone)'}`);
    }
  }
  if (s.stalls?.length) {
    lines.push(`Stalled:  ${s.stalls.length}`);
    for (const x of s.stalls) lines.push(`  ${x.workflowId}: ${x.why}`);
  } else if (s.stalls) lines.push('Stalled:  nothing');
  return lines.join('\n') + '\n';
}
