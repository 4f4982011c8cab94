import { readFileSync } from 'node:fs';
import { addUsage, emptyUsage, geminiUsd, n, type TranscriptUsage, type Usage } from './usage.js';

/**
 * Gemini CLI's record of a session: the file its hooks name as `transcript_path`
 * (`~/.gemini/tmp/<project hash>/chats/session-….json`), one JSON object {sessionId, startTime,
 * messages: [...]} rewritten as the session goes; each `gemini` message carries `model` and
 * `tokens` {input (the prompt, cached part included), output, cached, thoughts, tool (tool-use
 * prompt), total}.
 */
export function geminiChatUsage(file: string): TranscriptUsage {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { usage: emptyUsage(), problems: [code ? `${file}: cannot be read (${code})` : `${file}: not a Gemini CLI chat record (${(err as Error).message}), skipped`] };
  }
  const messages = (value as { messages?: unknown })?.messages;
  if (!Array.isArray(messages)) return { usage: emptyUsage(), problems: [`${file}: not a Gemini CLI chat record (no messages), skipped`] };
  const usage = emptyUsage();
  for (const m of messages as { type?: string; model?: string; tokens?: { input?: number; output?: number; cached?: number; thoughts?: number; tool?: number } | null }[]) {
    if (m?.type !== 'gemini' || !m.tokens) continue;
    const prompt = n(m.tokens.input) + n(m.tokens.tool);
    const cached = Math.min(n(m.tokens.cached), prompt);
    const output = n(m.tokens.output) + n(m.tokens.thoughts);
    const one: Usage = { input: prompt - cached, output, cacheWrite: 0, cacheRead: cached, messages: 1 };
    const model = m.model ?? 'unknown';
    const usd = geminiUsd(model, prompt, cached, output);
    if (usd === undefined) one.unpriced = [model];
    else one.usd = usd;
    addUsage(usage, one);
  }
  return { usage, problems: [] };
}
