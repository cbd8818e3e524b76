// The package itself: ES2017 syntax, under 8 KB minified, loadable by
// require and by import, no dependencies, declarations that type-check.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { spawnSync } = require('node:child_process');

const dir = path.join(__dirname, '..');

test('index.js is ES2017', () => {
  const acorn = require('acorn');
  const src = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
  assert.doesNotThrow(() => acorn.parse(src, { ecmaVersion: 2017, sourceType: 'script' }));
  // Later syntax would be refused: the check is real.
  assert.throws(() => acorn.parse('const a = b?.c;', { ecmaVersion: 2017 }));
  assert.throws(() => acorn.parse('const a = {...b};', { ecmaVersion: 2017 }));
});

test('under 8 KB minified', async () => {
  const { minifiedSize } = require('../size.js');
  const n = await minifiedSize();
  assert.ok(n < 8192, `minified size ${n} bytes`);
});

test('require and import both work', async () => {
  const cjs = require('..');
  assert.equal(typeof cjs.createClient, 'function');
  const esm = await import(pathToFileURL(path.join(dir, 'index.js')).href);
  assert.equal(esm.createClient, cjs.createClient);
  assert.equal(esm.MinibackError, cjs.MinibackError);
});

test('no runtime dependencies, and the declarations name every export', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined);
  const dts = fs.readFileSync(path.join(dir, pkg.types), 'utf8');
  for (const name of Object.keys(require('..'))) {
    assert.match(dts, new RegExp(`export (declare )?(function|class) ${name}\\b`));
  }
});

test('the declarations type-check a mini program\'s use and refuse its misuses', () => {
  // tsc --strict on test/types/usage.ts: every call of the README and SPEC
  // typed, and @ts-expect-error lines that fail the check when a misuse
  // (PATCH, a numeric out_trade_no, no appid) is accepted.
  const tsc = path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2017', '--module', 'commonjs',
    '--moduleResolution', 'node', '--lib', 'es2017,dom', path.join(__dirname, 'types', 'usage.ts')], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});

test('createClient refuses missing options', () => {
  const { createClient } = require('..');
  assert.throws(() => createClient({ appid: 'wx1' }), TypeError);
  assert.throws(() => createClient({ baseURL: 'http://x', appid: 'wx1' }), TypeError); // no wx in Node
});
