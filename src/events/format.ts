import type { TownEvent } from './log.js';

/** One line for people: time, type, who, bead, what. */
export function formatEvent(e: TownEvent, opts: { actor?: boolean } = {}): string {
  const time = e.at.replace('T', ' ').slice(0, 19);
  const who = opts.actor === false ? '' : `  ${e.actor}`;
  return `${time}  ${e.type.padEnd(16)}${who}${e.bead ? `  ${e.bead}` : ''}${e.detail ? `  ${e.detail}` : ''}`;
}
