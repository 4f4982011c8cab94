import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../../fsutil.js';
import { GtError, usageError } from '../../errors.js';
import { currentActor, findLedgerDir, initLedger, Ledger, type CreateInput, type DepInput, type UpdatePatch } from '../../beads/ledger.js';
import { NON_BLOCKING_DEP_TYPES, type Bead, type BlockedBead, type DepType } from '../../beads/model.js';
import { PREFIX_RE, validatePrefix } from '../../beads/ids.js';
import {
  parseDepType, parseIssueType, parsePriority, parseSettableStatus, parseStatusFilter, parseTypeFilter, validateLabel,
} from '../../beads/validate.js';
import { isActive, parentOf } from '../../beads/graph.js';
import { primeMarkdown } from '../../beads/prime.js';
import { ledgerDirForId, requireLedgerDirForCwd } from '../../town/routes.js';
import { findTownRoot } from '../../town/layout.js';
import { action, collect, printJson } from '../run.js';

/**
 * `bd` ledger commands. Thin: parse, open the right ledger (ids route by prefix), call
 * src/beads, print. Every value is checked before any ledger is written.
 */

interface JsonOpt {
  json?: boolean;
}

/** The top-level commands registered here (bd.ts loads other command groups only for other names). */
export const LEDGER_COMMANDS = [
  'init', 'create', 'list', 'show', 'update', 'close', 'reopen', 'ready', 'blocked', 'dep', 'label', 'comments', 'search', 'stats', 'export',
  'import', 'prime',
] as const;

// --- ledgers --------------------------------------------------------------------------------

const opened = new Map<string, Ledger>();

function openDir(dir: string): Ledger {
  let l = opened.get(dir);
  if (!l) {
    l = Ledger.open(dir);
    opened.set(dir, l);
  }
  return l;
}

function cwdLedger(): Ledger {
  return openDir(requireLedgerDirForCwd());
}

function ledgerFor(id: string): Ledger {
  return openDir(ledgerDirForId(id.trim().toLowerCase()));
}

/** Resolve ids (short ones too) to their ledgers, all before anything is written. */
function resolveAll(ids: string[]): Array<{ ledger: Ledger; id: string }> {
  return ids.map((raw) => {
    const ledger = ledgerFor(raw);
    return { ledger, id: ledger.resolveId(raw) };
  });
}

/** Group resolved ids by ledger so each ledger gets one atomic write. */
function byLedger(items: Array<{ ledger: Ledger; id: string }>): Array<[Ledger, string[]]> {
  const groups = new Map<Ledger, string[]>();
  for (const { ledger, id } of items) groups.set(ledger, [...(groups.get(ledger) ?? []), id]);
  return [...groups];
}

// --- option parsing -------------------------------------------------------------------------

function splitList(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').map((s) => s.trim()).filter(Boolean);
}

function parseCount(what: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usageError(`${what} must be a whole number, got "${value}"`);
  return Number(value);
}

/** `--deps a,blocks:b,discovered-from:c` (type:id, as in the original). */
function parseDeps(value: string | undefined): DepInput[] {
  return splitList(value).map((item) => {
    const colon = item.indexOf(':');
    if (colon > 0) return { type: parseDepType(item.slice(0, colon)), id: item.slice(colon + 1) };
    return { id: item, type: 'blocks' as DepType };
  });
}

// --- human output ---------------------------------------------------------------------------

function line(b: Bead): string {
  // One line a bead: an imported multi-line title shows its line breaks as ⏎.
  const parts = [b.id.padEnd(12), `P${b.priority}`, b.issue_type.padEnd(7), b.status.padEnd(11), b.title.replace(/\r?\n/g, ' ⏎ ')];
  if (b.assignee) parts.push(`@${b.assignee}`);
  if (b.labels?.length) parts.push(`[${b.labels.join(', ')}]`);
  return parts.join('  ');
}

function printList(beads: Bead[], empty: string): void {
  if (!beads.length) {
    process.stdout.write(empty + '\n');
    return;
  }
  process.stdout.write(beads.map(line).join('\n') + '\n');
}

