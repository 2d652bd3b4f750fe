/**
 * config.yaml files as last read, by the file's identity and change stamps. findPlugin
 * (plugin-loader.ts) looks a plugin up on every step of every run, reading each config.yaml of
 * the search folders: under load that was most of a step's own overhead (18-25 ms p50 with 14
 * built-ins, bench/README.md). A file read before is now only stat'ed: unchanged (same device,
 * inode, size, mtime and ctime in nanoseconds) its parsed config is reused; changed, replaced
 * (a new inode) or removed it is read again, so an edited dev folder is seen at its next step.
 * A config that failed to read or check fails the same way until the file changes.
 *
 * What it answers is the cached object itself, to be treated as read-only: findPlugin clones
 * only the config it returns (structuredClone), so a caller that edits its config cannot change
 * what the next one finds, and a lookup among many plugins clones one config, not each.
 * The stat is synchronous: a few microseconds a file, where an awaited one costs a thread-pool
 * round trip per file (a lookup by code stats every config.yaml of the search folders).
 */
import { statSync } from 'node:fs';
import type { PluginConfig } from '../sdk/config.js';

/** Files kept at most (the oldest read is dropped first); far above any search folder's plugin count. */
const MAX_FILES = 2000;

interface Entry {
  /** dev:ino:size:mtimeNs:ctimeNs of the file when it was read. */
  stamp: string;
  outcome: { ok: true; config: PluginConfig } | { ok: false; error: unknown };
}

const cache = new Map<string, Entry>();
const counts = { hits: 0, reads: 0 };

/**
 * The config of `file` (an absolute path), read with `read` when it is not cached or changed
 * since: the cached object, not to be modified (clone it before handing it out). Throws what
 * `read` throws (ConfigError, ...), and stat's error (ENOENT) for a missing file.
 */
export async function cachedPluginConfig(file: string, read: (file: string) => Promise<PluginConfig>): Promise<Readonly<PluginConfig>> {
  const s = statSync(file, { bigint: true });
  const stamp = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  let entry = cache.get(file);
  if (entry?.stamp === stamp) {
    counts.hits++;
  } else {
    counts.reads++;
    let outcome: Entry['outcome'];
    try {
      outcome = { ok: true, config: await read(file) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    entry = { stamp, outcome };
    cache.delete(file);
    cache.set(file, entry);
    if (cache.size > MAX_FILES) cache.delete(cache.keys().next().value as string);
  }
  if (!entry.outcome.ok) throw entry.outcome.error;
  return entry.outcome.config;
}

/** How many lookups were answered from the cache and how many read the file (tests, benches). */
export function pluginConfigCacheCounts(): { hits: number; reads: number } {
  return { ...counts };
}
