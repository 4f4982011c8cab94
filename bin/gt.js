#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs, built by `npm run build`), run by bin/load.js.
import { runCli } from './load.js';

await runCli('gt');
