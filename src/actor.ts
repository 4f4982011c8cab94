import { userInfo } from 'node:os';

/**
 * Who is acting, for every `gt` and `bd` command alike: `BD_ACTOR` (set for every agent Gas Town
 * starts), else the person at the keyboard (their login name), else "overseer". Never "unknown".
 */
export function currentActor(): string {
  return process.env.BD_ACTOR?.trim() || personName();
}

/** The person at the keyboard: their login name, else "overseer". */
export function personName(): string {
  const env = process.env.USER?.trim() || process.env.LOGNAME?.trim();
  if (env) return env;
  try {
    const name = userInfo().username.trim();
    if (name) return name;
  } catch {
    // no user entry for this uid (a container)
  }
  return 'overseer';
}
