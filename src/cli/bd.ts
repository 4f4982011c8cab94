import { Command } from 'commander';
import { reportError } from './run.js';
import { LEDGER_COMMANDS, registerLedgerCommands } from './bd/ledger.js';
import { noteAgentProgress } from '../polecat/progress.js';
import { remoteTownName } from '../remote/commands.js';
import { PACKAGE_VERSION } from '../version.js';

// No top-level await: the bundle is a CommonJS script (bin/load.js runs it with a V8 code cache).
async function main(): Promise<void> {
  // An agent on a host without the town folder: its command goes to the town through the engine.
  const remoteTown = remoteTownName(process.env, process.argv.slice(2));
  if (remoteTown) {
    noteAgentProgress();
    const { runInTown } = await import('../remote/client.js');
    process.exit(await runInTown(remoteTown, 'bd', process.argv.slice(2)));
  }

  /** `bd`: the Beads ledger, formulas and molecules. Ledger commands never load the Temporal client. */
  const program = new Command('bd')
    .description('Beads: the work ledger of Gas Town, formulas and molecules')
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    });

  registerLedgerCommands(program);
  // Formula and molecule commands load only when they may run: a ledger command at 10k beads has
  // no time to spare for their imports (about 30 ms). Help and unknown names load everything.
  const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
  if (first === undefined || !(LEDGER_COMMANDS as readonly string[]).includes(first)) {
    const [{ registerFormulaCommands }, { registerCookCommands }] = await Promise.all([import('./bd/formula.js'), import('./bd/cook.js')]);
    registerFormulaCommands(program);
    registerCookCommands(program);
  }

  noteAgentProgress();
  await program.parseAsync(process.argv);
}

main().catch(reportError);
