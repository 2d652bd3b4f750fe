#!/usr/bin/env node
// The `synapse` command. Runs the built CLI (dist/, `npm run build`) when it is up to date
// with its sources (bin/built-cli.mjs), else the TypeScript sources through tsx. The built
// CLI registers tsx and the `@synapse/sdk` alias only when a command imports plugin code
// (engine/plugin-import.ts), so that `synapse --help` or `run status` start without them.
import { builtCli } from './built-cli.mjs';

const built = builtCli();
if ('cli' in built) {
  if (process.env.SYNAPSE_DEBUG) process.setSourceMapsEnabled(true);
  const { main } = await import(built.cli);
  await main(process.argv, {
    preparePluginImport: async () => (await import('./plugin-hooks.mjs')).registerPluginHooks(built.sdk),
  });
} else {
  if (process.env.SYNAPSE_DEBUG) process.stderr.write(`synapse: running the sources: ${built.stale}\n`);
  await import('./register.mjs');
  const { main } = await import('../cli/main.ts');
  await main(process.argv);
}
