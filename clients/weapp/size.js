// Prints the size of index.js minified by terser (the measure behind the
// "under 8 KB minified" promise): node size.js
'use strict';
const fs = require('fs');
const path = require('path');

async function minifiedSize() {
  const { minify } = require('terser');
  const src = fs.readFileSync(path.join(__dirname, 'index.js'), 'utf8');
  const out = await minify(src, { ecma: 2017, compress: true, mangle: true });
  return Buffer.byteLength(out.code);
}

module.exports = { minifiedSize };

if (require.main === module) {
  minifiedSize().then((n) => console.log(`index.js minified: ${n} bytes`));
}
