import type { Client } from '@temporalio/client';
import type { EngineConfig } from '../temporal/config.js';
import type { RigEntry } from '../town/layout.js';

/**
 * One finding of `gt doctor`: which group and check, how it stands, what is wrong, and what to do
 * (`fix`). A finding `--fix` can repair safely carries `repair`, which does it and says what it did.
 */
export type CheckStatus = 'ok' | 'warning' | 'error';
export type CheckGroup = 'engine' | 'town' | 'ledgers' | 'agents' | 'sessions';
export const GROUPS: readonly CheckGroup[] = ['engine', 'town', 'ledgers', 'agents', 'sessions'];

export interface CheckResult {
  group: CheckGroup;
  name: string;
  status: CheckStatus;
  message: string;
  /** What to do about it (a command, a file to edit). */
  fix?: string;
  /** `--fix` only: does the repair and returns what it did. */
  repair?: () => Promise<string>;
}

/** What the checks share: the town, the rigs looked at, and the engine when it can be reached. */
export interface DoctorContext {
  root: string;
  /** The rigs checked: all of them, or the one `--rig` names. */
  rigs: Record<string, RigEntry>;
  /** Undefined when the settings cannot be read (the town checks say why). */
  config?: EngineConfig;
  /** Set by the engine checks when the server answers. */
  client?: Client;
  /** Task queues with a live worker polling them (known when the server answers). */
  liveQueues?: Set<string>;
}

export function ok(group: CheckGroup, name: string, message: string): CheckResult {
  return { group, name, status: 'ok', message };
}

export function problem(
  group: CheckGroup,
  name: string,
  status: 'warning' | 'error',
  message: string,
  fix?: string,
  repair?: () => Promise<string>,
): CheckResult {
  return { group, name, status, message, ...(fix ? { fix } : {}), ...(repair ? { repair } : {}) };
}
