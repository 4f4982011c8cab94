/**
 * Who is acting: `BD_ACTOR` (set for every agent Gas Town starts), else the user. The fallback
 * differs by tool: `bd` records "unknown", `gt` speaks for the person at the keyboard, the
 * overseer. Import-free so every command can use it without loading anything.
 */
export function currentActor(fallback = 'unknown'): string {
  return process.env.BD_ACTOR?.trim() || process.env.USER?.trim() || fallback;
}

/** The actor of a `gt` command. */
export function gtActor(): string {
  return currentActor('overseer');
}
