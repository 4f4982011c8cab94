import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ledger } from '../beads/ledger.js';
import type { Bead } from '../beads/model.js';
import { formatDuration } from '../formula/duration.js';
import { processAlive } from '../lock.js';
import { replaceFile } from '../fsutil.js';
import { polecatRunFile, type PolecatRunInfo } from '../polecat/hook.js';
import { firstPrompt, nudgeText } from '../polecat/prompt.js';
import { agentNice, DEFAULT_AGENT_NICE, polecatLimits } from '../polecat/settings.js';
import { AGENT_STATUS_SIGNAL, polecatAddress, type AgentStatusNotice, type AwaitingInput, type DoneStatus, type PolecatLimits, type SessionsUsage, type WorkItem } from '../polecat/state.js';
import { claudeSettings, checkRuntimeFiles, geminiSettings, writeContextFile, writeGeminiSettings } from '../polecat/runtime-files.js';
import { inputHolds, lastLines, looksLikePrompt, showsReady, waitingPrompt, type RuntimeIntegration } from '../town/integrations.js';
import { engineConfig } from '../temporal/config.js';
import { polecatWorkflowId, refineryWorkflowId, type MergeRequest } from '../temporal/merge-protocol.js';
import { readRigs, readTownJson, rigPaths, townPaths } from '../town/layout.js';
import { ledgerDirForId } from '../town/routes.js';
import { buildStartCommand, chooseRuntime } from '../town/runtimes.js';
import { prepareWorktree, worktreeGitDir } from './git.js';
import { EXIT_RECORDING_WRAPPER, NICE_WRAPPER, killGroup, readNumber, remove, runChild, stopChild, tailOf } from './process.js';
import { agentBinDir } from './shims.js';
import { lazyClient } from './client.js';
import { townCaller } from '../remote/forward.js';
import { eventWriter } from './events.js';
import { newsTeller } from './dispatch.js';
import { hostEnv, townEnv } from '../town/env.js';
import { capturePane, hasSession, killSession, newSession, panePid, pasteFile, sendKeys, sendText, tmuxAvailable, tmuxSocket } from './tmux.js';
import { RELAY_ENV } from '../relay/protocol.js';
import { POLECAT_CHANGED_SIGNAL, dispatchWorkflowId, type PolecatChange } from '../dispatch/types.js';
import { relayAddress } from '../relay/server.js';

/**
 * Activities of polecat workflows: the worktree, the agent session (tmux or headless) with stall
 * detection, and the ledger changes of a bead's life. Each is safe to run again after a worker
 * died part-way (the engine retries it): ledger changes check the state first, and the agent
 * session is adopted rather than started twice.
 */

export interface PrepareInput {
  rig: string;
  name: string;
  item: WorkItem;
}

export interface Prepared {
  /** Set when the work cannot start (the bead moved on meanwhile): why. */
  skip?: string;
  worktree: string;
  branch: string;
  base: string;
  title?: string;
  session: string;
  limits: PolecatLimits;
  defaultBranch: string;
}

/** What the ledger says of a piece of work about to start: its title, or why it cannot start. */
export type Claimed = { title: string } | { skip: string };

export interface AgentInput {
  rig: string;
  name: string;
  bead: string;
  title?: string;
  worktree: string;
  branch: string;
  attempt: number;
  agent?: string;
  headless?: boolean;
  handoff?: string;
  limits: PolecatLimits;
}

/** What `gt done` changes on the bead. */
export interface ReleaseInput {
  rig: string;
  name: string;
  bead: string;
  status: DoneStatus;
  message?: string;
  branch: string;
}

export interface AgentOutcome {
  /** failed-start: it never showed its ready prompt (tail: the screen's last lines), or could not be started at all. */
  outcome: 'exited' | 'stalled' | 'failed-start';
  code?: number | null;
  tail?: string;
  nudged: boolean;
  session?: string;
}

interface WatchDetails {
  lastProgressAt: number;
  nudgedAt?: number;
  /** What the session's files looked like at that heartbeat (a retry compares). */
  sig?: string;
}

export function sessionName(prefix: string, name: string): string {
  return `${prefix}-${name}`;
}

