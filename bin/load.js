// Runs a bundled CLI (dist/bundle/<name>.cjs, made by scripts/bundle.mjs) with a V8 code cache
// kept beside it (<name>.cjs.cache): compiling the whole bundle was a third of a short
// command's own CPU (`gt hook`, `gt done`, `bd show`, run many times a session by every agent),
// and Node 20 keeps no compile cache of its own. The cache is written once, by the first run
// that finds none or finds it rejected (another Node or V8); where dist/ cannot be written it is
// simply not kept. A build without the bundle (plain tsc) runs the compiled modules.
// This folder is CommonJS (bin/package.json): an ES module entry makes Node load its ES module
// loader first, about 3 ms of every command's start.
const fs = require('node:fs');
const vm = require('node:vm');
const Module = require('node:module');
const path = require('node:path');

exports.runCli = function runCli(name) {
  const file = path.join(__dirname, '..', 'dist', 'bundle', `${name}.cjs`);
  let source;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    import(require('node:url').pathToFileURL(path.join(__dirname, '..', 'dist', 'cli', `${name}.js`)).href).catch((err) => {
      process.stderr.write(`${name}: ${err.stack ?? err}\n`);
      process.exit(1);
    });
    return;
  }
  const cacheFile = `${file}.cache`;
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    // none yet
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  // An import() compiled from a code cache has no callback on Node 20: the bundle imports the ES
  // modules it leaves outside (the ink view of `gt feed`) through this one.
  globalThis[Symbol.for('gastown.esmImport')] = (href) => import(href);
  if (!cachedData || script.cachedDataRejected) {
    // At exit, so the functions this run compiled are in it too.
    process.once('exit', () => {
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    });
  }
  const module = new Module(file);
  module.filename = file;
  module.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext()(module.exports, Module.createRequire(file), module, file, path.dirname(file));
};
