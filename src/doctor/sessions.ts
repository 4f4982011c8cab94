import { killSession, tmux, tmuxArgs, tmuxAvailable } from '../activities/tmux.js';
import { polecatWorkflowId } from '../temporal/merge-protocol.js';
import { MAYOR_SESSION } from '../tmux/agents.js';
import { polecatView } from './engine-view.js';
import { ok, problem, type CheckResult, type DoctorContext } from './types.js';

/**
 * The town's tmux server: every `<rig prefix>-<polecat>` session has a polecat workflow working
 * a bead behind it. The Mayor's (`gt-mayor`) and crew sessions (`<prefix>-crew-<name>`) belong to
 * people and are left alone.
 */

async function sessions(ctx: DoctorContext): Promise<string[] | undefined> {
  if (!tmuxAvailable()) return undefined;
  try {
    return (await tmux(ctx.root, ['list-sessions', '-F', '#{session_name}'])).split('\n').filter(Boolean);
  } catch (err) {
    // No server running is no session.
    if (/no server running|error connecting|No such file/i.test(String((err as { stderr?: string }).stderr ?? (err as Error).message))) return [];
    throw err;
  }
}

export async function checkSessions(ctx: DoctorContext): Promise<CheckResult[]> {
  const list = await sessions(ctx);
  const server = tmuxArgs(ctx.root).join(' ');
  if (list === undefined) return [problem('sessions', 'tmux sessions', 'warning', 'not checked: tmux cannot be run')];
  const byPrefix = new Map(Object.entries(ctx.rigs).map(([rig, e]) => [e.prefix, rig]));
  const out: CheckResult[] = [];
  let polecats = 0;
  for (const session of list) {
    if (session === MAYOR_SESSION) continue;
    const prefix = [...byPrefix.keys()].filter((p) => session.startsWith(`${p}-`)).sort((a, b) => b.length - a.length)[0];
    const rig = prefix === undefined ? undefined : byPrefix.get(prefix);
    const polecat = session.slice((prefix?.length ?? 0) + 1);
    if (!rig || polecat.startsWith('crew-')) continue;
    polecats++;
    if (!ctx.client) continue;
    const pv = await polecatView(ctx, rig, polecat);
    if (pv.running && (!pv.state || pv.state.current)) continue;
    const why = pv.running ? `polecat workflow ${polecatWorkflowId(rig, polecat)} is idle` : `polecat workflow ${polecatWorkflowId(rig, polecat)} is not running`;
    out.push(problem('sessions', 'zombie sessions', 'error', `tmux session ${session} (tmux ${server}) runs an agent nobody watches: ${why}`, `gt doctor --fix stops it (tmux ${server} kill-session -t ${session})`, async () => {
      const again = await polecatView(ctx, rig, polecat);
      if (again.running && (!again.state || again.state.current)) return `left session ${session} running: ${rig}/polecats/${polecat} works a bead again`;
      await killSession(ctx.root, session);
      return `stopped the zombie tmux session ${session}`;
    }));
  }
  if (!ctx.client && polecats) out.push(problem('sessions', 'zombie sessions', 'warning', `${polecats} polecat session${polecats === 1 ? '' : 's'} not checked: the server cannot be reached`));
  if (out.length === 0) out.push(ok('sessions', 'zombie sessions', `${list.length} session${list.length === 1 ? '' : 's'} on tmux ${server}, ${polecats} of polecats, each with its workflow`));
  return out;
}
