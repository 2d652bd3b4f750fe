// Module resolve hook: `@synapse/sdk` in plugin code means this project's SDK, wherever the
// plugin folder is. Plugins then share the engine's classes (instanceof works) and need no
// install step. Which SDK module: the `sdkUrl` given at registration (bin/plugin-hooks.mjs),
// by default the sources' sdk/index.ts.
let sdkUrl = new URL('../sdk/index.ts', import.meta.url).href;

export function initialize(data) {
  if (data && typeof data.sdkUrl === 'string') sdkUrl = data.sdkUrl;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@synapse/sdk') return nextResolve(sdkUrl, context);
  return nextResolve(specifier, context);
}
