#!/usr/bin/env node
// `npm run bench -- <name…>`: run the named benchmarks (all when none is named).
// Each benchmark is bench/<name>.mjs exporting `run()`; it prints a table and writes bench/results/<name>.md.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cleanEnvironment } from './_town.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('_')).map((f) => f.slice(0, -4));
// Names are the words that are neither flags nor a flag's value (`--trials 4`).
const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('-') && !(i > 0 && all[i - 1].startsWith('--') && /^\d+$/.test(a)));
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length) {
  console.error(`error: unknown benchmark ${unknown.join(', ')}; available: ${available.join(', ')}`);
  process.exit(2);
}
cleanEnvironment(process.argv.slice(2));
for (const name of wanted.length ? wanted : available) {
  console.log(`\n== bench ${name} ==`);
  const mod = await import(`./${name}.mjs`);
  await mod.run(process.argv.slice(2));
}
