// Bundle the `bd` command line into one file, dist/bundle/bd.js (run by `npm run build`, after
// tsc; bin/bd.js loads it).
//
// A `bd` ledger command is a short process: resolving, reading and compiling the ~25 modules of
// its static import graph (commander's files among them) costs more than its work on a small
// ledger. esbuild turns that graph into one ESM file. Packages other than commander stay
// external (loaded from node_modules as before), so Temporal's code is never touched here.
//
// The input is tsc's output (dist/cli/bd.js), so the bundle runs exactly the compiled code.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');
const pkg = (await import(join(root, 'package.json'), { with: { type: 'json' } })).default;
// Bundled: commander (pure JS, on every command's path). Everything else stays a package import.
const external = Object.keys(pkg.dependencies ?? {}).filter((name) => name !== 'commander');

// Node's built-in modules, taken the CommonJS way (process.getBuiltinModule, else require) rather
// than imported as ESM: importing node:fs as ESM builds its whole export namespace, which loads
// fs/promises and the stream modules (~1.5 ms) that no ledger command uses. node:child_process
// (commander's, for external subcommands: ~2 ms) loads only when it is first used.
const LAZY = new Set(['node:child_process']);
const builtins = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));
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
      const contents = LAZY.has(path)
        ? `let m; const get = () => (m ??= ${get}); module.exports = new Proxy({}, { get: (_, k) => get()[k], has: (_, k) => k in get(), ownKeys: () => Reflect.ownKeys(get()), getOwnPropertyDescriptor: (_, k) => Object.getOwnPropertyDescriptor(get(), k) });`
        : `module.exports = ${get};`;
      return { contents, loader: 'js' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
// Formula and molecule commands (bd.ts imports them dynamically, only when they may run) are not
// bundled: they load as tsc compiled them, from dist/cli/bd/, with the Temporal client behind
// their own dynamic imports. Bundling them in would hoist those packages' static imports into
// the one file (esbuild keeps external imports static), and code splitting would cut the
// ledger path into a dozen chunks (10 ms more than one file here). They share no module state
// with the ledger commands: their errors are reported by their own action wrappers.
const lazyCommands = {
  name: 'lazy-commands',
  setup(b) {
    b.onResolve({ filter: /^\.\/bd\/(formula|cook)\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: `../cli/bd/${args.path.slice('./bd/'.length)}`, external: true } : undefined,
    );
    // Telling convoys of a change by hand needs the Temporal client: loaded only when a convoy tracks the bead.
    b.onResolve({ filter: /^\.\.\/\.\.\/convoy\/tell\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: '../convoy/tell.js', external: true } : undefined,
    );
    // An agent's command sent to the town through the engine (GT_TOWN_REMOTE) needs the Temporal client too.
    b.onResolve({ filter: /^\.\.\/remote\/client\.js$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: '../remote/client.js', external: true } : undefined,
    );
  },
};

await build({
  entryPoints: { bd: join(dist, 'cli', 'bd.js') },
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  plugins: [lazyCommands, builtinShims],
  // Built-ins without process.getBuiltinModule (Node before 20.16) need a real `require` in ESM.
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'none',
});
