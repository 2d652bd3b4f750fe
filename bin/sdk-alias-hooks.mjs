// Module resolve hook: `@synapse/sdk` in plugin code means this project's SDK, wherever the
// plugin folder is. Plugins then share the engine's classes (instanceof works) and need no
// install step.
const SDK_URL = new URL('../sdk/index.ts', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === '@synapse/sdk') return nextResolve(SDK_URL, context);
  return nextResolve(specifier, context);
}
