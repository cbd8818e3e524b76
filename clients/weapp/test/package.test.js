// The package itself: ES2017 syntax, under 8 KB minified, loadable by
// require and by import, no dependencies.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

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

test('createClient refuses missing options', () => {
  const { createClient } = require('..');
  assert.throws(() => createClient({ appid: 'wx1' }), TypeError);
  assert.throws(() => createClient({ baseURL: 'http://x', appid: 'wx1' }), TypeError); // no wx in Node
});
