import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineConfig } from './temporal/config.js';
import { serviceFiles } from './temporal/services.js';
import { superviseTownRigs, exitWithParent, type TownRigs } from './temporal/town-rigs.js';
import { runWorker, type WorkerRole } from './temporal/worker.js';
import { requireTownRoot } from './town/layout.js';

/**
 * A worker process (see temporal/worker.ts). Without flags, the town's worker that `gt up`
 * starts in the background: the orchestration task queue, with the queues of the rigs whose
 * agents run on the town in a child process it looks after (`--town-rigs`, temporal/town-rigs.ts).
 * With `--rig-host` (what `gt worker` runs, after checking its input): a rig host serving only
 * `--rig <name>` (repeated), or every rig that runs on workers, named `--host <name>` in `gt status`.
 */
const root = requireTownRoot();
const args = process.argv.slice(2);
const values = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));
// `--workflow-bundle <file>`: run another build's workflows (a rolling upgrade, or its test).
const bundle = values('--workflow-bundle')[0];
const codePath = bundle ?? join(fileURLToPath(new URL('.', import.meta.url)), 'workflow-bundle.js');
const role: WorkerRole = args.includes('--rig-host') ? 'rig-host' : args.includes('--town-rigs') ? 'town-rigs' : 'town';
const rigs = values('--rig');
const files = serviceFiles(root, 'worker');

let townRigs: TownRigs | undefined;
if (role === 'town') {
  townRigs = superviseTownRigs(fileURLToPath(import.meta.url), bundle ? ['--workflow-bundle', bundle] : [], files.rigsPid);
  // Both stop together: the rig worker's in-flight tasks need not wait for the town's.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void townRigs!.stop());
  // A rig worker that cannot start takes the town's worker down with it, so `gt up` says why.
  townRigs.ready.catch((err: Error) => {
    process.stderr.write(`worker: ${err.message}\n`);
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  });
}
if (role === 'town-rigs') exitWithParent();

try {
  await runWorker({
    root,
    config: engineConfig(root),
    role,
    rigs: rigs.length ? rigs : undefined,
    host: values('--host')[0],
    codePath,
    onReady: (queues) => {
      if (role === 'rig-host') process.stdout.write(`gt worker ${process.pid}: polling ${queues.join(', ')}\n`);
      else if (role === 'town-rigs') process.send?.({ t: 'ready', queues });
      else void townRigs!.ready.then(() => writeFileSync(files.ready, `${process.pid}\n`), () => undefined);
    },
  });
} finally {
  await townRigs?.stop();
}
