/**
 * Importing plugin code. TypeScript plugins are imported at run time with no build step of
 * their own: the process needs a TypeScript loader (tsx) and the `@synapse/sdk` alias
 * (bin/sdk-alias-hooks.mjs) that maps plugins onto the engine's own SDK module, so that
 * `instanceof Action` holds. The CLI run from its sources has both from its first line; the
 * built CLI (dist/) registers them only when a command first imports plugin code, so that
 * commands which never do (`--help`, `run status`) start without them. Its entry point
 * (bin/synapse.mjs) sets that preparation here; this file imports nothing, so setting it
 * costs nothing.
 */

let prepare: (() => Promise<void>) | undefined;
let prepared: Promise<void> | undefined;

/** Sets what must run once before the first plugin module is imported (none: import as is). */
export function setPluginImportPreparation(fn: (() => Promise<void>) | undefined): void {
  prepare = fn;
  prepared = undefined;
}

let source: ((url: string) => Promise<Record<string, unknown>>) | undefined;

/**
 * Where plugin modules come from instead of `import(url)`: a plugin host
 * (activities/plugin-host-main.ts) has its plugin's modules bundled in, by file URL.
 */
export function setPluginModuleSource(fn: typeof source): void {
  source = fn;
}

/** True in a plugin host: its plugin's modules (and their npm dependencies) are bundled in. */
export function pluginModulesAreBundled(): boolean {
  return source !== undefined;
}

/** Imports a plugin module by file URL, after the preparation (once per process). */
export async function importPluginModule(url: string): Promise<Record<string, unknown>> {
  if (source) return source(url);
  if (prepare) {
    prepared ??= prepare().catch((err: unknown) => {
      prepared = undefined;
      throw err;
    });
    await prepared;
  }
  return (await import(url)) as Record<string, unknown>;
}
