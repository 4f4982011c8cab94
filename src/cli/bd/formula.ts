import type { Command } from 'commander';

export function registerFormulaCommands(program: Command): void {
  void program;
}
