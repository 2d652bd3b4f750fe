#!/usr/bin/env node
// `npm run build`: bundles the `synapse` CLI into dist/ with esbuild, so that a command no
// longer pays for transpiling TypeScript at start (bin/synapse.mjs runs dist/ when it is up
// to date, else the sources through tsx).
//
// - Two entries, one module graph: dist/cli.mjs (cli/main.ts) and dist/sdk.mjs (sdk/index.ts),
//   split into shared chunks, so the SDK classes the engine checks against and the ones
//   plugin code imports as `@synapse/sdk` (aliased to dist/sdk.mjs) are the same instances.
// - Every file sits directly in dist/, one level below the root like cli/, engine/ and
//   workers/, so paths made from import.meta (`../plugins`, `../workflows/`,
//   `../runtimes/python/`) find the same folders from the build as from the sources.
// - Packages stay external (node_modules is loaded as is: native modules, Temporal's
//   workflow bundler); the action handlers' dynamic imports become their own chunks, so a
//   command loads only what it uses.
// - dist/build.json lists the bundled source files and when the build started (a source
//   changed after that makes bin/synapse.mjs run the sources instead), and the modules this
//   build wrote. It is written last.
// - Chunk names carry a content hash and the previous build's files are not deleted at once:
//   a `synapse worker` or `gateway` started from the last build still imports its lazy chunks
//   after a rebuild. Files no build has written for a week are removed.
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

const builtAt = Date.now();
const WEEK_MS = 7 * 24 * 3600 * 1000;
// Not a fresh build until build.json says so again (bin/built-cli.mjs runs the sources meanwhile).
rmSync(path.join(DIST, 'build.json'), { force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { cli: 'cli/main.ts', sdk: 'sdk/index.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: '[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
const inputs = Object.keys(result.metafile.inputs)
  .filter((file) => !file.startsWith('node_modules/'))
  .sort();
const written = new Set(Object.keys(result.metafile.outputs).map((file) => path.basename(file)));
for (const file of readdirSync(DIST)) {
  const full = path.join(DIST, file);
  if (!written.has(file) && file !== 'build.json' && builtAt - statSync(full).mtimeMs > WEEK_MS) rmSync(full, { force: true });
}
const outputs = [...written].filter((file) => file.endsWith('.mjs')).sort();
writeFileSync(path.join(DIST, 'build.json'), JSON.stringify({ builtAt, inputs, outputs }, null, 2) + '\n');
process.stderr.write(`built dist/: ${outputs.length} modules from ${inputs.length} source files in ${((Date.now() - builtAt) / 1000).toFixed(1)} s\n`);
