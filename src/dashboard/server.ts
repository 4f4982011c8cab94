import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { GtError } from '../errors.js';
import type { FeedStore } from '../feed/store.js';
import type { Action } from './actions.js';
import { esc } from './html.js';
import type { AgentOutput } from './output.js';
import { renderPage, renderSection, SECTIONS, type DashboardView, type Section } from './page.js';

/** Page tokens kept (the newest); an older one is stale. */
const TOKENS_KEPT = 256;
/** A form is small; anything bigger is refused unread. */
const BODY_LIMIT = 64 * 1024;
/** Changes that come in a burst are pushed once, this long after the first. */
const PUSH_DELAY_MS = 100;
/** Agent output is pushed at most this often (a busy agent writes its log all the time). */
const OUTPUT_EVERY_MS = 1000;
/** A comment down every event stream this often, so proxies and browsers keep it open. */
const KEEPALIVE_MS = 25_000;

const require = createRequire(import.meta.url);
const ASSETS: Record<string, string> = {
  '/assets/htmx.min.js': 'htmx.org/dist/htmx.min.js',
  '/assets/sse.js': 'htmx-ext-sse/dist/sse.js',
};

interface Client {
  res: ServerResponse;
  sent: Partial<Record<Section, string>>;
}

/** Listen on `bind:port`; a port in use or not allowed is a clear error naming it. */
export function listen(port: number, bind: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new GtError(`port ${port} on ${bind} is in use`, { hint: `another program (another gt dashboard?) listens there: pick a free port with --port <n>, or stop it` }));
      else if (err.code === 'EACCES') reject(new GtError(`not allowed to listen on port ${port} of ${bind}`, { hint: 'ports below 1024 need privileges: pick another with --port <n>' }));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') reject(new GtError(`--bind ${bind} is not an address of this machine`, { hint: 'use 127.0.0.1 (the default), 0.0.0.0 for every interface, or one of this machine\'s addresses' }));
      else reject(err);
    });
    server.listen(port, bind, () => resolve(server));
  });
}

/**
 * `gt dashboard`'s web server: the page, the htmx assets (from node_modules), one event stream
 * per open page, and the actions. What it shows is the feed's store: a section is rendered again
 * when the store changed (an event, a ledger write, the slow refresh) or, for the polecats, when
 * an agent printed something, and pushed to a page only when its HTML differs from what that page
 * has. Nothing is re-read on a timer of its own. Every POST needs a token this server issued for a
 * page: a page of another server (or of this one before it restarted) is refused.
 */
export class Dashboard {
  private tokens = new Set<string>();
  private clients = new Set<Client>();
  private current: Partial<Record<Section, string>> = {};
  private dirty = new Set<Section>();
  private pushTimer?: NodeJS.Timeout;
  private lastOutputAt = 0;
  private outputTimer?: NodeJS.Timeout;
  private keepalive: NodeJS.Timeout;
  private unsubscribe: () => void;

  constructor(
    private readonly town: string,
    private readonly store: FeedStore,
    private readonly output: AgentOutput,
    private readonly actions: Record<string, Action>,
    private readonly link: (workflowId: string) => string | undefined,
    /** Bound to loopback: only requests addressed to a loopback name are answered (no DNS rebinding). */
    private readonly loopback: boolean,
  ) {
    // The store tells of a new event at once (only the events change) and of a rebuilt snapshot (its version goes up).
    let version = store.getVersion();
    this.unsubscribe = store.subscribe(() => {
      if (store.getVersion() === version) return this.changed(['events']);
      version = store.getVersion();
      this.changed(SECTIONS);
    });
    output.watch(store.snapshot.rigs, () => this.outputChanged());
    this.keepalive = setInterval(() => {
      for (const c of this.clients) c.res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
  }

  private view(): DashboardView {
    return { town: this.town, snapshot: this.store.snapshot, problems: this.store.problems, events: this.store.events, output: (rig, name) => this.output.tail(rig, name), link: this.link };
  }

  private changed(sections: readonly Section[]): void {
    for (const s of sections) this.dirty.add(s);
    if (this.pushTimer || !this.clients.size) return;
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.push();
    }, PUSH_DELAY_MS);
  }

