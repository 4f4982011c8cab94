import type { Command } from 'commander';

export function registerCookCommands(program: Command): void {
  void program;
}
