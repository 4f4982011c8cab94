import { LEDGER_COMMANDS, registerLedgerCommands } from './bd/ledger.js';
import { runProgram } from './program.js';

/** `bd`: the Beads ledger, formulas and molecules. Ledger commands never load the Temporal client. */
runProgram('bd', 'Beads: the work ledger of Gas Town, formulas and molecules', async (program) => {
  registerLedgerCommands(program);
  // Formula and molecule commands load only when they may run: a ledger command at 10k beads has
  // no time to spare for their imports (about 30 ms). Help and unknown names load everything.
  const first = process.argv.slice(2).find((a) => !a.startsWith('-'));
  if (first === undefined || !(LEDGER_COMMANDS as readonly string[]).includes(first)) {
    const [{ registerFormulaCommands }, { registerCookCommands }] = await Promise.all([import('./bd/formula.js'), import('./bd/cook.js')]);
    registerFormulaCommands(program);
    registerCookCommands(program);
  }
});
