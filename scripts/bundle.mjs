// Bundle the command lines into one file each, dist/bundle/gt.cjs and dist/bundle/bd.cjs (run by
// `npm run build`, after tsc; bin/gt.js and bin/bd.js load them).
//
// `gt` and `bd` are short processes, and agents run them several times a session (`gt hook`,
// `gt prime`, `gt mail check`, `gt done`, `bd show`): resolving, reading and compiling the 70 to
// 90 modules of a command's import graph cost more than its work (about 55 ms of CPU a `gt hook`,
// a third of it). esbuild turns the graph into one CommonJS file (bin/load.js runs it).
//
// What a command loads stays what it loads: a module reached only by a dynamic import is
// initialised when that import runs, and a package (Temporal's client, protobufjs, …) is
// required, from node_modules as before, by the module that imports it when that module is
// initialised, so `gt hook` still never loads the Temporal client. commander and smol-toml (pure
// JS, on most paths) are bundled in. The ink live view of `gt feed` is left out: it imports
// ESM-only packages (ink, react) that cannot be required, and a static import of them would load
// them for every command; it loads from dist/feed/ as tsc compiled it.
//
// The input is tsc's output (dist/cli/*.js), so the bundle runs exactly the compiled code.
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');

const INLINE = new Set(['commander', 'smol-toml']);
const builtins = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));
const packageOf = (path) => (path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0]);

// Node's built-in modules, taken the CommonJS way (process.getBuiltinModule, else require) rather
// than imported as ESM: importing node:fs as ESM builds its whole export namespace, which loads
// fs/promises and the stream modules (~1.5 ms) that a ledger command does not use.
// node:child_process (commander's, for external subcommands: ~2 ms) loads when it is first used.
const LAZY_BUILTINS = new Set(['node:child_process']);
const builtinShims = {
  name: 'builtin-shims',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/0-9]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name)) return undefined;
      if (args.namespace === 'builtin') return { path: args.path, external: true };
      return { path: `node:${name}`, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, ({ path }) => {
      const get = `typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule(${JSON.stringify(path)}) : require(${JSON.stringify(path)})`;
      const contents = LAZY_BUILTINS.has(path)
        ? `let m; const get = () => (m ??= ${get}); module.exports = new Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), getOwnPropertyDescriptor: (_, k) => Object.getOwnPropertyDescriptor(get(), k) });`
        : `module.exports = ${get};`;
      return { contents, loader: 'js' };
    });
  },
};

// Packages: required by the module that imports them, when it is initialised (see above).
const packages = {
  name: 'packages',
  setup(b) {
    b.onResolve({ filter: /^[@a-z]/ }, (args) => {
      if (args.namespace === 'package') return { path: args.path, external: true };
      if (args.path.startsWith('node:') || builtins.has(args.path)) return undefined;
      if (INLINE.has(packageOf(args.path))) return undefined;
      return { path: args.path, namespace: 'package' };
    });
    b.onLoad({ filter: /.*/, namespace: 'package' }, ({ path }) => ({ contents: `module.exports = require(${JSON.stringify(path)});`, loader: 'js' }));
    b.onResolve({ filter: /\/feed\/view\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: `./${relative(out, join(args.resolveDir, args.path))}`, external: true } : undefined,
    );
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { gt: join(dist, 'cli', 'gt.js'), bd: join(dist, 'cli', 'bd.js') },
  outdir: out,
  outExtension: { '.js': '.cjs' },
  bundle: true,
  // A CommonJS script, so bin/load.js can compile it with a V8 code cache (Node 20 has none for
  // ES modules): the compile of the whole file was a third of a short command's own CPU.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [packages, builtinShims],
  // The compiled modules find their files from import.meta.url: in the bundle, the bundle's own URL.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: {
    js: [
      "var __bundleUrl = require('node:url').pathToFileURL(__filename).href;",
      // An import() in a script compiled from a V8 code cache loses its callback on Node 20: the
      // loader (bin/load.js) lends its own import() for the ES modules left outside the bundle.
      "var __bundleImport = (spec) => (globalThis[Symbol.for('gastown.esmImport')] ?? ((u) => import(u)))(require('node:url').pathToFileURL(require('node:path').join(__dirname, spec)).href);",
    ].join('\n'),
  },
  logLevel: 'warning',
  legalComments: 'none',
});
// The import()s of modules left outside (the ink view of gt feed) go through __bundleImport.
for (const name of ['gt', 'bd']) {
  const file = join(out, `${name}.cjs`);
  const text = readFileSync(file, 'utf8');
  const outside = /\bimport\(("\.[^"]+")\)/g;
  writeFileSync(file, text.replace(outside, '__bundleImport($1)'));
  const left = text.replace(outside, '').replace("((u) => import(u))", '').match(/\bimport\(/g);
  if (left) throw new Error(`${name}.cjs: an import() that is not of a file outside the bundle (${left.length}); bin/load.js cannot run it from a code cache`);
}