export function polecatActivities(root: string) {
  const address = (rig: string, name: string) => polecatAddress(rig, name);
  const files = (rig: string, name: string) => {
    const run = join(townPaths(root).run, 'polecats', rig);
    return {
      log: join(townPaths(root).logs, 'polecats', rig, `${name}.log`),
      state: join(run, `${name}.agent`),
      progress: join(run, `${name}.progress`),
      prompt: join(run, `${name}.prompt`),
      settings: join(run, `${name}.claude-settings.json`),
      info: polecatRunFile(root, rig, name),
    };
  };
  const rigEntry = (rig: string) => {
    const entry = readRigs(root).rigs[rig];
    if (!entry) throw new Error(`rig ${rig} is not in mayor/rigs.json any more`);
    return entry;
  };

  const getClient = lazyClient(root);
  const tell = newsTeller(root, getClient);
  const event = eventWriter(root);

  const shimDir = join(townPaths(root).gt, 'bin');

  const agentEnv = (input: AgentInput, f: ReturnType<typeof files>): Record<string, string> => {
    const addr = address(input.rig, input.name);
    return {
      GT_ROOT: root,
      // An agent whose sandbox does not have the town folder sends its commands to the town by name.
      GT_TOWN_REMOTE: readTownJson(root).name,
      GT_RIG: input.rig,
      GT_ROLE: 'polecat',
      GT_POLECAT: input.name,
      GT_BEAD: input.bead,
      GT_ATTEMPT: String(input.attempt),
      GT_PROGRESS_FILE: f.progress,
      // Set by a hook that saw a compaction the runtime's hooks cannot answer at once (Gemini's PreCompress): the next hook that can re-primes.
      GT_REPRIME_FILE: `${f.state}.reprime`,
      BD_ACTOR: addr,
      GIT_AUTHOR_NAME: addr,
      GIT_COMMITTER_NAME: addr,
      GIT_AUTHOR_EMAIL: `${input.rig}.${input.name}@gastown.local`,
      GIT_COMMITTER_EMAIL: `${input.rig}.${input.name}@gastown.local`,
      PATH: `${shimDir}:${hostEnv().PATH ?? '/usr/bin:/bin'}`,
      // This worker's relay: the agent's `gt done` needs no engine connection of its own.
      ...(relayAddress() ? { [RELAY_ENV]: relayAddress()! } : {}),
    };
  };

  /** The town's environment (never the worker's own, whoever started it). */
  const baseEnv = (): Record<string, string> => townEnv(root, engineConfig(root), tmuxSocket(root));

  /** Stop whatever runs for this polecat (tmux session and headless process group) and forget it. */
  const stopAgent = async (rig: string, name: string): Promise<void> => {
    const f = files(rig, name);
    const session = sessionName(rigEntry(rig).prefix, name);
    if (tmuxAvailable()) {
      if (await hasSession(root, session)) {
        try {
          killGroup(await panePid(root, session), 'SIGTERM');
        } catch {
          // no pane any more
        }
        await killSession(root, session);
      }
    }
    // A headless agent: its process group, as any command started by runChild.
    await stopChild(f.state);
    for (const suffix of ['.exit.tmp', '.ready', '.awaiting', '.reprime']) remove(`${f.state}${suffix}`);
  };

  const ledgerWrite = async <T>(bead: string, actor: string, fn: (tx: Parameters<Parameters<Ledger['transactionAsync']>[0]>[0], current: Bead) => T): Promise<T> => {
    const ledger = Ledger.open(ledgerDirForId(bead, root));
    return ledger.transactionAsync((tx) => fn(tx, tx.get(bead)), { actor });
  };

  const mailMayor = async (from: string, subject: string, body: string): Promise<string> => {
    const { sendMailAsync } = await import('../mail/mail.js');
    return (await sendMailAsync(root, { from, to: 'mayor', subject, body })).id;
  };

  /** In a rig host home (no town folder here): how the ledger's part is had done by the town. */
  const town = townCaller(root, getClient);

  /**
   * `gt done`: the hook is released. COMPLETED → in_progress while the merge queue has it;
   * ESCALATED → blocked, with mail to the Mayor; DEFERRED → deferred and unassigned.
   * Only a bead still hooked to this polecat is changed (a retry changes nothing twice).
   */
  const releaseHook = async (input: ReleaseInput): Promise<{ mail?: string }> => {
    const addr = address(input.rig, input.name);
    const note = input.message ? `: ${input.message}` : '';
    const changed = await ledgerWrite(input.bead, addr, (tx, bead) => {
      if (!(bead.status === 'hooked' && bead.assignee === addr)) return false;
      if (input.status === 'COMPLETED') {
        tx.update(bead.id, { status: 'in_progress' });
        tx.addComment(bead.id, `gt done by ${addr}: branch ${input.branch} submitted to the merge queue${note}`);
      } else if (input.status === 'ESCALATED') {
        tx.update(bead.id, { status: 'blocked' });
        tx.addComment(bead.id, `escalated by ${addr} (branch ${input.branch})${note}`);
      } else {
        tx.update(bead.id, { status: 'deferred', assignee: null });
        tx.addComment(bead.id, `deferred by ${addr} (branch ${input.branch} keeps the work)${note}`);
      }
      return true;
    });
    if (changed) {
      event('done', { actor: addr, rig: input.rig, bead: input.bead, status: input.status, detail: `gt done --status ${input.status}${note}` });
      await tell([input.bead], input.status === 'COMPLETED' ? `gt done: in the merge queue` : `gt done --status ${input.status}`);
    }
    if (changed && input.status === 'ESCALATED') {
      return { mail: await mailMayor(addr, `ESCALATED: ${input.bead} needs a person`, `${addr} escalated ${input.bead}${note || '.'}\nIts work is on branch ${input.branch}.`) };
    }
    return {};
  };

  const submitMerge = async (rig: string, mr: MergeRequest): Promise<string> => {
    const { submitMergeRequest } = await import('../refinery/client.js');
    await submitMergeRequest(await getClient(), engineConfig(root), rig, mr);
    event('merge.queued', { actor: polecatAddress(rig, mr.polecat), rig, bead: mr.bead, branch: mr.branch, detail: `${mr.branch} sent to the ${rig} merge queue` });
    return refineryWorkflowId(rig);
  };

  const beadUsage = async (bead: string): Promise<SessionsUsage | undefined> => {
    const { beadSessionsUsage } = await import('../costs/report.js');
    return beadSessionsUsage(root, bead);
  };

  /**
   * The bead still hooked to this polecat (a sent-back bead is hooked again), or why the work
   * cannot start (it moved on meanwhile: unslung, closed, re-slung).
   */
  const claimWork = async (input: PrepareInput): Promise<Claimed> => {
    const { rig, name, item } = input;
    const addr = address(rig, name);
    const check = await ledgerWrite(item.bead, addr, (tx, bead): Claimed & { rehooked?: boolean } => {
      if (bead.status === 'hooked' && bead.assignee === addr) return { title: bead.title };
      if (item.kind === 'sling') return { skip: `bead ${item.bead} is ${bead.status}${bead.assignee ? ` (assignee ${bead.assignee})` : ''}, no longer on this polecat's hook` };
      if (bead.status === 'closed') return { skip: `bead ${item.bead} was closed meanwhile` };
      if (bead.status === 'hooked') return { skip: `bead ${item.bead} is on ${bead.assignee}'s hook now` };
      tx.update(bead.id, { status: 'hooked', assignee: addr });
      return { title: bead.title, rehooked: true };
    });
    if ('rehooked' in check) await tell([item.bead], `${addr} reworks it`);
    return 'skip' in check ? { skip: check.skip } : { title: check.title };
  };

  /** The run notes here, and in the town when this is a rig host home (`gt hook` and `gt prime` run there). */
  const saveRunInfo = async (rig: string, name: string, info: Partial<PolecatRunInfo>, whole: boolean): Promise<void> => {
    const f = files(rig, name);
    if (whole) await writeInfo(f.info, () => JSON.stringify(info, null, 2) + '\n');
    else await updateInfo(f.info, info);
    if (town) await town('polecatRunInfo', [rig, name, info, whole]);
  };

  /** This host's worktree of the polecat, on the bead's branch (made here when another host had it). */
  const ownWorktree = async (input: AgentInput, defaultBranch: string): Promise<string> => {
    const worktree = join(rigPaths(root, input.rig).polecats, input.name);
    await prepareWorktree({ repo: rigPaths(root, input.rig).repo, worktree, branch: input.branch, defaultBranch, who: address(input.rig, input.name) });
    return worktree;
  };

  const commentOnBead = async (bead: string, actor: string, text: string): Promise<void> => {
    await ledgerWrite(bead, actor, (tx, b) => {
      if (b.comments?.at(-1)?.text !== text) tx.addComment(b.id, text);
    });
  };

  return {
    /**
     * Get a piece of work ready: the bead still hooked to this polecat (a sent-back bead is
     * hooked again), no stale session, the worktree on the bead's branch, the session notes
     * `gt prime` reads. Returns `skip` when the bead moved on meanwhile (unslung, closed, re-slung).
     */
    async preparePolecatWork(input: PrepareInput): Promise<Prepared> {
      const { rig, name, item } = input;
      const entry = rigEntry(rig);
      const addr = address(rig, name);
      const limits = polecatLimits(root, rig);
      agentNice(root);
      const session = sessionName(entry.prefix, name);
      const worktree = join(rigPaths(root, rig).polecats, name);
      const branch = `polecat/${name}/${item.bead}`;
      const base = { worktree, branch, base: '', session, limits, defaultBranch: entry.default_branch };
      const check = town ? await town<Claimed>('claimPolecatWork', [input]) : await claimWork(input);
      if ('skip' in check) return { ...base, skip: check.skip };
      await stopAgent(rig, name);
      const prepared = await prepareWorktree({ repo: rigPaths(root, rig).repo, worktree, branch, defaultBranch: entry.default_branch, who: addr });
      const info: PolecatRunInfo = {
        bead: item.bead,
        branch,
        worktree,
        attempt: 0,
        formula: item.formula ?? 'mol-polecat-work',
        vars: item.vars ?? {},
        session,
        headless: item.headless,
        startedAt: new Date().toISOString(),
      };
      if (item.kind === 'rework') info.handoff = `The merge queue sent this work back: ${item.reason ?? 'no reason given'}. Rebase onto origin/${entry.default_branch}, fix what it names, commit, and run \`gt done\` again.`;
      await saveRunInfo(rig, name, info, true);
      if (prepared.savedWip) {
        const text = `uncommitted work left on ${prepared.savedWip} was committed there before ${name} switched to ${branch}`;
        if (town) await town('commentOnPolecatBead', [item.bead, addr, text]);
        else await commentOnBead(item.bead, addr, text);
      }
      return { ...base, base: prepared.base, title: check.title };
    },

    /** The ledger's part of preparing a piece of work (the town's, for a rig host without its folder): see claimWork. */
    async claimPolecatWork(input: PrepareInput): Promise<Claimed> {
      return claimWork(input);
    },

    /** The polecat's run notes (`gt hook`, `gt prime` read them) written in the town for a rig host without its folder. */
    async polecatRunInfo(rig: string, name: string, info: Partial<PolecatRunInfo>, whole: boolean): Promise<void> {
      await saveRunInfo(rig, name, info, whole);
    },

    async commentOnPolecatBead(bead: string, actor: string, text: string): Promise<void> {
      await commentOnBead(bead, actor, text);
    },

    /**
     * One agent session: start (or adopt, after a worker died) the agent in the worktree and
     * watch it. Heartbeats every tick so the engine notices a dead worker; progress (output,
     * commits, gt/bd calls) is judged here: silent past the stall timeout → a nudge; silent
     * past the grace that follows → the session is stopped and reported `stalled`. A session
     * that ends by itself is reported `exited` with its exit code; `gt done` arrives at the
     * workflow, which then stops the session.
     */
    async runPolecatAgent(given: AgentInput): Promise<AgentOutcome> {
      const ctx = Context.current();
      const entry = rigEntry(given.rig);
      // A rig host without the town folder works in its own clone: a session another host began
      // (it died) goes on here, in this host's worktree, from the branch as last pushed.
      const input = town ? { ...given, worktree: await ownWorktree(given, entry.default_branch) } : given;
      const f = files(input.rig, input.name);
      mkdirSync(dirname(f.log), { recursive: true });
      mkdirSync(dirname(f.state), { recursive: true });
      agentBinDir(root);
      const runtime = chooseRuntime({ root, rig: input.rig, role: 'polecat', agentFlag: input.agent });
      const actor = address(input.rig, input.name);
      // Only a retry of this same session (its worker died) may adopt what runs or was recorded
      // here; anything left by an earlier session (a handoff racing its own exit) is stopped first.
      const attemptFile = `${f.state}.attempt`;
      // Where this session's output starts in the polecat's log: what it reports is its own, never an earlier session's.
      const logStartFile = `${f.state}.logstart`;
      // Stopped here: no session of this polecat runs (none to adopt below).
      const stoppedHere = readNumber(attemptFile) !== input.attempt;
      if (stoppedHere) {
        await stopAgent(input.rig, input.name);
        await replaceFile(logStartFile, `${sizeOf(f.log)}\n`);
        await replaceFile(attemptFile, `${input.attempt}\n`);
      }
      const ownTail = () => tailOf(f.log, 20, readNumber(logStartFile) ?? 0);
      await saveRunInfo(input.rig, input.name, { attempt: input.attempt, handoff: input.handoff, ...(input.worktree !== given.worktree ? { worktree: input.worktree } : {}) }, false);

      // Where the role instructions go for this runtime; a person's settings that cannot be parsed refuse the start.
      let integration: RuntimeIntegration;
      let settingsFile: string | undefined;
      try {
        integration = checkRuntimeFiles(root, input.rig, runtime);
        if (integration.style === 'claude-settings') {
          settingsFile = f.settings;
          await replaceFile(settingsFile, JSON.stringify(claudeSettings(root, input.rig), null, 2) + '\n');
        } else if (integration.contextFile) {
          const written = await writeContextFile(input.worktree, integration.contextFile, { rig: input.rig, name: input.name, bead: input.bead });
          if (!written.written) appendLine(f.log, `[gt] ${integration.contextFile} not written (${written.reason}); the first prompt carries the instructions`);
        }
        if (integration.hooks === 'gemini-settings') {
          const written = await writeGeminiSettings(input.worktree, geminiSettings(root, input.rig));
          if (!written.written) appendLine(f.log, `[gt] .gemini/settings.json not written (${written.reason}); no hooks, ${integration.contextFile} carries the instructions`);
        }
      } catch (err) {
        const reason = `${runtime.name} not started: ${(err as Error).message}`;
        appendLine(f.log, `[gt] ${reason}`);
        event('session.failed', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: String(input.attempt), detail: reason });
        return { outcome: 'failed-start', code: null, tail: reason, nudged: false };
      }
      const prompt = firstPrompt({ rig: input.rig, name: input.name, bead: input.bead, title: input.title, attempt: input.attempt, handoff: input.handoff });
      const start = buildStartCommand(runtime, prompt, { settingsFile });
      const env = { ...baseEnv(), ...runtime.env, ...agentEnv(input, f), GT_AGENT: runtime.name };
      // Checked when the work was prepared; a value spoiled since then gives way to the default.
      let nice = DEFAULT_AGENT_NICE;
      try {
        nice = agentNice(root);
      } catch {
        // the default
      }
      const niced = (argv: string[]) => (nice > 0 ? ['/bin/sh', '-c', NICE_WRAPPER, 'gt-nice', String(nice), ...argv] : argv);
      // A runtime whose hooks name no session (Codex): this session is noted here, by its worktree and start, for `gt costs`.
      const noteStartedSession = async () => {
        if (integration.usage !== 'codex-rollout') return;
        const { recordStartedSession } = await import('../costs/sessions.js');
        const { codexHome } = await import('../costs/codex.js');
        try {
          recordStartedSession(root, {
            at: new Date().toISOString(),
            agent: actor,
            rig: input.rig,
            polecat: input.name,
            bead: input.bead,
            attempt: input.attempt,
            runtime: runtime.name,
            // Stable across retries of this one session (the log offset it started at), new for the next.
            session_id: `${actor}/${input.bead}/${input.attempt}@${readNumber(logStartFile) ?? 0}`,
            cwd: input.worktree,
            usage_source: 'codex-rollout',
            codex_home: codexHome(env),
          });
        } catch (err) {
          appendLine(f.log, `[gt] session not noted for gt costs: ${(err as Error).message}`);
        }
      };
      event('session.start', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: String(input.attempt), detail: `session ${input.attempt} of ${input.bead} (${runtime.name}${input.headless ? ', headless' : ''})` });

      const gitDir = worktreeGitDir(input.worktree);
      const headSig = () => [sizeAndTime(f.progress), gitDir ? sizeAndTime(join(gitDir, 'logs', 'HEAD')) : ''].join('|');
      const signature = () => `${sizeAndTime(f.log)}|${headSig()}`;
      const earlier = ctx.info.heartbeatDetails as WatchDetails | undefined;
      let lastSig = signature();
      // A retry adopting this session: what the agent did while no worker watched is progress.
      const movedUnwatched = earlier?.sig !== undefined && earlier.sig !== lastSig;
      const watch: WatchDetails = movedUnwatched || !earlier ? { lastProgressAt: Date.now() } : { lastProgressAt: earlier.lastProgressAt, nudgedAt: earlier.nudgedAt };
      let ignoreUntil = 0;
      let nudged = watch.nudgedAt !== undefined;
      const session = sessionName(entry.prefix, input.name);
      const useTmux = !input.headless && tmuxAvailable();
      const startMs = input.limits.startMs ?? 60_000;

      /** What the agent shows: its tmux screen, or (headless) the end of its output without terminal codes. */
      const screen = async (): Promise<string> => {
        if (useTmux) return capturePane(root, session).catch(() => '');
        // Our own notes in the log are not the agent's screen.
        return stripAnsi(tailOf(f.log, 40, readNumber(logStartFile) ?? 0)).split('\n').filter((l) => !l.startsWith('[gt] ')).join('\n');
      };

      // Waiting is not stalling: a session at a trust, permission or input prompt is reported, answered
      // with the runtime's known keys where there are some, else a person is asked (once); it is never nudged or stopped for it.
      const awaitingFile = `${f.state}.awaiting`;
      let awaiting: (AwaitingInput & { remedy?: string[]; answeredAt?: number }) | undefined = readJson<AwaitingInput>(awaitingFile);
      let lastLook = 0;
      const tellWorkflow = async (notice: Omit<AgentStatusNotice, 'bead' | 'attempt'>) => {
        try {
          const client = await getClient();
          await client.workflow.getHandle(polecatWorkflowId(input.rig, input.name)).signal<[AgentStatusNotice]>(AGENT_STATUS_SIGNAL, { bead: input.bead, attempt: input.attempt, ...notice });
        } catch {
          // the file beside the session (read by gt agents) still says it
        }
      };
      const publish = async () => {
        if (awaiting) {
          const { remedy: _r, answeredAt: _a, ...shown } = awaiting;
          await replaceFile(awaitingFile, JSON.stringify(shown) + '\n');
          await tellWorkflow({ awaiting: shown });
        } else {
          remove(awaitingFile);
          await tellWorkflow({ awaiting: null });
        }
      };
      /** true while the session waits at a prompt. */
      const lookForPrompt = async (text: string): Promise<boolean> => {
        const now = Date.now();
        const wait = waitingPrompt(integration, text);
        if (!wait) {
          if (awaiting) {
            appendLine(f.log, `[gt] the ${awaiting.kind} prompt is answered; carrying on`);
            awaiting = undefined;
            watch.lastProgressAt = now;
            await publish();
          }
          return false;
        }
        if (!awaiting || awaiting.text !== wait.text) {
          awaiting = { kind: wait.kind, text: wait.text, since: new Date(now).toISOString(), remedy: wait.remedy };
          appendLine(f.log, `[gt] awaiting input (${wait.kind} prompt): ${wait.text}`);
          event('session.awaiting', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: `${input.attempt}:${wait.text.slice(0, 60)}`, detail: `${wait.kind} prompt: ${wait.text}` });
          await publish();
        }
        if (awaiting.remedy && useTmux && awaiting.answeredAt === undefined) {
          awaiting.answeredAt = now;
          awaiting.answeredWith = awaiting.remedy.join(' ');
          await sendKeys(root, session, awaiting.remedy).catch(() => undefined);
          appendLine(f.log, `[gt] answered the ${awaiting.kind} prompt with ${awaiting.answeredWith}`);
          await publish();
        } else if (!awaiting.escalatedAt && (!awaiting.remedy || !useTmux || now - (awaiting.answeredAt ?? now) > 5000)) {
          awaiting.escalatedAt = new Date(now).toISOString();
          await mailMayor(
            actor,
            `WAITING: ${actor} needs a person (${awaiting.kind} prompt)`,
            `${actor} (session ${input.attempt} of ${input.bead}) waits at a ${awaiting.kind} prompt:\n\n  ${awaiting.text}\n\nAnswer it in its session: ${useTmux ? `tmux -L ${tmuxSocket(root)} attach -t ${session}` : 'it runs headless; stop it with gt unsling'}. It is not stopped while it waits.`,
          ).catch(() => undefined);
          appendLine(f.log, `[gt] a person is needed: the Mayor was told`);
          await publish();
        }
        // The stall clock does not run while a person is asked.
        watch.lastProgressAt = now;
        watch.nudgedAt = undefined;
        return true;
      };

      /** true when the session must be stopped as stalled. */
      const judge = async (): Promise<boolean> => {
        const now = Date.now();
        const sig = signature();
        const moved = sig !== lastSig;
        if (moved) {
          lastSig = sig;
          // The echo of our own nudge is not the agent's progress.
          if (now >= ignoreUntil) {
            watch.lastProgressAt = now;
            watch.nudgedAt = undefined;
          }
        }
        // A quiet screen is looked at (cheap enough every 2 s, and only when quiet): it may be a prompt.
        // Always just before a nudge: a session waiting at a prompt is never nudged for its silence.
        // And at once when a waiting session moves: a person answered, so it is not waiting any more.
        const nudgeDue = watch.nudgedAt === undefined && now - watch.lastProgressAt >= input.limits.stallMs;
        if ((awaiting || now - watch.lastProgressAt >= 2000) && (now - lastLook >= 2000 || nudgeDue || (awaiting && moved))) {
          lastLook = now;
          if (await lookForPrompt(await screen())) {
            ctx.heartbeat({ ...watch, sig: lastSig });
            return false;
          }
        }
        if (watch.nudgedAt === undefined && now - watch.lastProgressAt >= input.limits.stallMs) {
          watch.nudgedAt = now;
          nudged = true;
          ignoreUntil = now + 1500;
          appendLine(f.log, `[gt] no progress for ${formatDuration(input.limits.stallMs)}: nudging`);
          event('nudge', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: String(now), detail: `no progress for ${formatDuration(input.limits.stallMs)}: nudged` });
          if (useTmux) await sendText(root, session, nudgeText(formatDuration(input.limits.stallMs))).catch(() => undefined);
          lastSig = signature();
        } else if (watch.nudgedAt !== undefined && now - watch.nudgedAt >= input.limits.nudgeGraceMs) {
          return true;
        }
        ctx.heartbeat({ ...watch, sig: lastSig });
        return false;
      };
      const stalledDetail = () => `no progress for ${formatDuration(Date.now() - watch.lastProgressAt)} (stall_timeout ${formatDuration(input.limits.stallMs)}, then a nudge and ${formatDuration(input.limits.nudgeGraceMs)} grace)`;

      if (!useTmux) {
        let stdinFile: string | undefined;
        if (start.typedPrompt) {
          await replaceFile(f.prompt, start.typedPrompt + '\n');
          stdinFile = f.prompt;
        }
        let stalled = false;
        await noteStartedSession();
        const [command, ...args] = niced(start.argv);
        const result = await runChild({
          command: command!,
          args,
          cwd: input.worktree,
          env,
          logFile: f.log,
          stateFile: f.state,
          stdinFile,
          onTick: async () => (stalled = await judge()),
        });
        if (stalled) {
          appendLine(f.log, `[gt] stopped: ${stalledDetail()}`);
          event('stall', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, detail: `session ${input.attempt} stopped: ${stalledDetail()}` });
          return { outcome: 'stalled', nudged, tail: ownTail(), code: null };
        }
        return { outcome: 'exited', code: result.code, tail: ownTail(), nudged };
      }

      const exitFile = `${f.state}.exit`;
      const readyFile = `${f.state}.ready`;
      let pid: number | undefined;
      if (!stoppedHere) pid = await panePid(root, session).catch(() => undefined);
      let spawnedAt = Date.now();
      if (pid === undefined && readNumber(exitFile) === undefined) {
        remove(exitFile);
        remove(readyFile);
        await replaceFile(logStartFile, `${sizeOf(f.log)}\n`);
        appendLine(f.log, `[gt] attempt ${input.attempt}: starting ${runtime.name} in tmux session ${session}`);
        spawnedAt = Date.now();
        pid = await newSession(root, {
          session,
          cwd: input.worktree,
          env: { ...env, GT_EXIT_FILE: exitFile },
          argv: niced(['/bin/sh', '-c', EXIT_RECORDING_WRAPPER, 'gt-agent', ...start.argv]),
          logFile: f.log,
        });
        await replaceFile(`${f.state}.pid`, `${pid}\n`);
        await noteStartedSession();
      }
      // Until its ready prompt shows, a session is starting: no stall clock, but a start timeout.
      let ready = existsSync(readyFile);
      let startClockFrom = spawnedAt;
      let lastScreen = '';
      let settledSince = 0;
      const startHead = headSig();
      const startLog = readNumber(logStartFile) ?? 0;
      const isReady = (text: string, now: number): boolean => {
        if (!start.typedPrompt && headSig() !== startHead) return true;
        if (integration.ready) {
          if (showsReady(integration, text)) return true;
        } else if (sizeOf(f.log) > startLog && text.trim()) {
          // No known ready prompt: its screen, once it stops changing, stands for it: after 1.5 s when
          // its last line looks like an input prompt, else after 5 s (a loading screen stays a while).
          if (text !== lastScreen) settledSince = now;
          else if (now - settledSince >= (looksLikePrompt(text) ? 1500 : 5000)) return true;
        }
        return false;
      };
      const deliverPrompt = async (text: string): Promise<void> => {
        await replaceFile(f.prompt, text);
        await pasteFile(root, session, f.prompt);
        await sleep(300);
        const submitted = async (before: string): Promise<boolean> => {
          for (let i = 0; i < 10; i++) {
            await sleep(200);
            ctx.heartbeat({ ...watch, sig: lastSig });
            const now = await screen();
            if (headSig() !== startHead) return true;
            if (now !== before && !inputHolds(integration, now, text)) return true;
          }
          return false;
        };
        const before = await screen();
        await sendKeys(root, session, ['Enter']);
        if (await submitted(before)) return void appendLine(f.log, '[gt] first prompt typed in; Enter taken');
        await sendKeys(root, session, ['Enter']);
        appendLine(f.log, '[gt] Enter not taken; pressed again');
        if (!(await submitted(before))) appendLine(f.log, `[gt] the first prompt may still wait in the input: ${lastLines(await screen(), 1)[0] ?? ''}`);
      };

      const cancelled = new Promise<void>((r) => ctx.cancellationSignal.addEventListener('abort', () => r()));
      try {
        for (;;) {
          if (pid === undefined || !processAlive(pid)) {
            // Let tmux finish closing the session so the next attempt starts clean (only ours:
            // a session of that name with another pane belongs to a newer attempt).
            if (pid !== undefined && (await panePid(root, session).catch(() => undefined)) === pid) await killSession(root, session);
            const code = readNumber(exitFile) ?? null;
            remove(exitFile);
            remove(`${f.state}.pid`);
            remove(awaitingFile);
            event('session.exit', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, code, detail: `session ${input.attempt} ended (exit code ${code ?? 'unknown'})` });
            return { outcome: 'exited', code, tail: ownTail(), nudged, session };
          }
          if (!ready) {
            const now = Date.now();
            // An agent started with its prompt that already calls gt or commits is past its start (no screen needed).
            const text = !start.typedPrompt && headSig() !== startHead ? '' : await screen();
            if (text && (await lookForPrompt(text))) {
              // A trust dialog at start is waiting, not a failed start: the start clock waits too.
              startClockFrom = now;
            } else if (isReady(text, now)) {
              ready = true;
              appendLine(f.log, `[gt] ready after ${((now - spawnedAt) / 1000).toFixed(1)}s`);
              event('session.ready', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: String(input.attempt), ms: now - spawnedAt, detail: `session ${input.attempt} ready after ${((now - spawnedAt) / 1000).toFixed(1)}s` });
              if (start.typedPrompt) await deliverPrompt(start.typedPrompt);
              // Marked once the prompt is in: a retry after a lost worker types it again rather than never.
              await replaceFile(readyFile, `${now}\n`);
              watch.lastProgressAt = Date.now();
              lastSig = signature();
            } else if (now - startClockFrom >= startMs) {
              const shown = lastLines(text, 10);
              const reason = `never showed its ready prompt within ${formatDuration(startMs)} (start_timeout); its screen: ${shown.join(' / ') || '(blank)'}`;
              appendLine(f.log, `[gt] failed start: ${reason}`);
              event('session.failed', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, key: String(input.attempt), detail: `session ${input.attempt}: ${reason}` });
              await stopAgent(input.rig, input.name);
              return { outcome: 'failed-start', code: null, tail: reason, nudged, session };
            }
            lastScreen = text;
            ctx.heartbeat({ ...watch, sig: lastSig });
          } else if (await judge()) {
            appendLine(f.log, `[gt] stopped: ${stalledDetail()}`);
            event('stall', { actor, rig: input.rig, bead: input.bead, attempt: input.attempt, detail: `session ${input.attempt} stopped: ${stalledDetail()}` });
            await stopAgent(input.rig, input.name);
            return { outcome: 'stalled', code: null, tail: ownTail(), nudged, session };
          }
          const stop = await Promise.race([cancelled.then(() => true), sleep(ready ? 1000 : 400).then(() => false)]);
          if (stop) break;
        }
      } finally {
        // Only the workflow's own cancel stops the agent. A heartbeat that timed out (the server
        // was down, the worker stalled) or a worker shutting down leaves it running: the retry of
        // this session adopts it instead of starting the same session again.
        if (ctx.cancellationSignal.aborted && ctx.cancellationDetails?.cancelRequested) await stopAgent(input.rig, input.name);
      }
      throw ctx.cancellationSignal.reason ?? new Error('cancelled');
    },

    /** What the sessions of a bead spent, as their runtime recorded it; undefined when none recorded any. */
    async polecatBeadUsage(bead: string): Promise<SessionsUsage | undefined> {
      return beadUsage(bead);
    },

    async stopPolecatAgent(rig: string, name: string): Promise<void> {
      await stopAgent(rig, name);
    },

    /**
     * After `gt done`: the session stopped, then what the bead's sessions spent (one activity for
     * both; the town counts on a rig host home). With `tell`, the rig's dispatcher then hears the
     * polecat is free (runs from before the polecat-lean-finish patch signal it themselves); a retry tells it again,
     * which changes nothing.
     */
    async stopPolecatAgentWithUsage(rig: string, name: string, bead: string, tell?: PolecatChange['change']): Promise<SessionsUsage | undefined> {
      await stopAgent(rig, name);
      const usage = town ? await town<SessionsUsage | undefined>('polecatBeadUsage', [bead]) : await beadUsage(bead);
      if (tell) {
        const change: PolecatChange = { name, bead, change: tell };
        try {
          await (await getClient()).workflow.getHandle(dispatchWorkflowId(rig)).signal<[PolecatChange]>(POLECAT_CHANGED_SIGNAL, change);
        } catch (err) {
          // No dispatcher running (as a workflow's own signal would find): it learns from the ledger when it starts.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      return usage;
    },

    /** A line on the bead for each session that ended without `gt done`, so people see the history. */
    async notePolecatAttempt(rig: string, name: string, bead: string, text: string): Promise<void> {
      event('session.restart', { actor: address(rig, name), rig, bead, detail: text });
      await ledgerWrite(bead, address(rig, name), (tx, b) => {
        if (b.comments?.at(-1)?.text !== text) tx.addComment(b.id, text);
      });
    },

    /**
     * `gt done`: the hook is released. COMPLETED → in_progress while the merge queue has it;
     * ESCALATED → blocked, with mail to the Mayor; DEFERRED → deferred and unassigned.
     * Only a bead still hooked to this polecat is changed (a retry changes nothing twice).
     */
    async releasePolecatHook(input: ReleaseInput): Promise<{ mail?: string }> {
      return releaseHook(input);
    },

    async submitPolecatMergeRequest(rig: string, mr: MergeRequest): Promise<string> {
      return submitMerge(rig, mr);
    },

    /**
     * `gt done` in one activity: the hook released (in the town, on a rig host home), then for
     * COMPLETED the merge request sent. Safe to run again: the release changes only a bead still
     * hooked to this polecat, and the merge queue ignores a request it already has.
     */
    async polecatDone(input: ReleaseInput, mr?: MergeRequest): Promise<{ mail?: string; mergeQueue?: string }> {
      const released = town ? await town<{ mail?: string }>('releasePolecatHook', [input]) : await releaseHook(input);
      return mr ? { ...released, mergeQueue: await submitMerge(input.rig, mr) } : released;
    },

    /** After the last attempt: the bead is blocked with the reason and the Mayor gets mail. */
    async blockPolecatBead(input: { rig: string; name: string; bead: string; reason: string; branch: string }): Promise<{ blocked: boolean; mail?: string }> {
      const addr = address(input.rig, input.name);
      const blocked = await ledgerWrite(input.bead, addr, (tx, bead) => {
        if (!(bead.status === 'hooked' && bead.assignee === addr)) return false;
        tx.update(bead.id, { status: 'blocked', add_labels: ['polecat:failed'] });
        tx.addComment(bead.id, `blocked: ${input.reason}`);
        return true;
      });
      if (!blocked) return { blocked };
      event('bead.blocked', { actor: addr, rig: input.rig, bead: input.bead, detail: input.reason });
      await tell([input.bead], `blocked: ${input.reason}`);
      const mail = await mailMayor(
        addr,
        `BLOCKED: ${input.bead} (${input.rig})`,
        `${addr} could not finish ${input.bead}: ${input.reason}\nIts work is on branch ${input.branch}. Fix the cause, then \`gt sling ${input.bead} ${input.rig}\` again.`,
      );
      return { blocked, mail };
    },
  };
}


