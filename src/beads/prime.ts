import type { Ledger } from './ledger.js';
import type { Bead } from './model.js';

/** `bd prime`: what an agent needs to work from this ledger, as markdown. */
export function primeMarkdown(ledger: Ledger, actor: string, now = Date.now()): string {
  const ready = ledger.ready({ now });
  const mine = ledger.list({ assignee: actor }).filter((b) => b.status === 'in_progress' || b.status === 'hooked');
  const blocked = ledger.blocked();
  const item = (b: Bead) => `- \`${b.id}\` P${b.priority} ${b.issue_type}: ${b.title}${b.assignee ? ` (@${b.assignee})` : ''}`;
  const out: string[] = [
    '# Beads: the work ledger',
    '',
    `This ledger (${ledger.dir}) tracks work as beads with ids like \`${ledger.prefix}-abc12\`. You are \`${actor}\` (BD_ACTOR).`,
    'Use `bd` for every piece of work: find it, claim it, record what you learn, close it.',
    '',
    '## Working with bd',
    '- `bd ready` - open work nothing blocks, most urgent first',
    '- `bd show <id>` - everything about a bead (a unique start of the id is enough)',
    '- `bd update <id> --claim` - take a bead: assigns it to you and sets in_progress; fails if someone else has it',
    '- `bd create "title" -t bug -p 1 -d "details" --deps discovered-from:<id>` - record new work you find',
    '- `bd dep add <id> <blocker>` - <id> cannot start until <blocker> is closed',
    '- `bd comments add <id> "what you found"` - leave notes for whoever comes next',
    '- `bd close <id> -r "what was done"` - finish a bead (refused while blockers are open)',
    '- add `--json` to any command for machine-readable output',
    '',
  ];
  out.push(`## Your work in progress (${mine.length})`, ...(mine.length ? mine.map(item) : ['- none']), '');
  out.push(`## Ready work (${ready.length})`, ...(ready.length ? ready.slice(0, 10).map(item) : ['- nothing is ready']));
  if (ready.length > 10) out.push(`- ... and ${ready.length - 10} more (\`bd ready\`)`);
  out.push('', `Blocked: ${blocked.length} bead${blocked.length === 1 ? '' : 's'} (\`bd blocked\`).`, '');
  return out.join('\n');
}
