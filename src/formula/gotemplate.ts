/**
 * The part of Go's text/template that convoy formulas use in `[prompts]`, `[output]` and the
 * synthesis: `{{.a.b}}`, `{{.}}`, `{{if X}}…{{else if Y}}…{{else}}…{{end}}`, `{{range X}}…{{end}}`
 * (with `{{else}}` for an empty list), `{{with X}}…{{end}}`, comments `{{/* … *\/}}` and the
 * trim markers `{{-` / `-}}`. Rendered as the original renders them: a missing key is empty
 * text, `if` is false for empty text or an empty list, `range` over a list walks it with `.` set
 * to each item. A var given as text and ranged over is read as a list split on commas and
 * newlines. Anything else (functions, pipes, variables) does not parse, with the 1-based line
 * and column of the action. Import-free.
 */

export type TemplateValue = string | TemplateValue[] | { [key: string]: TemplateValue };

type Path = string[] | 'dot';

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'value'; path: Path }
  | { kind: 'if'; branches: Array<{ path: Path; body: Node[] }>; otherwise: Node[] }
  | { kind: 'range'; path: Path; body: Node[]; otherwise: Node[] }
  | { kind: 'with'; path: Path; body: Node[]; otherwise: Node[] };

export class TemplateSyntaxError extends Error {
  constructor(
    readonly problem: string,
    /** 1-based, within the template text. */
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${problem}`);
    this.name = 'TemplateSyntaxError';
  }
}

export interface GoTemplate {
  nodes: Node[];
  /** Every `.name` at the top of a path, for checking against the known keys. */
  keys: string[];
}

interface Action {
  /** The action's words, trimmed, without the trim markers. */
  body: string;
  /** Offset of `{{` in the text. */
  at: number;
}

type Token = { kind: 'text'; text: string } | ({ kind: 'action' } & Action);

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let trimNext = false;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    let chunk = open < 0 ? text.slice(i) : text.slice(i, open);
    if (trimNext) chunk = chunk.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (chunk) tokens.push({ kind: 'text', text: chunk });
      break;
    }
    let start = open + 2;
    if (text[start] === '-' && /\s/.test(text[start + 1] ?? '')) {
      chunk = chunk.replace(/\s+$/, '');
      start += 1;
    }
    if (chunk) tokens.push({ kind: 'text', text: chunk });
    const isComment = text.startsWith('/*', start) || text.slice(start).trimStart().startsWith('/*');
    let close: number;
    if (isComment) {
      const end = text.indexOf('*/', start);
      close = end < 0 ? -1 : text.indexOf('}}', end + 2);
    } else {
      close = text.indexOf('}}', start);
    }
    if (close < 0) throw syntaxError(text, open, isComment ? 'unclosed comment' : 'unclosed action: "{{" without "}}"');
    let end = close;
    if (text[close - 1] === '-' && /\s/.test(text[close - 2] ?? '')) {
      end = close - 1;
      trimNext = true;
    }
    if (!isComment) tokens.push({ kind: 'action', body: text.slice(start, end).trim(), at: open });
    i = close + 2;
  }
  return tokens;
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function syntaxError(text: string, offset: number, problem: string): TemplateSyntaxError {
  const { line, column } = position(text, offset);
  return new TemplateSyntaxError(problem, line, column);
}

const FIELD_PATH = /^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?$/;

/** Parse a template; throws TemplateSyntaxError naming line and column. */
export function parseGoTemplate(text: string): GoTemplate {
  const tokens = lex(text);
  const keys = new Set<string>();
  let pos = 0;
  // Inside {{range}} / {{with}} the dot is the item: its fields are not top-level keys.
  let scoped = 0;

  const readPath = (words: string, action: Action, what: string): Path => {
    if (words === '') throw syntaxError(text, action.at, `missing value for ${what}`);
    if (!FIELD_PATH.test(words)) {
      const first = words.split(/\s+/)[0]!;
      const problem = first.startsWith('$')
        ? `variables such as ${first} are not supported`
        : words.includes('|')
          ? 'pipelines ("|") are not supported'
          : first.startsWith('.')
            ? `bad field "${words}"`
            : `function "${first}" not defined`;
      throw syntaxError(text, action.at, `${problem} in {{${action.body}}}`);
    }
    if (words === '.') return 'dot';
    const path = words.slice(1).split('.');
    if (scoped === 0) keys.add(path[0]!);
    return path;
  };

  /** Nodes up to an `{{end}}` / `{{else…}}` (returned as the stop action) or the end of the text. */
  const parseList = (stops: boolean): { nodes: Node[]; stop?: Action } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.kind === 'text') {
        nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const [word = '', ...rest] = t.body.split(/\s+/);
      const args = rest.join(' ');
      if (word === 'end' || word === 'else') {
        if (!stops) throw syntaxError(text, t.at, `unexpected {{${t.body}}}`);
        return { nodes, stop: t };
      }
      if (word === 'if') {
        const branches = [{ path: readPath(args, t, 'if'), body: [] as Node[] }];
        let otherwise: Node[] = [];
        for (;;) {
          const part = parseList(true);
          if (!part.stop) throw syntaxError(text, t.at, `{{${t.body}}} has no {{end}}`);
          branches[branches.length - 1]!.body = part.nodes;
          const stopWords = part.stop.body.split(/\s+/);
          if (stopWords[0] === 'end') {
            if (stopWords.length > 1) throw syntaxError(text, part.stop.at, `unexpected {{${part.stop.body}}}`);
            break;
          }
          if (stopWords[1] === 'if') {
            branches.push({ path: readPath(stopWords.slice(2).join(' '), part.stop, 'else if'), body: [] });
            continue;
          }
          if (stopWords.length > 1) throw syntaxError(text, part.stop.at, `unexpected {{${part.stop.body}}}`);
          const tail = parseList(true);
          if (!tail.stop || tail.stop.body !== 'end') throw syntaxError(text, (tail.stop ?? t).at, `{{${t.body}}} has no {{end}} after its {{else}}`);
          otherwise = tail.nodes;
          break;
        }
        nodes.push({ kind: 'if', branches, otherwise });
        continue;
      }
      if (word === 'range' || word === 'with') {
        const path = readPath(args, t, word);
        scoped++;
        const body = parseList(true);
        scoped--;
        if (!body.stop) throw syntaxError(text, t.at, `{{${t.body}}} has no {{end}}`);
        let otherwise: Node[] = [];
        if (body.stop.body !== 'end') {
          if (body.stop.body !== 'else') throw syntaxError(text, body.stop.at, `unexpected {{${body.stop.body}}} in {{${word}}}`);
          const tail = parseList(true);
          if (!tail.stop || tail.stop.body !== 'end') throw syntaxError(text, t.at, `{{${t.body}}} has no {{end}} after its {{else}}`);
          otherwise = tail.nodes;
        }
        nodes.push({ kind: word, path, body: body.nodes, otherwise });
        continue;
      }
      if (['define', 'template', 'block', 'break', 'continue'].includes(word)) {
        throw syntaxError(text, t.at, `{{${word}}} is not supported in formulas`);
      }
      nodes.push({ kind: 'value', path: readPath(t.body, t, 'the action') });
    }
    return { nodes };
  };

  const { nodes } = parseList(false);
  return { nodes, keys: [...keys] };
}

function lookup(path: Path, dot: TemplateValue | undefined): TemplateValue | undefined {
  if (path === 'dot') return dot;
  let v: TemplateValue | undefined = dot;
  for (const key of path) {
    if (v === undefined || typeof v === 'string' || Array.isArray(v)) return undefined;
    v = Object.hasOwn(v, key) ? v[key] : undefined;
  }
  return v;
}

function truthy(v: TemplateValue | undefined): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') return v !== '';
  if (Array.isArray(v)) return v.length > 0;
  return Object.keys(v).length > 0;
}

function listOf(v: TemplateValue | undefined): TemplateValue[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return v.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  return Object.keys(v).sort().map((k) => (v as Record<string, TemplateValue>)[k]!);
}

function show(v: TemplateValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  return `map[${Object.keys(v).sort().map((k) => `${k}:${show((v as Record<string, TemplateValue>)[k])}`).join(' ')}]`;
}

function renderNodes(nodes: readonly Node[], dot: TemplateValue | undefined, root: TemplateValue): string {
  let out = '';
  for (const n of nodes) {
    switch (n.kind) {
      case 'text':
        out += n.text;
        break;
      case 'value':
        out += show(lookup(n.path, dot));
        break;
      case 'if': {
        const hit = n.branches.find((b) => truthy(lookup(b.path, dot)));
        out += renderNodes(hit ? hit.body : n.otherwise, dot, root);
        break;
      }
      case 'with': {
        const v = lookup(n.path, dot);
        out += truthy(v) ? renderNodes(n.body, v, root) : renderNodes(n.otherwise, dot, root);
        break;
      }
      case 'range': {
        const items = listOf(lookup(n.path, dot));
        out += items.length ? items.map((item) => renderNodes(n.body, item, root)).join('') : renderNodes(n.otherwise, dot, root);
        break;
      }
    }
  }
  return out;
}

export function renderGoTemplate(t: GoTemplate, data: TemplateValue): string {
  return renderNodes(t.nodes, data, data);
}

/** Whether a text uses Go-template actions at all (`{{.x}}`, `{{if …}}`, `{{range …}}`, …). */
export function looksLikeGoTemplate(text: string): boolean {
  return /\{\{-?\s*(\.|if\s|range\s|with\s|end\b|else\b|\/\*)/.test(text);
}
