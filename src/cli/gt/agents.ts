import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { requireTownRoot } from '../../town/layout.js';
import { action, printJson } from '../run.js';
import { currentActor } from '../../actor.js';
import type { JsonHookRuntime } from '../../town/integrations.js';

/** Who am I and who else is working: `gt whoami`, `gt prime`, `gt agents`, `gt polecat list|nuke`. */

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function registerAgentCommands(program: Command): void {
  program
    .command('whoami')
    .description('the agent identity of this shell: from GT_ROLE/GT_RIG/GT_POLECAT, else from the folder')
    .option('--json', 'print as JSON')
    .action(action(async (opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { currentIdentity } = await import('../../polecat/identity.js');
      const me = currentIdentity(root);
      if (opts.json) return printJson({ ...me, town: root });
      process.stdout.write(`${me.address} (role ${me.role}${me.rig ? `, rig ${me.rig}` : ''}; from ${me.source === 'env' ? 'GT_* environment' : 'the current folder'})\n`);
    }));

  program
    .command('prime')
    .description('context for an agent: its role, the bead on its hook and that bead\'s work checklist')
    .option('--json', 'print the hook and checklist as JSON')
    .option('--hook [runtime]', 'run as an agent runtime\'s hook (SessionStart, PreCompact; Gemini CLI\'s SessionStart, PreCompress, AfterTool): read the hook\'s JSON on stdin, note the session for `gt costs`, print the context to inject (`gemini`: as the JSON Gemini CLI reads)')
    .action(action(async (opts: { json?: boolean; hook?: boolean | string }) => {
      const root = requireTownRoot();
      const { hookView, primeText } = await import('../../polecat/view.js');
      if (opts.hook) {
        const { JSON_HOOK_RUNTIMES, hookReply } = await import('../../town/integrations.js');
        const format = typeof opts.hook === 'string' ? opts.hook : undefined;
        if (format !== undefined && !(JSON_HOOK_RUNTIMES as readonly string[]).includes(format)) throw usageError(`--hook "${format}" is not a runtime whose hooks take JSON`, `give --hook alone (Claude Code: plain text) or --hook ${JSON_HOOK_RUNTIMES.join(' | ')}`);
        const fmt = format as JsonHookRuntime | undefined;
        const { readHookInput, recordSession } = await import('../../costs/sessions.js');
        const { currentIdentity } = await import('../../polecat/identity.js');
        const input = readHookInput();
        const event = input.hook_event_name ?? 'SessionStart';
        const { existsSync, rmSync, writeFileSync } = await import('node:fs');
        // Set when Gemini CLI's PreCompress saw a compaction; the next AfterTool hook carries the context (and until then answers nothing).
        const reprime = process.env.GT_REPRIME_FILE;
        if (fmt && event === 'AfterTool' && !(reprime && existsSync(reprime))) return void process.stdout.write(hookReply(fmt, event, ''));
        const me = currentIdentity(root);
        try {
          recordSession(root, me.address, input, process.env, format);
        } catch {
          // costs are a record; the context matters more to the agent
        }
        const compacting = event === 'PreCompact' || event === 'PreCompress';
        const why = input.source === 'compact' || compacting ? 'after a compaction' : event === 'AfterTool' ? 'after a compression' : input.source === 'resume' ? 'on resume' : input.source === 'clear' ? 'after /clear' : 'at session start';
        const context = () => `<!-- Gas Town context (gt prime ${why}) -->\n${primeText(root, process.cwd())}`;
        if (!fmt) return void process.stdout.write(context());
        // Gemini CLI's PreCompress cannot add to the context: the compaction is noted for the next AfterTool hook.
        if (event === 'PreCompress') {
          if (reprime) writeFileSync(reprime, `${new Date().toISOString()}\n`);
          return void process.stdout.write(hookReply(fmt, event, '', 'Gas Town: the role and hook come back with the next tool result'));
        }
        if (reprime) rmSync(reprime, { force: true });
        let mail = '';
        if (event === 'SessionStart') {
          const { inbox } = await import('../../mail/mail.js');
          const { injectText } = await import('./mail.js');
          mail = injectText(me.address, inbox(root, me.address, { unreadOnly: true }));
        }
        process.stdout.write(hookReply(fmt, event, context() + mail));
        return;
      }
      if (opts.json) {
        const view = hookView(root, process.cwd());
        const { workChecklist, DEFAULT_WORK_FORMULA } = await import('../../polecat/checklist.js');
        const checklist = view.bead && view.rig && view.role === 'polecat' ? workChecklist(root, view.rig, view.bead.id, view.formula ?? DEFAULT_WORK_FORMULA, view.vars ?? {}) : null;
        return printJson({ ...view, checklist });
      }
      process.stdout.write(primeText(root, process.cwd()));
    }));

  const listAction = action(async (rig: string | undefined, opts: { json?: boolean }) => {
    const root = requireTownRoot();
    const { listPolecats } = await import('../../polecat/view.js');
    const list = listPolecats(root, rig);
    if (opts.json) return printJson(list);
    if (list.length === 0) {
      process.stdout.write(`No polecats${rig ? ` in rig ${rig}` : ''} yet. gt sling <bead> <rig> makes one.\n`);
      return;
    }
    const rows = [['AGENT', 'STATE', 'BEAD', 'SESSION'], ...list.map((p) => [p.address, p.state, p.bead ?? '-', p.sessionAlive ? p.session! : '-'])];
    process.stdout.write(table(rows));
    for (const p of list) {
      if (p.awaiting) process.stdout.write(`${p.address} waits at a ${p.awaiting.kind} prompt since ${p.awaiting.since.slice(11, 19)}: ${p.awaiting.text}${p.awaiting.escalatedAt ? ' (the Mayor was told)' : p.awaiting.answeredWith ? ` (answered with ${p.awaiting.answeredWith})` : ''}\n`);
    }
  });

  program
    .command('agents [rig]')
    .description('the town\'s worker agents (polecats) with their hooks and sessions')
    .option('--json', 'print as JSON')
    .action(listAction);

  const polecat = program.command('polecat').description('the worker agents of a rig');
  polecat
    .command('list [rig]')
    .description('polecats (all rigs, or one): working or idle, hooked bead, tmux session')
    .option('--json', 'print as JSON')
    .action(listAction);
  polecat
    .command('nuke <polecat>')
    .description('end a polecat: stop its workflow and session, remove its worktree (branches stay); <polecat> is <rig>/<name> or <rig>/polecats/<name>')
    .option('--force', 'also when a bead is on its hook (the bead goes back to open)')
    .option('--json', 'print the result as JSON')
    .action(action(async (target: string, opts: { force?: boolean; json?: boolean }) => {
      const m = /^([^/]+)\/(?:polecats\/)?([^/]+)$/.exec(target);
      if (!m) throw usageError(`"${target}" is not a polecat`, 'write <rig>/<name>, e.g. gt polecat nuke myrig/furiosa');
      const root = requireTownRoot();
      const { validatePolecatName } = await import('../../polecat/names.js');
      validatePolecatName(m[2]!);
      const { nukePolecat } = await import('../../polecat/client.js');
      const result = await nukePolecat(root, m[1]!, m[2]!, { force: opts.force, by: currentActor() });
      if (opts.json) return printJson(result);
      process.stdout.write(`Nuked ${m[1]}/polecats/${m[2]}${result.unslung ? ` (${result.unslung} back to open)` : ''}\n`);
    }));
}
