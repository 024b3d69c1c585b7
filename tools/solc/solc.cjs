#!/usr/bin/env node
// A native-solc look-alike around solc-js (the npm package `solc`), for py-solc-x / ape-solidity.
//
// It answers the two invocations ape-solidity makes:
//   solc --version                      -> the native banner, so the version can be parsed
//   solc --standard-json [--base-path P] [--allow-paths A,B] [--include-path I] < input.json
// Imports that are not inlined in the input are read from the base path, the include paths,
// the allowed paths, and then from the project's node_modules (for @openzeppelin/contracts).
'use strict';

const fs = require('fs');
const path = require('path');

const projectRoot = path.resolve(__dirname, '..', '..');
const solc = require(require.resolve('solc', { paths: [projectRoot] }));

function parseArgs(argv) {
  const opts = { includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const next = () => {
      i += 1;
      if (i >= argv.length) fail(`missing value after ${arg}`);
      return argv[i];
    };
    if (arg === '--version') opts.version = true;
    else if (arg === '--standard-json') opts.standardJson = true;
    else if (arg === '--base-path') opts.basePath = next();
    else if (arg === '--include-path') opts.includePaths.push(next());
    else if (arg === '--allow-paths') opts.allowPaths.push(...next().split(','));
    else if (arg === '-') continue;
    else fail(`unsupported option ${arg} (this wrapper only serves --version and --standard-json)`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`solc-js wrapper: ${message}\n`);
  process.exit(1);
}

function importResolver(opts) {
  const roots = [
    opts.basePath,
    ...opts.includePaths,
    ...opts.allowPaths,
    process.cwd(),
    path.join(projectRoot, 'node_modules'),
  ].filter(Boolean);
  return (importPath) => {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((root) => path.resolve(root, importPath));
    for (const candidate of candidates) {
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        return { contents: fs.readFileSync(candidate, 'utf8') };
      }
    }
    return { error: `File not found: ${importPath} (looked in ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    // Same shape as native solc, e.g. "Version: 0.8.28+commit.7893614a.Linux.g++".
    const version = solc.version().replace(/\.Emscripten\.clang$/, '.Linux.g++');
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`);
    return;
  }
  if (!opts.standardJson) fail('expected --version or --standard-json');
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: importResolver(opts) });
  process.stdout.write(output);
}

main();
