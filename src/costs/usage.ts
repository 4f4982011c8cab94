import { readFileSync } from 'node:fs';

/**
 * Token usage as agent runtimes record it. Claude Code writes a transcript per session
 * (`<config dir>/projects/<folder>/<session id>.jsonl`): each assistant message carries
 * `message.usage` {input_tokens, output_tokens, cache_creation_input_tokens,
 * cache_read_input_tokens} and `message.model`, and is written once per content block with the
 * same message id and usage, so a message is counted once. Codex's rollout files are read in
 * `codex.ts`, Gemini CLI's chat records in `gemini.ts`; the other presets' CLIs keep no such record we can find, so their sessions have no
 * figures here.
 */
export interface Usage {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
  /** USD, when every message's model has a known price. */
  usd?: number;
  messages: number;
  /** Models whose price is not known (their tokens count, their cost does not). */
  unpriced?: string[];
}

export function emptyUsage(): Usage {
  return { input: 0, output: 0, cacheWrite: 0, cacheRead: 0, usd: 0, messages: 0 };
}

export function tokens(u: Usage): number {
  return u.input + u.output + u.cacheWrite + u.cacheRead;
}

export function addUsage(into: Usage, u: Usage): Usage {
  into.input += u.input;
  into.output += u.output;
  into.cacheWrite += u.cacheWrite;
  into.cacheRead += u.cacheRead;
  into.messages += u.messages;
  into.usd = into.usd === undefined || u.usd === undefined ? undefined : into.usd + u.usd;
  const unpriced = [...new Set([...(into.unpriced ?? []), ...(u.unpriced ?? [])])];
  if (unpriced.length) into.unpriced = unpriced;
  return into;
}

/** Anthropic's list prices, USD per million tokens (input, output); cache writes 1.25× input (5 min) or 2× (1 h), cache reads 0.1×. */
const PRICES: [RegExp, number, number][] = [
  [/opus-4-[5-9]/, 5, 25],
  [/opus-4|claude-3-opus/, 15, 75],
  [/sonnet-4|3-7-sonnet|3-5-sonnet/, 3, 15],
  [/haiku-4/, 1, 5],
  [/3-5-haiku/, 0.8, 4],
  [/3-haiku/, 0.25, 1.25],
];

function priceOf(model: string): [number, number] | undefined {
  const hit = PRICES.find(([re]) => re.test(model));
  return hit ? [hit[1], hit[2]] : undefined;
}

/** OpenAI's list prices for the models Codex runs, USD per million tokens (input, cached input, output; reasoning is billed as output). */
const OPENAI_PRICES: [RegExp, number, number, number][] = [
  [/^gpt-5\.2(-codex)?$/, 1.75, 0.175, 14],
  [/^gpt-5(\.1)?-codex-mini$|^gpt-5(\.1)?-mini$/, 0.25, 0.025, 2],
  [/^gpt-5-nano$/, 0.05, 0.005, 0.4],
  [/^gpt-5(\.1)?(-codex(-max)?)?$/, 1.25, 0.125, 10],
  [/^codex-mini-latest$/, 1.5, 0.375, 6],
  [/^o4-mini$/, 1.1, 0.275, 4.4],
  [/^gpt-4\.1$/, 2, 0.5, 8],
];

/** Google's list prices for Gemini models, USD per million tokens (input, cached input, output; thinking is billed as output); 2.5 Pro costs more for a prompt over 200k tokens. */
const GEMINI_PRICES: [RegExp, number, number, number, [number, number, number]?][] = [
  [/^gemini-2\.5-pro/, 1.25, 0.31, 10, [2.5, 0.625, 15]],
  [/^gemini-2\.5-flash-lite/, 0.1, 0.025, 0.4],
  [/^gemini-2\.5-flash/, 0.3, 0.075, 2.5],
];

/** USD for one Gemini response of `prompt` prompt tokens (`cached` of them from the cache) and `output` output and thinking tokens; undefined when the price is not known. */
export function geminiUsd(model: string, prompt: number, cached: number, output: number): number | undefined {
  const hit = GEMINI_PRICES.find(([re]) => re.test(model));
  if (!hit) return undefined;
  const [inp, cache, out] = prompt > 200_000 && hit[4] ? hit[4] : [hit[1], hit[2], hit[3]];
  return ((prompt - cached) * inp + cached * cache + output * out) / 1e6;
}

/** USD for `input` uncached input, `cached` cached input and `output` tokens of an OpenAI model; undefined when its price is not known. */
export function openaiUsd(model: string, input: number, cached: number, output: number): number | undefined {
  const hit = OPENAI_PRICES.find(([re]) => re.test(model));
  return hit ? (input * hit[1] + cached * hit[2] + output * hit[3]) / 1e6 : undefined;
}

interface ClaudeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number };
}

export const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

export interface TranscriptUsage {
  usage: Usage;
  /** Lines that could not be read, as "<file>:<line>: why". */
  problems: string[];
}

/** A usage file's text, or the answer that says it cannot be read. */
export function readUsageFile(file: string): string | TranscriptUsage {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    return { usage: emptyUsage(), problems: [`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`] };
  }
}

/** A Claude Code transcript's usage; a file that cannot be read, or lines that are not JSON, are named in `problems`, and the rest still counts. */
export function claudeTranscriptUsage(file: string): TranscriptUsage {
  const text = readUsageFile(file);
  if (typeof text !== 'string') return text;
  const usage = emptyUsage();
  const problems: string[] = [];
  const seen = new Set<string>();
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let entry: { type?: string; requestId?: string; message?: { id?: string; model?: string; usage?: ClaudeUsage } };
    try {
      entry = JSON.parse(line);
    } catch {
      // The last line of a live session may be half written: not a problem.
      if (i === lines.length - 1) return;
      problems.push(`${file}:${i + 1}: not a JSON line, skipped`);
      return;
    }
    if (entry?.type !== 'assistant' || !entry.message?.usage) return;
    const key = `${entry.message.id ?? `line${i}`}:${entry.requestId ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    const u = entry.message.usage;
    const write = n(u.cache_creation_input_tokens);
    const write1h = Math.min(write, n(u.cache_creation?.ephemeral_1h_input_tokens));
    const one: Usage = { input: n(u.input_tokens), output: n(u.output_tokens), cacheWrite: write, cacheRead: n(u.cache_read_input_tokens), messages: 1 };
    const model = entry.message.model ?? 'unknown';
    const price = priceOf(model);
    if (price) {
      const [inp, out] = price;
      one.usd = (one.input * inp + one.output * out + (write - write1h) * inp * 1.25 + write1h * inp * 2 + one.cacheRead * inp * 0.1) / 1e6;
    } else if (model !== '<synthetic>') {
      one.unpriced = [model];
    } else {
      one.usd = 0;
    }
    addUsage(usage, one);
  });
  return { usage, problems };
}
