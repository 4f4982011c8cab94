import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { readTownJson, requireTownRoot } from '../../town/layout.js';
import { action } from '../run.js';
import { currentActor } from '../../actor.js';

/** `gt dashboard`: the town live in a web page (src/dashboard), served from this process. */
export function registerDashboardCommands(program: Command): void {
  program
    .command('dashboard')
    .description('the town live in a web page: agents with their output, convoys, merge queue, ready work, formula runs, mail, problems; sling, nudge and approve from it')
    .option('--port <n>', 'port to listen on (0: any free port)', '8080')
    .option('--bind <address>', 'address to listen on (0.0.0.0: every interface; anyone who reaches it can act on the town)', '127.0.0.1')
    .option('--open', 'open the page in a browser')
    .action(action(async (opts: { port: string; bind: string; open?: boolean }) => {
      const port = Number(opts.port);
      if (!/^\d+$/.test(opts.port) || port > 65535) throw usageError(`--port "${opts.port}" is not a port number`, 'give a number from 1 to 65535 (or 0 for any free port), e.g. --port 8080');
      if (!opts.bind.trim()) throw usageError('--bind is empty', 'e.g. --bind 127.0.0.1 (the default) or --bind 0.0.0.0');
      const root = requireTownRoot();
      const { Dashboard, isLoopback, listen } = await import('../../dashboard/server.js');
      // The port first: one in use is said at once, before the engine is started.
      const server = await listen(port, opts.bind);
      const { withEngine } = await import('../../temporal/engine.js');
      const { workflowUiLink } = await import('../../temporal/config.js');
      const { FeedStore } = await import('../../feed/store.js');
      const { AgentOutput } = await import('../../dashboard/output.js');
      const { dashboardActions } = await import('../../dashboard/actions.js');
      try {
        await withEngine(root, async (client, config) => {
          const store = new FeedStore(root, client, config, { sinceMs: Date.now() - 3_600_000, extras: true });
          await store.start();
          const dashboard = new Dashboard(readTownJson(root).name, store, new AgentOutput(root), dashboardActions(root, client, currentActor(), () => store.snapshot.gates), (id) => workflowUiLink(config, id), isLoopback(opts.bind));
          server.on('request', dashboard.handle);
          const address = server.address();
          const actual = typeof address === 'object' && address ? address.port : port;
          const host = opts.bind === '0.0.0.0' || opts.bind === '::' ? '127.0.0.1' : opts.bind.includes(':') ? `[${opts.bind}]` : opts.bind;
          const url = `http://${host}:${actual}/`;
          process.stdout.write(`gt dashboard: ${url} (Ctrl-C stops it)\n`);
          if (opts.open) openBrowser(url);
          await new Promise<void>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          dashboard.close();
          store.stop();
        }, { start: true });
      } finally {
        server.closeAllConnections();
        server.close();
      }
    }));
}

/** The system's browser opener; a machine without one gets a message, not a failure. */
function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  const fail = (why: string) => process.stderr.write(`gt dashboard: could not open a browser (${why}); open ${url} yourself\n`);
  void import('node:child_process').then(({ spawn }) => {
    const p = spawn(opener, [url], { stdio: 'ignore', detached: true });
    p.on('error', (err) => fail(`${opener}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : err.message}`));
    p.on('exit', (code) => void (code && fail(`${opener} exited with code ${code}`)));
    p.unref();
  });
}
