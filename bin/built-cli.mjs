// Whether to run the built CLI: dist/ (made by `npm run build`, scripts/build-cli.mjs) is
// used when it is there and no source file it was built from changed since, else `synapse`
// runs the TypeScript sources through tsx as it always could. The check is one small JSON
// read and a stat per bundled source file (a few milliseconds), so an edited checkout never
// runs stale code and nobody has to remember to rebuild.
import { readFileSync, statSync } from 'node:fs';

const ROOT = new URL('../', import.meta.url);

/**
 * The built CLI's entry modules as file URLs, or the reason the sources must run instead:
 * no build, a source newer than the build or gone since, or SYNAPSE_FROM_SOURCE=1.
 * @param {URL} [root] the checkout (a URL ending in `/`); tests pass their own
 * @returns {{ cli: string, sdk: string } | { stale: string }}
 */
export function builtCli(root = ROOT) {
  if (process.env.SYNAPSE_FROM_SOURCE === '1') return { stale: 'SYNAPSE_FROM_SOURCE=1' };
  const dist = new URL('dist/', root);
  let info;
  try {
    info = JSON.parse(readFileSync(new URL('build.json', dist), 'utf8'));
  } catch {
    return { stale: 'no dist/build.json (run `npm run build`)' };
  }
  if (typeof info?.builtAt !== 'number' || !Array.isArray(info.inputs)) return { stale: 'dist/build.json is not one this version wrote' };
  for (const input of info.inputs) {
    let mtime;
    try {
      mtime = statSync(new URL(input, root)).mtimeMs;
    } catch {
      return { stale: `${input} is gone since the build` };
    }
    if (mtime > info.builtAt) return { stale: `${input} changed since the build` };
  }
  return { cli: new URL('cli.mjs', dist).href, sdk: new URL('sdk.mjs', dist).href };
}
