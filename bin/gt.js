#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs, built by `npm run build`): one file to load instead of
// dozens of modules. A build without the bundle (plain tsc) runs the compiled modules.
const { existsSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
const bundle = new URL('../dist/bundle/gt.js', import.meta.url);
await import(existsSync(bundle) ? bundle.href : '../dist/cli/gt.js');
