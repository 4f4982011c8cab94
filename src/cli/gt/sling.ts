import type { Command } from 'commander';
import { readRigs, requireTownRoot } from '../../town/layout.js';
import { action, collect, printJson } from '../run.js';
import { parseVars } from '../bd/cook.js';
import { currentActor } from '../../actor.js';

/**
 * The bead's life on a hook: `gt sling` hands beads to polecats, `gt hook` shows (or takes) the
 * current agent's hook, `gt done` ends a polecat's work, `gt handoff` asks for a fresh session,
 * `gt unsling` takes a bead back. The engine client is loaded only by commands that need it.
 */


export function registerSlingCommands(program: Command): void {
  program
    .command('sling <args...>')
    .usage('<bead…> [<rig> | <rig>/<polecat>] [options]')
    .description('hand beads to polecats of a rig (default: the rig of the beads\' prefix), or to one named polecat: each gets a worktree, a branch and an agent session')
    .option('--agent <name>', 'agent runtime for these polecats (default: the rig\'s or town\'s polecat agent)')
    .option('--formula <name>', 'work checklist formula shown by gt prime (default: mol-polecat-work)')
    .option('--var <name=value>', 'a var for the formula (repeatable)', collect, [])
    .option('--headless', 'run the agent as a background process instead of in a tmux session')
    .option('--force', 'sling a bead whose prefix belongs to another rig (or the town)')
    .option('--no-convoy', 'do not put the slung beads in a new convoy (by default those not already in one travel in one, which lands and tells you when they are merged)')
    .option('--json', 'print the result as JSON')
    .action(action(async (args: string[], opts: { agent?: string; formula?: string; var: string[]; headless?: boolean; force?: boolean; convoy?: boolean; json?: boolean }) => {
      const root = requireTownRoot();
      const vars = parseVars(opts.var);
      const { sling, slingTarget } = await import('../../polecat/client.js');
      const { rig, polecat, beads } = slingTarget(root, args);
      const slung = await sling(root, { beads, rig, polecat, agent: opts.agent, formula: opts.formula, vars, headless: opts.headless, force: opts.force, by: currentActor() });
      let convoy: string | undefined;
      if (opts.convoy !== false) {
        // The work is handed over already; a convoy that cannot be made is worth a warning, not a failure.
        try {
          const { convoyForSling } = await import('../../convoy/client.js');
          convoy = (await convoyForSling(root, slung, rig, currentActor()))?.convoy;
        } catch (err) {
          process.stderr.write(`warning: the beads were slung, but no convoy tracks them: ${(err as Error).message}\n`);
        }
      }
      if (opts.json) return printJson(slung.map((s) => (convoy ? { ...s, convoy } : s)));
      for (const s of slung) process.stdout.write(`Slung ${s.bead} to ${s.address} (branch ${s.branch})\n`);
      if (convoy) process.stdout.write(`Convoy ${convoy} tracks them: gt convoy status ${convoy}\n`);
      const { attachCommand } = await import('../../activities/tmux.js');
      const prefix = readRigs(root).rigs[rig]!.prefix;
      process.stdout.write(`Watch: gt polecat list ${rig}${opts.headless ? '' : `; attach: ${slung.map((s) => attachCommand(root, `${prefix}-${s.polecat}`)).join(' | ')}`}\n`);
    }));

  program
    .command('hook [bead]')
    .description('show the bead on your hook (found from GT_* or the folder you are in); with a bead, put it on your own hook')
    .option('--json', 'print as JSON')
    .action(action(async (beadArg: string | undefined, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { attachHook, hookView } = await import('../../polecat/view.js');
      if (beadArg) {
        const bead = attachHook(root, process.cwd(), beadArg, currentActor());
        if (opts.json) return printJson(bead);
        process.stdout.write(`${bead.id} is on the hook of ${bead.assignee}\n`);
        return;
      }
      const view = hookView(root, process.cwd());
      if (opts.json) return printJson(view);
      if (!view.bead) {
        process.stdout.write(`Nothing on the hook of ${view.agent}.\n`);
        return;
      }
      process.stdout.write(`${view.agent}: ${view.bead.id} ${view.bead.title} [${view.bead.status}]\n`);
      if (view.branch) process.stdout.write(`  branch ${view.branch}${view.attempt ? `, session ${view.attempt}` : ''}\n`);
      if (view.handoff) process.stdout.write(`  handoff: ${view.handoff}\n`);
    }));

  program
    .command('done')
    .description('inside a polecat worktree: finish the hooked bead (send the branch to the merge queue) and release the hook')
    .option('--status <status>', 'COMPLETED (default), ESCALATED (needs a person) or DEFERRED (not now)')
    .option('-m, --message <text>', 'a note for the bead')
    .option('--json', 'print the receipt as JSON')
    .action(action(async (opts: { status?: string; message?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { done } = await import('../../polecat/finish.js');
      const receipt = await done(root, process.cwd(), { status: opts.status, message: opts.message });
      if (opts.json) return printJson(receipt);
      if (receipt.status === 'COMPLETED') process.stdout.write(`${receipt.bead}: branch ${receipt.branch} sent to ${receipt.mergeQueue}; hook released\n`);
      else process.stdout.write(`${receipt.bead}: ${receipt.status.toLowerCase()}; hook released\n`);
    }));

  program
    .command('handoff')
    .description('polecat: end this session and start a fresh one in the same worktree, with a note for it')
    .option('-m, --message <note>', 'what the next session should know')
    .option('--json', 'print the receipt as JSON')
    .action(action(async (opts: { message?: string; json?: boolean }) => {
      const root = requireTownRoot();
      const { handoff } = await import('../../polecat/finish.js');
      const receipt = await handoff(root, process.cwd(), opts.message);
      if (opts.json) return printJson(receipt);
      process.stdout.write(`Handing off ${receipt.bead}: session ${receipt.attempt} ends, a fresh one starts in the same worktree\n`);
    }));

  program
    .command('unsling [bead]')
    .description('take a bead off its hook (back to open) and stop the polecat working it; without a bead, your own hook')
    .option('--json', 'print the result as JSON')
    .action(action(async (beadArg: string | undefined, opts: { json?: boolean }) => {
      const root = requireTownRoot();
      const { unsling } = await import('../../polecat/client.js');
      const result = await unsling(root, process.cwd(), beadArg, currentActor());
      if (opts.json) return printJson(result);
      process.stdout.write(`${result.bead} taken off the hook of ${result.from} (now ${result.status})\n`);
      if (result.convoys) process.stdout.write(`Convoy ${result.convoys.join(', ')} will hand it out again; to keep it back: bd update ${result.bead} --status deferred\n`);
    }));
}