function showText(ledger: Ledger, b: Bead): string {
  const out: string[] = [`${b.id}: ${b.title}`];
  out.push(`Status: ${b.status}   Priority: P${b.priority}   Type: ${b.issue_type}${b.ephemeral ? '   (ephemeral)' : ''}`);
  if (b.assignee || b.owner) out.push(`Assignee: ${b.assignee ?? '-'}   Owner: ${b.owner ?? '-'}`);
  out.push(`Created: ${b.created_at}${b.created_by ? ` by ${b.created_by}` : ''}   Updated: ${b.updated_at}`);
  if (b.started_at) out.push(`Started: ${b.started_at}`);
  if (b.closed_at) out.push(`Closed: ${b.closed_at}${b.close_reason ? ` (${b.close_reason})` : ''}`);
  if (b.status === 'tombstone') out.push(`Deleted: ${b.deleted_at ?? '(time unknown)'}${b.deleted_by ? ` by ${b.deleted_by}` : ''}${b.delete_reason ? ` (${b.delete_reason})` : ''}`);
  if (b.due_at) out.push(`Due: ${b.due_at}`);
  if (b.defer_until) out.push(`Deferred until: ${b.defer_until}`);
  if (b.labels?.length) out.push(`Labels: ${b.labels.join(', ')}`);
  for (const [name, text] of [['Description', b.description], ['Design', b.design], ['Acceptance criteria', b.acceptance_criteria], ['Notes', b.notes]] as const) {
    if (text) out.push('', `${name}:`, ...text.split('\n').map((l) => `  ${l}`));
  }
  if (b.dependencies?.length) {
    out.push('', 'Depends on:');
    for (const d of b.dependencies) {
      const t = ledger.tryGet(d.depends_on_id);
      out.push(`  → ${d.depends_on_id} (${d.type})${t ? ` [${t.status}] ${t.title}` : ''}`);
    }
  }
  const dependents = ledger.dependents(b.id);
  if (dependents.length) {
    out.push('', 'Depended on by:');
    for (const d of dependents) {
      const t = ledger.tryGet(d.issue_id);
      out.push(`  ← ${d.issue_id} (${d.type})${t ? ` [${t.status}] ${t.title}` : ''}`);
    }
  }
  const blockers = isActive(b) ? ledger.blockersOf(b.id) : [];
  if (blockers.length) out.push('', `Blocked by: ${blockers.join(', ')}`);
  if (b.comments?.length) {
    out.push('', 'Comments:');
    for (const c of b.comments) out.push(`  [${c.author} at ${c.created_at}] ${c.text}`);
  }
  if (b.metadata) out.push('', `Metadata: ${JSON.stringify(b.metadata)}`);
  return out.join('\n');
}

/** A change by hand reaches the open convoys that track these beads, as the engine's own changes do (convoy/tell.ts). */
async function tellConvoys(beads: Bead[], what: string): Promise<void> {
  const root = findTownRoot();
  if (!root || beads.length === 0) return;
  const { tellConvoysByHand } = await import('../../convoy/tell.js');
  await tellConvoysByHand(root, beads.map((b) => b.id), what);
}

// --- commands -------------------------------------------------------------------------------

