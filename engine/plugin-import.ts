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

/**
 * Modules imported so far, by URL. `import(url)` of a URL imported before answers the same
 * module, but only after a trip through the loader hooks (tsx, the SDK alias: ~1 ms on their
 * thread); a client that starts many runs (the gateway, the benches) asks for the same URLs
 * again and again. A failed import is not kept: the next call tries again, as `import` does.
 */
const imported = new Map<string, Promise<Record<string, unknown>>>();

/** Imports a plugin module by file URL, after the preparation (once per process). */
export function importPluginModule(url: string): Promise<Record<string, unknown>> {
  if (source) return source(url);
  let module = imported.get(url);
  if (!module) {
    module = importAfterPreparation(url);
    imported.set(url, module);
    module.catch(() => imported.delete(url));
  }
  return module;
}

async function importAfterPreparation(url: string): Promise<Record<string, unknown>> {
  if (prepare) {
    prepared ??= prepare().catch((err: unknown) => {
      prepared = undefined;
      throw err;
    });
    await prepared;
  }
  return (await import(url)) as Record<string, unknown>;
}
