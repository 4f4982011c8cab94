import { Command } from 'commander';
import { reportError } from './run.js';
import { registerLedgerCommands } from './bd/ledger.js';
import { registerFormulaCommands } from './bd/formula.js';
import { registerCookCommands } from './bd/cook.js';

/** `bd`: the Beads ledger, formulas and molecules. Ledger commands never load the Temporal client. */
const program = new Command('bd')
  .description('Beads: the work ledger of Gas Town, formulas and molecules')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride((err) => {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
    process.exit(2);
  });

registerLedgerCommands(program);
registerFormulaCommands(program);
registerCookCommands(program);

program.parseAsync(process.argv).catch(reportError);