  private outputChanged(): void {
    if (this.outputTimer) return;
    const wait = Math.max(0, this.lastOutputAt + OUTPUT_EVERY_MS - Date.now());
    this.outputTimer = setTimeout(() => {
      this.outputTimer = undefined;
      this.lastOutputAt = Date.now();
      this.changed(['polecats']);
    }, wait);
  }

  /** Render what changed once, send each page the sections it does not have yet. */
  private push(): void {
    const view = this.view();
    for (const s of this.dirty) this.current[s] = renderSection(s, view);
    this.dirty.clear();
    for (const c of this.clients) this.sendNew(c);
  }

  private sendNew(c: Client): void {
    for (const s of SECTIONS) {
      const html = this.current[s];
      if (html === undefined || c.sent[s] === html) continue;
      c.sent[s] = html;
      c.res.write(`event: ${s}\n${html.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n`);
    }
  }

  private issueToken(): string {
    const token = randomBytes(18).toString('base64url');
    this.tokens.add(token);
    if (this.tokens.size > TOKENS_KEPT) this.tokens.delete(this.tokens.values().next().value!);
    return token;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, `<p class="bad">error: ${esc((err as Error).message)}</p>`);
      else res.end();
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (this.loopback && !isLoopbackHost(header(req, 'host'))) {
      return send(res, 403, `refused: this dashboard listens on loopback and answers only requests for localhost or 127.0.0.1, not for "${header(req, 'host') ?? ''}"`, 'text/plain; charset=utf-8');
    }
    if (req.method === 'GET' && url.pathname === '/') {
      const page = renderPage(this.view(), this.issueToken());
      return send(res, 200, page, 'text/html; charset=utf-8');
    }
    if (req.method === 'GET' && url.pathname in ASSETS) {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'max-age=3600' });
      return void res.end(readFileSync(require.resolve(ASSETS[url.pathname]!)));
    }
    if (req.method === 'GET' && url.pathname === '/events') return this.stream(req, res);
    if (url.pathname.startsWith('/actions/')) {
      if (req.method !== 'POST') return send(res, 405, 'actions are POSTed by the page\'s buttons', 'text/plain; charset=utf-8', { Allow: 'POST' });
      return this.act(url.pathname.slice('/actions/'.length), req, res);
    }
    return send(res, 404, `no page ${url.pathname} here: the dashboard is at /`, 'text/plain; charset=utf-8');
  }

  private stream(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(': connected\n\n');
    const client: Client = { res, sent: {} };
    // The page was rendered a moment ago: send what changed since, and from now on what changes.
    this.clients.add(client);
    this.changed(SECTIONS);
    req.on('close', () => this.clients.delete(client));
  }

  private async act(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, '<p class="bad">refused: the request is too big for a form</p>');
    const fields = Object.fromEntries(new URLSearchParams(body)) as Record<string, string>;
    const token = header(req, 'x-gt-token') ?? fields.token;
    if (!token) return send(res, 403, '<p class="bad">refused: the request carries no page token. Actions are taken from the dashboard page (reload it); nothing was changed.</p>');
    if (!this.tokens.has(token)) return send(res, 403, '<p class="bad">refused: the page token is stale (the page is from before the dashboard restarted, or another dashboard). Reload the page; nothing was changed.</p>');
    const action = this.actions[name];
    if (!action) return send(res, 404, `<p class="bad">no action "${esc(name)}": the actions are ${esc(Object.keys(this.actions).join(', '))}</p>`);
    const prompt = header(req, 'hx-prompt');
    if (prompt !== undefined && fields.message === undefined) fields.message = prompt;
    delete fields.token;
    try {
      const said = await action(fields);
      return send(res, 200, `<p class="ok">${esc(said)}</p>`);
    } catch (err) {
      const e = err as Error & { hint?: string };
      const status = err instanceof GtError ? (err.exitCode === 2 ? 400 : 409) : 500;
      return send(res, status, `<p class="bad">error: ${esc(e.message)}${e.hint ? `<br><span class="dim">hint: ${esc(e.hint)}</span>` : ''}</p>`);
    }
  }

  close(): void {
    this.unsubscribe();
    this.output.close();
    clearInterval(this.keepalive);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    if (this.outputTimer) clearTimeout(this.outputTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}

/** Whether an address is this machine's loopback (what --bind defaults to). */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127(\.\d{1,3}){3}$/.test(address);
}

/** A Host header naming the loopback (a page reached through another name is refused). */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  try {
    return isLoopback(new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/html; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
