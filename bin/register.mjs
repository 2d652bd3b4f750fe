// Lets Node run this project's TypeScript sources directly (tsx) and resolve `@synapse/sdk`
// for plugins to sdk/index.ts (bin/plugin-hooks.mjs). Imported first by the CLI when it runs
// from its sources, and by bin/run-ts.mjs.
import { registerPluginHooks } from './plugin-hooks.mjs';

registerPluginHooks(new URL('../sdk/index.ts', import.meta.url).href);
