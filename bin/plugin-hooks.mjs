// Makes TypeScript plugin code importable in this process: tsx transpiles it, and
// `@synapse/sdk` resolves to `sdkUrl`, the SDK module the engine itself uses (sdk/index.ts
// when running the sources, dist/sdk.mjs when running the build), so that plugin classes
// extend the engine's own Action (instanceof works) and plugins need no install step.
// The alias hook is registered after tsx so that it runs first (module hooks chain from
// the last registered), ahead of tsx's own tsconfig `paths` lookup.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

/** @param {string} sdkUrl file URL of the SDK entry module plugins must share */
export function registerPluginHooks(sdkUrl) {
  registerTsx();
  register('./sdk-alias-hooks.mjs', { parentURL: import.meta.url, data: { sdkUrl } });
}
