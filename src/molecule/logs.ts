import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GtError } from '../errors.js';
import { closest } from '../formula/errors.js';
import { Ledger } from '../beads/ledger.js';
import { townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { stateFromLedger } from './pour.js';

/** Where a step's output (stdout and stderr, every attempt) is kept by the step activities. */
export function stepLogFile(root: string, molecule: string, step: string): string {
  return join(townPaths(root).logs, 'molecules', molecule, `${step}.log`);
}

/**
 * `bd mol logs <molecule> [step]`: a step's whole output, or every step's that has any, in step
 * order under a header each. Reads files only.
 */
export function moleculeLogs(root: string, cwd: string, id: string, step?: string): string {
  const ledger = Ledger.open(ledgerDirForId(id, cwd));
  const bead = ledger.get(id);
  if (bead.issue_type !== 'molecule') throw new GtError(`${bead.id} is a ${bead.issue_type}, not a molecule`, { hint: '`bd mol list` shows molecules' });
  const state = stateFromLedger(ledger, bead);
  const ids = state.steps.map((s) => s.id);
  if (step !== undefined) {
    if (!ids.includes(step)) {
      const guess = closest(step, ids);
      throw new GtError(`molecule ${bead.id} has no step "${step}"`, { hint: guess ? `did you mean "${guess}"?` : `its steps: ${ids.join(', ')}`, exitCode: 2 });
    }
    const file = stepLogFile(root, bead.id, step);
    if (!existsSync(file)) {
      const s = state.steps.find((x) => x.id === step)!;
      throw new GtError(`step "${step}" of ${bead.id} has no output${s.kind === 'run' || s.kind === 'agent' ? ' yet: it has not run' : `: it is a ${s.kind} step`}`,
        { hint: `\`bd mol show ${bead.id}\` shows where each step is` });
    }
    return readFileSync(file, 'utf8');
  }
  const parts: string[] = [];
  for (const s of state.steps) {
    const file = stepLogFile(root, bead.id, s.id);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    parts.push(`==> ${s.id} (${s.bead}) <==\n${text}${text.endsWith('\n') || text === '' ? '' : '\n'}`);
  }
  return parts.length ? parts.join('\n') : `no step of ${bead.id} has output yet\n`;
}
