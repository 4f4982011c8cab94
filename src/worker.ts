import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineConfig } from './temporal/config.js';
import { serviceFiles } from './temporal/services.js';
import { runWorker } from './temporal/worker.js';
import { requireTownRoot } from './town/layout.js';

/**
 * A worker process (see temporal/worker.ts). Without flags, the town's worker that `gt up`
 * starts in the background: the orchestration task queue and the queues of the rigs whose agents
 * run on the town. With `--rig-host` (what `gt worker` runs, after checking its input): a rig
 * host serving only `--rig <name>` (repeated), or every rig that runs on workers, named
 * `--host <name>` in `gt status`.
 */
const root = requireTownRoot();
const args = process.argv.slice(2);
const values = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));
// `--workflow-bundle <file>`: run another build's workflows (a rolling upgrade, or its test).
const codePath = values('--workflow-bundle')[0] ?? join(fileURLToPath(new URL('.', import.meta.url)), 'workflow-bundle.js');
const rigHost = args.includes('--rig-host');
const rigs = values('--rig');
await runWorker({
  root,
  config: engineConfig(root),
  town: !rigHost,
  rigs: rigs.length ? rigs : undefined,
  host: values('--host')[0],
  codePath,
  onReady: (queues) => {
    if (rigHost) process.stdout.write(`gt worker ${process.pid}: polling ${queues.join(', ')}\n`);
    else writeFileSync(serviceFiles(root, 'worker').ready, `${process.pid}\n`);
  },
});
