#!/usr/bin/env node
// The bundled CLI (scripts/bundle.mjs, built by `npm run build`), run by bin/load.js.
require('./load.js').runCli('bd');