function sizeAndTime(file: string): string {
  try {
    const st = statSync(file);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return '-';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Terminal output as the text a person reads: colour, cursor and mode sequences removed. */
function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>]/g, '');
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function appendLine(file: string, line: string): void {
  try {
    const fd = openSync(file, 'a');
    try {
      writeFileSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // the log is a convenience
  }
}

/** Run-note writes of each file, one after another: a patch reads what the write before it put down. */
const infoWrites = new Map<string, Promise<void>>();

function writeInfo(file: string, text: () => string | undefined): Promise<void> {
  const run = (infoWrites.get(file) ?? Promise.resolve()).then(async () => {
    const t = text();
    if (t !== undefined) await replaceFile(file, t);
  });
  const settled = run.catch(() => undefined);
  infoWrites.set(file, settled);
  void settled.then(() => {
    if (infoWrites.get(file) === settled) infoWrites.delete(file);
  });
  return run;
}

async function updateInfo(file: string, patch: Partial<PolecatRunInfo>): Promise<void> {
  await writeInfo(file, () => {
    try {
      const info = JSON.parse(readFileSync(file, 'utf8')) as PolecatRunInfo;
      return JSON.stringify({ ...info, ...patch }, null, 2) + '\n';
    } catch {
      return undefined; // written by prepare; missing only if the polecat was nuked meanwhile
    }
  }).catch(() => undefined);
}

