// Bundles the console (src/) into OUTDIR: index.html, app.js and app.css, nothing else.
// Usage: node build.mjs OUTDIR (scripts/build-console runs it after `npm ci`).
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, 'dist'));
const files = ['index.html', 'app.js', 'app.css'];

await mkdir(out, { recursive: true });
// OUTDIR is embedded whole into the binary: leave nothing else in it.
for (const name of await readdir(out)) {
  if (!files.includes(name)) await rm(path.join(out, name), { recursive: true, force: true });
}
await build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  outdir: out,
  legalComments: 'eof',
  logLevel: 'warning',
});
await copyFile(path.join(here, 'src/index.html'), path.join(out, 'index.html'));
const made = (await readdir(out)).sort();
if (made.join(',') !== [...files].sort().join(',')) {
  throw new Error(`build.mjs: expected ${files.join(', ')} in ${out}, found ${made.join(', ')}`);
}
