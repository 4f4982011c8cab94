/**
 * Lines of keys in a TOML text. The TOML parser returns values without positions, so errors find
 * their line here: a light scan that follows table headers (`[a.b]`, `[[steps]]`, counting the
 * elements of arrays of tables) and `key = value` lines, skipping multi-line strings.
 *
 * Paths mirror the parsed value: `['steps', 2, 'needs']` is the `needs` key of the third
 * `[[steps]]`. Keys inside inline tables and arrays are not tracked; `lineOf` then answers with
 * the line of the nearest enclosing key that is.
 */
export type KeyPath = ReadonlyArray<string | number>;

export class SourceMap {
  private readonly lines = new Map<string, number>();
  private readonly text: string[];

  constructor(source: string) {
    this.text = source.split(/\r?\n/);
    this.scan(source);
  }

  /** The text of a 1-based line ('' past the end). */
  textOf(line: number): string {
    return this.text[line - 1] ?? '';
  }

  /** Line of the most specific known prefix of `path` (1 when nothing matches). */
  lineOf(path: KeyPath): number {
    for (let n = path.length; n > 0; n--) {
      const line = this.lines.get(keyOf(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return 1;
  }

  /** Line of exactly this path, if it was seen. */
  exactLine(path: KeyPath): number | undefined {
    return this.lines.get(keyOf(path));
  }

  private record(path: KeyPath, line: number): void {
    const key = keyOf(path);
    if (!this.lines.has(key)) this.lines.set(key, line);
  }

  private scan(source: string): void {
    const arrayCounts = new Map<string, number>();
    let table: KeyPath = [];
    let openString: '"""' | "'''" | undefined;
    const text = source.split(/\r?\n/);

    // Header segments name tables; a segment that is an array of tables means its latest element.
    const resolve = (segments: string[]): Array<string | number> => {
      const out: Array<string | number> = [];
      for (const seg of segments) {
        out.push(seg);
        const count = arrayCounts.get(keyOf(out));
        if (count !== undefined) out.push(count - 1);
      }
      return out;
    };

    for (let i = 0; i < text.length; i++) {
      const lineNo = i + 1;
      let line = text[i]!;
      if (openString) {
        const end = findClosing(line, openString, 0);
        if (end < 0) continue;
        openString = undefined;
        line = line.slice(end + 3);
        if (!line.trim()) continue;
      }
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;

      if (trimmed.startsWith('[[')) {
        const segments = splitKey(trimmed.slice(2, trimmed.indexOf(']]') < 0 ? undefined : trimmed.indexOf(']]')));
        if (!segments) continue;
        const parent = resolve(segments.slice(0, -1));
        const arrayPath = [...parent, segments[segments.length - 1]!];
        const index = arrayCounts.get(keyOf(arrayPath)) ?? 0;
        arrayCounts.set(keyOf(arrayPath), index + 1);
        this.record(arrayPath, lineNo);
        table = [...arrayPath, index];
        this.record(table, lineNo);
        continue;
      }
      if (trimmed.startsWith('[')) {
        const close = trimmed.indexOf(']');
        const segments = splitKey(trimmed.slice(1, close < 0 ? undefined : close));
        if (!segments) continue;
        table = resolve(segments);
        for (let n = 1; n <= table.length; n++) this.record(table.slice(0, n), lineNo);
        continue;
      }

      const eq = findEquals(trimmed);
      if (eq < 0) continue;
      const segments = splitKey(trimmed.slice(0, eq));
      if (!segments) continue;
      const path = [...table, ...segments];
      for (let n = table.length + 1; n <= path.length; n++) this.record(path.slice(0, n), lineNo);
      openString = opensMultiline(trimmed.slice(eq + 1));
    }
  }
}

function keyOf(path: KeyPath): string {
  return path.map(String).join('\u0000');
}

/** Index of the `=` that ends a key, skipping quoted key parts; -1 when the line is no key/value. */
function findEquals(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '=') return i;
    else if (!/[A-Za-z0-9_\-. \t]/.test(c)) return -1;
  }
  return -1;
}

/** `a."b.c".d` → ['a', 'b.c', 'd']; undefined when it is not a key. */
function splitKey(raw: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quote) {
      if (c === '\\' && quote === '"' && i + 1 < raw.length) cur += raw[++i];
      else if (c === quote) quote = undefined;
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      quoted = true;
    } else if (c === '.') {
      out.push(quoted ? cur : cur.trim());
      cur = '';
      quoted = false;
    } else if (c === ' ' || c === '\t') {
      continue;
    } else {
      cur += c;
    }
  }
  out.push(quoted ? cur : cur.trim());
  return out.every((s) => s !== '' || quoted) ? out : undefined;
}

/** The multi-line string delimiter left open at the end of a value, if any. */
function opensMultiline(value: string): '"""' | "'''" | undefined {
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === '#') return undefined;
    if (value.startsWith('"""', i) || value.startsWith("'''", i)) {
      const delim = value.slice(i, i + 3) as '"""' | "'''";
      const end = findClosing(value, delim, i + 3);
      if (end < 0) return delim;
      i = end + 3;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      while (i < value.length && value[i] !== c) {
        if (c === '"' && value[i] === '\\') i++;
        i++;
      }
    }
    i++;
  }
  return undefined;
}

function findClosing(text: string, delim: '"""' | "'''", from: number): number {
  let i = text.indexOf(delim, from);
  while (i >= 0 && delim === '"""' && isEscaped(text, i)) i = text.indexOf(delim, i + 1);
  return i;
}

function isEscaped(text: string, at: number): boolean {
  let n = 0;
  for (let j = at - 1; j >= 0 && text[j] === '\\'; j--) n++;
  return n % 2 === 1;
}