export function registerLedgerCommands(program: Command): void {
  program
    .command('init')
    .description('create a ledger (.beads/) in the current folder')
    .option('--prefix <prefix>', 'id prefix (default: derived from the folder name)')
    .option('--json', 'print JSON')
    .action(
      action((opts: { prefix?: string } & JsonOpt) => {
        const dir = join(process.cwd(), '.beads');
        if (findLedgerDir(dir)) {
          throw new GtError(`there is already a ledger in ${dir}`, { hint: 'use it as it is, or remove .beads/ first' });
        }
        const prefix = validatePrefix(opts.prefix ?? defaultPrefix(process.cwd()));
        initLedger(dir, prefix);
        if (opts.json) printJson({ dir, prefix });
        else process.stdout.write(`initialised a ledger in ${dir} (ids ${prefix}-xxxxx)\n`);
      }),
    );

  program
    .command('create')
    .description('create a bead')
    .argument('[title]', 'the title (or --title)')
    .option('--title <title>', 'the title')
    .option('-t, --type <type>', 'issue type (task, bug, feature, epic, chore, ...)')
    .option('-p, --priority <priority>', 'priority 0-4 (0 = critical), default 2')
    .option('-d, --description <text>', 'description')
    .option('--design <text>', 'design notes')
    .option('--acceptance <text>', 'acceptance criteria')
    .option('--notes <text>', 'notes')
    .option('-a, --assignee <name>', 'assignee')
    .option('--owner <name>', 'owner')
    .option('-l, --labels <labels>', 'comma-separated labels')
    .option('--parent <id>', 'parent bead: the new bead is its child <parent>.N')
    .option('--deps <deps>', 'comma-separated ids it depends on, optionally type:id (blocks, discovered-from, ...)')
    .option('--id <id>', 'explicit id')
    .option('--due <time>', 'due date (ISO, or +2d)')
    .option('--defer <time>', 'hide from ready work until (ISO, or +4h)')
    .option('--ephemeral', 'ephemeral (a wisp: never in git history)')
    .option('--metadata <json>', 'metadata as a JSON object')
    .option('--json', 'print JSON')
    .action(
      action((titleArg: string | undefined, opts: Record<string, string | boolean | undefined> & JsonOpt) => {
        if (titleArg !== undefined && opts.title !== undefined) throw usageError('give the title once: as an argument or with --title');
        const title = (titleArg ?? opts.title ?? '') as string;
        const input: CreateInput = {
          title,
          issue_type: opts.type as string | undefined,
          priority: opts.priority as string | undefined,
          description: opts.description as string | undefined,
          design: opts.design as string | undefined,
          acceptance_criteria: opts.acceptance as string | undefined,
          notes: opts.notes as string | undefined,
          assignee: opts.assignee as string | undefined,
          owner: opts.owner as string | undefined,
          labels: splitList(opts.labels as string | undefined),
          parent: opts.parent as string | undefined,
          deps: parseDeps(opts.deps as string | undefined),
          id: (opts.id as string | undefined)?.toLowerCase(),
          due_at: opts.due as string | undefined,
          defer_until: opts.defer as string | undefined,
          ephemeral: opts.ephemeral === true,
          metadata: opts.metadata === undefined ? undefined : (parseJsonArg(opts.metadata as string) as Record<string, unknown>),
        };
        const ledger = input.id ? ledgerFor(input.id) : input.parent ? ledgerFor(input.parent as string) : cwdLedger();
        const bead = ledger.create(input);
        if (opts.json) printJson(bead);
        else process.stdout.write(`created ${bead.id}: ${bead.title}\n`);
      }),
    );

  program
    .command('list')
    .description('list beads (not closed or deleted ones unless --all or --status)')
    .option('-s, --status <statuses>', 'comma-separated statuses')
    .option('-t, --type <types>', 'comma-separated issue types')
    .option('-a, --assignee <name>', 'assigned to')
    .option('-l, --label <labels>', 'carrying all these comma-separated labels')
    .option('-p, --priority <priority>', 'priority 0-4')
    .option('--parent <id>', 'children of this bead')
    .option('--all', 'include closed beads and deleted ones (tombstones, from an import of the original)')
    .option('-n, --limit <n>', 'at most n beads')
    .option('--json', 'print JSON')
    .action(
      action((opts: Record<string, string | boolean | undefined> & JsonOpt) => {
        const statuses = splitList(opts.status as string | undefined).map(parseStatusFilter);
        const types = splitList(opts.type as string | undefined).map(parseTypeFilter);
        const labels = splitList(opts.label as string | undefined).map(validateLabel);
        const priority = opts.priority === undefined ? undefined : parsePriority(opts.priority);
        const limit = parseCount('--limit', opts.limit as string | undefined);
        const ledger = opts.parent ? ledgerFor(opts.parent as string) : cwdLedger();
        const beads = ledger.listSummaries({
          status: statuses.length ? statuses : undefined,
          issue_type: types.length ? types : undefined,
          assignee: opts.assignee as string | undefined,
          labels,
          priority,
          parent: opts.parent as string | undefined,
          all: opts.all === true,
          limit,
        });
        if (opts.json) process.stdout.write(ledger.jsonArray(beads));
        else printList(beads.map((b) => ledger.get(b.id)), 'no beads match');
      }),
    );

  program
    .command('show')
    .description('show beads in full')
    .argument('<ids...>', 'bead ids (a unique start of an id is enough)')
    .option('--json', 'print JSON')
    .action(
      action((ids: string[], opts: JsonOpt) => {
        const items = resolveAll(ids);
        if (opts.json) {
          printJson(
            items.map(({ ledger, id }) => {
              const b = ledger.get(id);
              return { ...b, parent: parentOf(b), dependents: ledger.dependents(id), blocked_by: isActive(b) ? ledger.blockersOf(id) : [] };
            }),
          );
        } else {
          process.stdout.write(items.map(({ ledger, id }) => showText(ledger, ledger.get(id))).join('\n\n') + '\n');
        }
      }),
    );

  program
    .command('update')
    .description('change beads')
    .argument('<ids...>', 'bead ids')
    .option('-s, --status <status>', 'new status')
    .option('--claim', 'claim atomically: assign to yourself and set in_progress (only an open, unassigned bead)')
    .option('-a, --assignee <name>', 'assignee ("" to clear)')
    .option('--owner <name>', 'owner ("" to clear)')
    .option('--title <title>', 'new title')
    .option('-d, --description <text>', 'new description')
    .option('--design <text>', 'new design notes')
    .option('--acceptance <text>', 'new acceptance criteria')
    .option('--notes <text>', 'replace the notes')
    .option('--append-notes <text>', 'add a line to the notes')
    .option('-p, --priority <priority>', 'new priority 0-4')
    .option('-t, --type <type>', 'new issue type')
    .option('--add-label <label>', 'add a label (repeatable)', collect)
    .option('--remove-label <label>', 'remove a label (repeatable)', collect)
    .option('--due <time>', 'due date ("" to clear)')
    .option('--defer <time>', 'defer until ("" to clear)')
    .option('--metadata <json>', 'replace metadata (JSON object)')
    .option('-r, --reason <text>', 'close reason (with -s closed)')
    .option('--force', 'with -s closed: close even with open blockers')
    .option('--json', 'print JSON')
    .action(
      action(async (ids: string[], opts: Record<string, string | string[] | boolean | undefined> & JsonOpt) => {
        const str = (k: string) => opts[k] as string | undefined;
        const patch: UpdatePatch = {
          title: str('title'),
          description: str('description'),
          design: str('design'),
          acceptance_criteria: str('acceptance'),
          notes: str('notes'),
          append_notes: str('appendNotes'),
          status: str('status') === undefined ? undefined : parseSettableStatus(str('status')),
          priority: str('priority') === undefined ? undefined : parsePriority(str('priority')),
          issue_type: str('type') === undefined ? undefined : parseIssueType(str('type')),
          assignee: str('assignee'),
          owner: str('owner'),
          due_at: str('due'),
          defer_until: str('defer'),
          metadata: str('metadata') === undefined ? undefined : (parseJsonArg(str('metadata')!) as Record<string, unknown>),
          add_labels: ((opts.addLabel as string[] | undefined) ?? []).map(validateLabel),
          remove_labels: ((opts.removeLabel as string[] | undefined) ?? []).map(validateLabel),
          close_reason: str('reason'),
          force: opts.force === true,
        };
        const claim = opts.claim === true;
        if (claim && patch.assignee !== undefined) throw usageError('--claim assigns the bead to you; leave out --assignee');
        const groups = byLedger(resolveAll(ids));
        const out: Bead[] = [];
        for (const [ledger, list] of groups) {
          out.push(
            ...ledger.transaction((tx) =>
              list.map((id) => {
                if (claim) tx.claim(id);
                return tx.update(id, patch);
              }),
            ),
          );
        }
        if (opts.json) printJson(out);
        else for (const b of out) process.stdout.write(`updated ${b.id}: ${b.status}${b.assignee ? ` @${b.assignee}` : ''}\n`);
        await tellConvoys(out, 'bd update');
      }),
    );

  program
    .command('close')
    .description('close beads (refused while they have open blockers, unless --force)')
    .argument('<ids...>', 'bead ids')
    .option('-r, --reason <text>', 'why it is closed')
    .option('--force', 'close even with open blockers')
    .option('--json', 'print JSON')
    .action(
      action(async (ids: string[], opts: { reason?: string; force?: boolean } & JsonOpt) => {
        const out: Bead[] = [];
        for (const [ledger, list] of byLedger(resolveAll(ids))) {
          out.push(...ledger.transaction((tx) => list.map((id) => tx.close(id, { reason: opts.reason, force: opts.force }))));
        }
        if (opts.json) printJson(out);
        else for (const b of out) process.stdout.write(`closed ${b.id}: ${b.title}\n`);
        await tellConvoys(out, 'bd close');
      }),
    );

  program
    .command('reopen')
    .description('reopen closed beads')
    .argument('<ids...>', 'bead ids')
    .option('-r, --reason <text>', 'why it is reopened')
    .option('--json', 'print JSON')
    .action(
      action(async (ids: string[], opts: { reason?: string } & JsonOpt) => {
        const out: Bead[] = [];
        for (const [ledger, list] of byLedger(resolveAll(ids))) {
          out.push(...ledger.transaction((tx) => list.map((id) => tx.reopen(id, opts.reason))));
        }
        if (opts.json) printJson(out);
        else for (const b of out) process.stdout.write(`reopened ${b.id}: ${b.title}\n`);
        await tellConvoys(out, 'bd reopen');
      }),
    );

  program
    .command('ready')
    .description('ready work: open, unblocked, not deferred; by priority then age')
    .option('-n, --limit <n>', 'at most n beads')
    .option('-a, --assignee <name>', 'only beads assigned to this name')
    .option('--unassigned', 'only unassigned beads')
    .option('--json', 'print JSON')
    .action(
      action((opts: { limit?: string; assignee?: string; unassigned?: boolean } & JsonOpt) => {
        const limit = parseCount('--limit', opts.limit);
        const ledger = cwdLedger();
        // Stored lines as they are (from the ready index when it holds): no bead is parsed.
        if (opts.json) return void process.stdout.write(ledger.readyJson({ assignee: opts.assignee, unassigned: opts.unassigned, limit }));
        // Summaries, not whole beads: at 10k beads parsing every ready bead would double the time.
        let ready = ledger.readySummaries();
        if (opts.assignee !== undefined) ready = ready.filter((b) => b.assignee === opts.assignee);
        if (opts.unassigned) ready = ready.filter((b) => !b.assignee);
        if (limit !== undefined) ready = ready.slice(0, limit);
        printList(ready.map((b) => ledger.get(b.id)), 'no ready work');
      }),
    );

  program
    .command('blocked')
    .description('beads held up by open blockers')
    .option('--json', 'print JSON')
    .action(
      action((opts: JsonOpt) => {
        const beads: BlockedBead[] = cwdLedger().blocked();
        if (opts.json) printJson(beads);
        else if (!beads.length) process.stdout.write('nothing is blocked\n');
        else for (const b of beads) process.stdout.write(`${line(b)}\n    blocked by: ${b.blocked_by.join(', ') || `(status ${b.status})`}\n`);
      }),
    );

  registerDepCommands(program);
  registerLabelCommands(program);
  registerCommentCommands(program);

  program
    .command('search')
    .description('find beads whose id, title, description or notes contain the text')
    .argument('<text>', 'text to look for (case-insensitive)')
    .option('-s, --status <statuses>', 'comma-separated statuses')
    .option('-t, --type <types>', 'comma-separated issue types')
    .option('-n, --limit <n>', 'at most n beads')
    .option('--all', 'include deleted beads (tombstones)')
    .option('--json', 'print JSON')
    .action(
      action((text: string, opts: { status?: string; type?: string; limit?: string; all?: boolean } & JsonOpt) => {
        const statuses = splitList(opts.status).map(parseStatusFilter);
        const types = splitList(opts.type).map(parseTypeFilter);
        const limit = parseCount('--limit', opts.limit);
        let beads = cwdLedger().search(text, {
          status: statuses.length ? statuses : undefined,
          issue_type: types.length ? types : undefined,
          all: opts.all === true,
        });
        if (limit !== undefined) beads = beads.slice(0, limit);
        if (opts.json) printJson(beads);
        else printList(beads, 'no beads match');
      }),
    );

  program
    .command('stats')
    .description('counts by status and type, ready and blocked work')
    .option('--json', 'print JSON')
    .action(
      action((opts: JsonOpt) => {
        const s = cwdLedger().stats();
        if (opts.json) return printJson(s);
        const lines = [`total: ${s.total}   ready: ${s.ready}   blocked: ${s.blocked}   ephemeral: ${s.ephemeral}`];
        lines.push('by status: ' + Object.entries(s.by_status).map(([k, v]) => `${k} ${v}`).join(', '));
        lines.push('by type: ' + (Object.entries(s.by_type).map(([k, v]) => `${k} ${v}`).join(', ') || '-'));
        if (s.average_lead_time_hours !== null) lines.push(`average lead time: ${s.average_lead_time_hours} h`);
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );

  program
    .command('export')
    .description("write the ledger as JSONL in the original Beads export format")
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--all', 'include ephemeral beads')
    .option('--json', 'print a JSON summary (with -o)')
    .action(
      action((opts: { output?: string; all?: boolean } & JsonOpt) => {
        const ledger = cwdLedger();
        const text = ledger.exportJsonl({ all: opts.all });
        if (!opts.output) {
          process.stdout.write(text);
          return;
        }
        const file = resolve(opts.output);
        writeFileAtomic(file, text);
        const count = text ? text.split('\n').length - 1 : 0;
        if (opts.json) printJson({ file, exported: count });
        else process.stderr.write(`exported ${count} beads to ${file}\n`);
      }),
    );

  program
    .command('import')
    .description('import a JSONL export (of the original Beads or of bd export): new beads are added; for a known id the newer updated_at wins')
    .argument('[file]', 'the JSONL file')
    .option('-i, --input <file>', 'the JSONL file')
    .option('--json', 'print JSON')
    .action(
      action((fileArg: string | undefined, opts: { input?: string } & JsonOpt) => {
        const given = fileArg ?? opts.input;
        if (!given) throw usageError('name the file to import', 'bd import issues.jsonl');
        const file = resolve(given);
        if (!existsSync(file)) throw new GtError(`no such file: ${file}`, { hint: 'check the path' });
        const result = cwdLedger().importJsonl(readFileSync(file, 'utf8'), file);
        if (opts.json) return printJson(result);
        const out = [`imported ${file}: ${result.added} added, ${result.updated} updated, ${result.unchanged} unchanged, ${result.skipped} skipped`];
        for (const s of result.skips.slice(0, 10)) out.push(`  skipped line ${s.line}${s.id ? ` (${s.id})` : ''}: ${s.reason}`);
        if (result.skips.length > 10) out.push(`  ... and ${result.skips.length - 10} more (--json lists them all)`);
        process.stdout.write(out.join('\n') + '\n');
      }),
    );

  program
    .command('prime')
    .description('markdown context for an agent: how to use bd and the ready work')
    .option('--json', 'print JSON')
    .action(
      action((opts: JsonOpt) => {
        const ledger = cwdLedger();
        const md = primeMarkdown(ledger, currentActor());
        if (opts.json) printJson({ ledger: ledger.dir, prefix: ledger.prefix, actor: currentActor(), markdown: md });
        else process.stdout.write(md);
      }),
    );
}

function registerDepCommands(program: Command): void {
  const dep = program.command('dep').description('dependencies between beads');
  dep
    .command('add')
    .description('make <id> depend on <depends-on> (by default: <depends-on> blocks <id>)')
    .argument('<id>', 'the dependent bead')
    .argument('<depends-on>', 'what it depends on')
    .option('-t, --type <type>', `blocks (default); also holding work back: parent-child, waits-for, conditional-blocks; only a relation: ${NON_BLOCKING_DEP_TYPES.join(', ')}`)
    .option('--gate <gate>', 'for waits-for: all-children (default) or any-children')
    .option('--json', 'print JSON')
    .action(
      action((id: string, target: string, opts: { type?: string; gate?: string } & JsonOpt) => {
        const type = parseDepType(opts.type ?? 'blocks');
        const ledger = ledgerFor(id);
        const targetId = resolveTargetAcrossLedgers(ledger, target);
        const d = ledger.addDependency(id, targetId, type, { gate: opts.gate as 'all-children' | 'any-children' | undefined });
        if (opts.json) printJson(d);
        else process.stdout.write(`${d.issue_id} now depends on ${d.depends_on_id} (${d.type})\n`);
      }),
    );
  dep
    .command('remove')
    .description('remove the dependency of <id> on <depends-on>')
    .argument('<id>', 'the dependent bead')
    .argument('<depends-on>', 'what it depends on')
    .option('-t, --type <type>', 'only this type')
    .option('--json', 'print JSON')
    .action(
      action((id: string, target: string, opts: { type?: string } & JsonOpt) => {
        const type = opts.type === undefined ? undefined : parseDepType(opts.type);
        const gone = ledgerFor(id).removeDependency(id, target, type);
        if (opts.json) printJson(gone);
        else for (const d of gone) process.stdout.write(`removed ${d.issue_id} → ${d.depends_on_id} (${d.type})\n`);
      }),
    );
  dep
    .command('list')
    .description('what a bead depends on, and what depends on it')
    .argument('<id>', 'bead id')
    .option('--json', 'print JSON')
    .action(
      action((id: string, opts: JsonOpt) => {
        const ledger = ledgerFor(id);
        const b = ledger.get(id);
        const dependencies = b.dependencies ?? [];
        const dependents = ledger.dependents(b.id);
        if (opts.json) return printJson({ id: b.id, dependencies, dependents });
        const out = [`${b.id}: ${b.title}`];
        out.push(dependencies.length ? 'depends on:' : 'depends on nothing');
        for (const d of dependencies) out.push(`  → ${d.depends_on_id} (${d.type}) ${ledger.tryGet(d.depends_on_id)?.status ?? ''}`.trimEnd());
        out.push(dependents.length ? 'depended on by:' : 'nothing depends on it');
        for (const d of dependents) out.push(`  ← ${d.issue_id} (${d.type}) ${ledger.tryGet(d.issue_id)?.status ?? ''}`.trimEnd());
        process.stdout.write(out.join('\n') + '\n');
      }),
    );
  dep
    .command('tree')
    .description('the tree of what a bead depends on')
    .argument('<id>', 'bead id')
    .option('--format <format>', 'text (default) or mermaid')
    .option('--max-depth <n>', 'stop at this depth', '20')
    .option('--json', 'print JSON')
    .action(
      action((id: string, opts: { format?: string; maxDepth?: string } & JsonOpt) => {
        const format = opts.format ?? 'text';
        if (format !== 'text' && format !== 'mermaid') throw usageError(`unknown format "${format}"`, 'use text or mermaid');
        const maxDepth = parseCount('--max-depth', opts.maxDepth) ?? 20;
        const ledger = ledgerFor(id);
        const nodes = depTree(ledger, ledger.resolveId(id), maxDepth);
        if (opts.json) return printJson(nodes);
        if (format === 'mermaid') return void process.stdout.write(mermaid(ledger, nodes));
        const out = nodes.map((n) => {
          const b = ledger.tryGet(n.id);
          const label = b ? `${n.id} [${b.status}] ${b.title}` : `${n.id} (not in this ledger)`;
          return `${'  '.repeat(n.depth)}${n.depth ? `└─ (${n.edge}) ` : ''}${label}${n.repeated ? ' (see above)' : ''}`;
        });
        process.stdout.write(out.join('\n') + '\n');
      }),
    );
  dep
    .command('cycles')
    .description('cycles through blocking dependencies (only possible through hand edits or merges)')
    .option('--json', 'print JSON')
    .action(
      action((opts: JsonOpt) => {
        const cycles = cwdLedger().cycles();
        if (opts.json) printJson(cycles);
        else if (!cycles.length) process.stdout.write('no dependency cycles\n');
        else for (const c of cycles) process.stdout.write(`cycle: ${[...c, c[0]].join(' → ')}\n`);
      }),
    );
}

/** A dependency target in another ledger of the town must exist there; then it is taken as given. */
function resolveTargetAcrossLedgers(ledger: Ledger, target: string): string {
  const t = target.trim().toLowerCase();
  const other = ledgerFor(t);
  if (other.dir === ledger.dir) return t;
  return other.resolveId(t);
}

interface TreeNode {
  id: string;
  depth: number;
  parent_id?: string;
  edge?: DepType;
  repeated?: boolean;
}

function depTree(ledger: Ledger, root: string, maxDepth: number): TreeNode[] {
  const out: TreeNode[] = [];
  const seen = new Set<string>();
  const walk = (id: string, depth: number, parent?: string, edge?: DepType) => {
    const repeated = seen.has(id);
    out.push({ id, depth, parent_id: parent, edge, ...(repeated ? { repeated } : {}) });
    if (repeated || depth >= maxDepth) return;
    seen.add(id);
    for (const d of ledger.tryGet(id)?.dependencies ?? []) walk(d.depends_on_id, depth + 1, id, d.type);
  };
  walk(root, 0);
  return out;
}

function mermaid(ledger: Ledger, nodes: TreeNode[]): string {
  const key = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
  const lines = ['flowchart TD'];
  const declared = new Set<string>();
  for (const n of nodes) {
    if (!declared.has(n.id)) {
      declared.add(n.id);
      const b = ledger.tryGet(n.id);
      const text = b ? `${n.id}: ${b.title} (${b.status})` : n.id;
      lines.push(`  ${key(n.id)}["${text.replace(/"/g, '#quot;')}"]`);
    }
    if (n.parent_id) lines.push(`  ${key(n.parent_id)} -->|${n.edge}| ${key(n.id)}`);
  }
  return [...new Set(lines)].join('\n') + '\n';
}

function registerLabelCommands(program: Command): void {
  const label = program.command('label').description('labels on beads');
  for (const verb of ['add', 'remove'] as const) {
    label
      .command(verb)
      .description(`${verb} a label: bd label ${verb} <id...> <label>`)
      .argument('<ids-and-label...>', 'one or more bead ids, then the label')
      .option('--json', 'print JSON')
      .action(
        action((args: string[], opts: JsonOpt) => {
          if (args.length < 2) throw usageError(`name the beads and the label: bd label ${verb} <id...> <label>`);
          const name = validateLabel(args[args.length - 1]);
          const out: Bead[] = [];
          for (const [ledger, list] of byLedger(resolveAll(args.slice(0, -1)))) {
            out.push(...ledger.transaction((tx) => list.map((id) => (verb === 'add' ? tx.addLabel(id, name) : tx.removeLabel(id, name)))));
          }
          if (opts.json) printJson(out);
          else for (const b of out) process.stdout.write(`${b.id}: ${b.labels?.join(', ') || '(no labels)'}\n`);
        }),
      );
  }
  label
    .command('list')
    .description('labels of a bead, or every label in the ledger with its count')
    .argument('[id]', 'bead id')
    .option('--json', 'print JSON')
    .action(
      action((id: string | undefined, opts: JsonOpt) => {
        if (id !== undefined) {
          const labels = ledgerFor(id).get(id).labels ?? [];
          if (opts.json) printJson(labels);
          else process.stdout.write(labels.length ? labels.join('\n') + '\n' : '(no labels)\n');
          return;
        }
        const counts = new Map<string, number>();
        for (const b of cwdLedger().all()) for (const l of b.labels ?? []) counts.set(l, (counts.get(l) ?? 0) + 1);
        const rows = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([name, count]) => ({ label: name, count }));
        if (opts.json) printJson(rows);
        else process.stdout.write(rows.length ? rows.map((r) => `${r.label} (${r.count})`).join('\n') + '\n' : '(no labels)\n');
      }),
    );
}

function registerCommentCommands(program: Command): void {
  const comments = program
    .command('comments')
    .description('comments of a bead; `bd comments add <id> <text>` adds one')
    .argument('[id]', 'bead id')
    .option('--json', 'print JSON')
    .action(
      action((id: string | undefined, opts: JsonOpt) => {
        if (id === undefined) throw usageError('name the bead: bd comments <id>, or bd comments add <id> <text>');
        const list = ledgerFor(id).get(id).comments ?? [];
        if (opts.json) printJson(list);
        else process.stdout.write(list.length ? list.map((c) => `[${c.author} at ${c.created_at}] ${c.text}`).join('\n') + '\n' : '(no comments)\n');
      }),
    );
  comments
    .command('add')
    .description('add a comment')
    .argument('<id>', 'bead id')
    .argument('<text>', 'the comment')
    .option('--json', 'print JSON')
    .action(
      action((id: string, text: string, opts: JsonOpt) => {
        const c = ledgerFor(id).addComment(id, text);
        // `--json` after the subcommand may be taken by the parent `comments` command.
        if (opts.json || comments.opts().json) printJson(c);
        else process.stdout.write(`commented on ${c.issue_id}\n`);
      }),
    );
}

function parseJsonArg(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`not valid JSON: ${(err as Error).message}`, `give a JSON object, e.g. '{"key":"value"}'`);
  }
}

/** A prefix from the folder name: its lowercase letters and digits, or "bd". */
function defaultPrefix(cwd: string): string {
  const p = basename(cwd).toLowerCase().replace(/[^a-z0-9]+/g, '').slice(0, 12);
  return PREFIX_RE.test(p) ? p : 'bd';
}
