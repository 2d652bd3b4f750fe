// Lets Node run this project's TypeScript directly (tsx) and resolve `@synapse/sdk` for plugins.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./sdk-alias-hooks.mjs', import.meta.url);
