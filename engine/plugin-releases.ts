/**
 * Plugin releases: publishing a plugin folder as an immutable `code@version` archive in a
 * storage (recorded in the platform's plugin_releases table with its sha256), and finding a
 * release again on any machine that shares the platform database and the storage.
 *
 * Resolution order for `code@version` stays the loader's: the search folders first; only
 * when none holds it does the release fallback (enabled per process by `useReleases`) look
 * up the release, download its archive, verify the sha256 against the release row, validate
 * every entry (engine/plugin-archive.ts), and extract it into `<data dir>/plugins/<code>/<version>/`
 * through a temp folder renamed into place, so a half-extracted release is never used.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase } from '../platform/db.js';
import {
  createPluginRelease,
  ensureDefaultStorage,
  getPluginRelease,
  getStorage,
  newestPluginRelease,
  type PluginRelease,
  type Storage,
} from '../platform/repositories/index.js';
import { openStorage } from '../storage/index.js';
import { parsePluginConfig, PluginConfigSchema } from '../sdk/config.js';
import { InvalidInputError, NonRetriableError, NotFoundError } from '../contracts/errors.js';
import { DEFAULT_ARCHIVE_LIMITS, packPluginDir, readTarGz, RELEASE_MARKER, sha256, writeEntries, type ArchiveLimits } from './plugin-archive.js';
import { findPlugin, loadAction, readPluginConfig, setReleaseFallback, type Plugin } from './plugin-loader.js';
import { assertPluginFolder, codeLoadError } from './plugin-check.js';

/** The archive of a release failed its checksum or does not hold the release it claims. Never retried. */
export class ReleaseIntegrityError extends NonRetriableError {}

/** Where a release's archive lives in its storage. */
export function releaseKey(code: string, version: string): string {
  return `plugins/${code}/${version}/${code}-${version}.tar.gz`;
}

/** Where a release is extracted on this machine. */
export function releaseCacheDir(dataDir: string, code: string, version: string): string {
  return path.join(path.resolve(dataDir), 'plugins', code, version);
}

/** What `synapse plugin check` checks: config.yaml, and every action's entrypoint resolves to its class. */
export async function checkPluginDir(dir: string): Promise<Plugin> {
  const resolved = await assertPluginFolder(dir);
  await readPluginConfig(path.join(resolved, 'config.yaml'));
  const plugin = await findPlugin(resolved);
  for (const name of Object.keys(plugin.config.actions)) {
    try {
      await loadAction(plugin, name);
    } catch (err) {
      // Code that does not load: where, relative to the plugin folder, and for a module Node
      // reads as CommonJS (no package.json "type": "module"), what to add (plugin-check.ts).
      throw codeLoadError(err, resolved, name, `plugin ${plugin.config.code}: action ${name} does not load`);
    }
  }
  return plugin;
}

export interface PublishResult {
  /**
   * `unchanged`: this exact archive was published already; nothing was written.
   * `restored`: it was published, but its object was missing from the storage and was put back.
   */
  status: 'published' | 'unchanged' | 'restored';
  release: PluginRelease;
  storage: { id: number; name: string };
  key: string;
  bytes: number;
  /** The paths in the archive, sorted. */
  files: string[];
  /** The paths left out: secrets, EXCLUDED_NAMES and what `.synapseignore` names (engine/plugin-archive.ts). */
  excluded: string[];
}

/**
 * Checks, archives and publishes a plugin folder. Releases are immutable: the same version
 * with the same checksum is a no-op; with another checksum it is refused (bump the version).
 */
export async function publishPlugin(opts: {
  dir: string;
  dataDir: string;
  storage?: string;
  limits?: ArchiveLimits;
  /** How the folder is checked; default checkPluginDir (imports its modules here). The gateway's loads them in plugin hosts. */
  check?: (dir: string) => Promise<Plugin>;
}): Promise<PublishResult> {
  const plugin = await (opts.check ?? checkPluginDir)(opts.dir);
  const { code, version } = plugin.config;
  const packed = await packPluginDir(plugin.dir, opts.limits);
  const platform = await openDatabase({ dataDir: opts.dataDir });
  try {
    const { db } = platform;
    const existing = await getPluginRelease(db, code, version).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (existing) {
      if (existing.checksum !== packed.sha256) {
        throw new InvalidInputError(`cannot publish ${code}@${version}`, [
          {
            path: 'version',
            message: `${code}@${version} is published already with sha256 ${existing.checksum}, and these files give ${packed.sha256}; releases are immutable: bump the version in config.yaml`,
          },
        ]);
      }
      const where = existing.archive ? await getStorage(db, existing.archive.storage) : undefined;
      let status: PublishResult['status'] = 'unchanged';
      if (where && existing.archive) {
        // The row outlived its object (deleted by hand, a lost bucket): the same bytes put it back.
        const provider = openStorage(where.config, { dataDir: opts.dataDir, name: where.name });
        try {
          if (!(await provider.exists(existing.archive.key))) {
            await provider.put(existing.archive.key, packed.archive, { contentType: 'application/gzip' });
            status = 'restored';
          }
        } finally {
          await provider.close?.();
        }
      }
      return {
        status,
        release: existing,
        storage: { id: where?.id ?? 0, name: where?.name ?? '' },
        key: existing.archive?.key ?? '',
        bytes: packed.archive.length,
        files: packed.files,
        excluded: packed.excluded,
      };
    }
    const record: Storage = opts.storage === undefined || opts.storage === 'default' ? await ensureDefaultStorage(db) : await getStorage(db, opts.storage);
    const key = releaseKey(code, version);
    const provider = openStorage(record.config, { dataDir: opts.dataDir, name: record.name });
    try {
      // The object is written before the row: a release row always points at its archive.
      // A crash in between leaves an unrecorded object, which the next publish overwrites.
      await provider.put(key, packed.archive, { contentType: 'application/gzip' });
    } finally {
      await provider.close?.();
    }
    const release = await createPluginRelease(db, {
      code,
      version,
      checksum: packed.sha256,
      config: plugin.config as unknown as Record<string, unknown>,
      archive: { storage: record.id, key },
    });
    return {
      status: 'published',
      release,
      storage: { id: record.id, name: record.name },
      key,
      bytes: packed.archive.length,
      files: packed.files,
      excluded: packed.excluded,
    };
  } finally {
    await platform.close();
  }
}

export interface ResolveOptions {
  dataDir: string;
  limits?: ArchiveLimits;
}

const inFlight = new Map<string, Promise<Plugin | undefined>>();

/**
 * The plugin folder of release `code@version`, extracted into this machine's cache on first
 * use; undefined when there is no such release. Concurrent calls in one process share one
 * download; separate processes each extract into their own temp folder and the first rename wins.
 */
export function resolveRelease(opts: ResolveOptions, code: string, version: string): Promise<Plugin | undefined> {
  const problems = [
    ...(PluginConfigSchema.shape.code.safeParse(code).success
      ? []
      : [{ path: 'plugin', message: `${JSON.stringify(code)} is not a plugin code (^[a-z0-9_-]+$)` }]),
    ...(PluginConfigSchema.shape.version.safeParse(version).success
      ? []
      : [{ path: 'plugin', message: `${JSON.stringify(version)} is not a semantic version such as 1.0.0` }]),
  ];
  if (problems.length) return Promise.reject(new InvalidInputError(`invalid plugin reference ${code}@${version}`, problems));
  const id = `${path.resolve(opts.dataDir)}\0${code}@${version}`;
  let pending = inFlight.get(id);
  if (!pending) {
    pending = resolveUncached(opts, code, version).finally(() => inFlight.delete(id));
    inFlight.set(id, pending);
  }
  return pending;
}

async function cached(dir: string): Promise<Plugin | undefined> {
  // The marker is written inside the temp folder before the rename: its presence means complete.
  if (!existsSync(path.join(dir, RELEASE_MARKER))) return undefined;
  return { dir, config: await readPluginConfig(path.join(dir, 'config.yaml')) };
}

async function resolveUncached(opts: ResolveOptions, code: string, version: string): Promise<Plugin | undefined> {
  const dir = releaseCacheDir(opts.dataDir, code, version);
  const hit = await cached(dir);
  if (hit) return hit;
  const limits = opts.limits ?? DEFAULT_ARCHIVE_LIMITS;
  const ref = `${code}@${version}`;
  const platform = await openDatabase({ dataDir: opts.dataDir });
  let archive: Buffer;
  let release: PluginRelease;
  try {
    try {
      release = await getPluginRelease(platform.db, code, version);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
    if (!release.archive) throw new NotFoundError(`release ${ref} has no archive in a storage`);
    const record = await getStorage(platform.db, release.archive.storage);
    const provider = openStorage(record.config, { dataDir: opts.dataDir, name: record.name });
    const where = `storage "${record.name}" key ${release.archive.key}`;
    try {
      // Look at the stored size before downloading: a huge object is refused without reading it.
      let size: number | undefined;
      for await (const o of provider.list(release.archive.key)) {
        if (o.key === release.archive.key) size = o.size;
        break;
      }
      if (size === undefined) throw new NotFoundError(`the archive of release ${ref} is missing: ${where}`);
      if (size > limits.maxTotalBytes)
        throw new ReleaseIntegrityError(`the archive of release ${ref} is ${size} bytes, over the ${limits.maxTotalBytes}-byte limit (${where})`);
      archive = await provider.get(release.archive.key);
    } finally {
      await provider.close?.();
    }
    const actual = sha256(archive);
    if (actual !== release.checksum) {
      throw new ReleaseIntegrityError(
        `the archive of release ${ref} fails its checksum: ${where} has sha256 ${actual}, the release records ${release.checksum}; nothing was extracted`,
      );
    }
  } finally {
    await platform.close();
  }

  // Validate every entry and the manifest before writing a byte.
  const name = `${ref} (${path.basename(release.archive.key)})`;
  const entries = await readTarGz(archive, name, limits);
  const manifest = entries.find((e) => e.path === 'config.yaml' && e.type === 'file');
  if (!manifest) throw new ReleaseIntegrityError(`the archive of release ${ref} has no config.yaml`);
  const config = parsePluginConfig(manifest.data.toString('utf8'), `${name}:config.yaml`);
  if (config.code !== code || config.version !== version) {
    throw new ReleaseIntegrityError(`the archive of release ${ref} holds ${config.code}@${config.version}, not ${ref}`);
  }
  if (entries.some((e) => e.path === RELEASE_MARKER))
    throw new ReleaseIntegrityError(`the archive of release ${ref} contains the reserved file ${RELEASE_MARKER}`);

  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeStaleTemps(parent);
  await ensureModuleScope(path.dirname(parent));
  const tmp = path.join(parent, `.tmp-${version}-${randomBytes(6).toString('hex')}`);
  try {
    await writeEntries(entries, tmp);
    await writeFile(
      path.join(tmp, RELEASE_MARKER),
      JSON.stringify({ code, version, checksum: release.checksum, extractedAt: new Date().toISOString() }) + '\n',
    );
    try {
      await rename(tmp, dir);
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      // Another process finished first: use its copy (the same checksum, by construction).
      if (errno !== 'ENOTEMPTY' && errno !== 'EEXIST') throw err;
      const other = await cached(dir);
      if (!other) throw new Error(`${dir} exists but is not a complete extracted release; remove it and retry`, { cause: err });
      return other;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { dir, config };
}

/** Temp folders of extractions killed midway (a crashed process): older than an hour, nobody is writing them. */
async function removeStaleTemps(parent: string): Promise<void> {
  const cutoff = Date.now() - 3600_000;
  for (const name of await readdir(parent)) {
    if (!name.startsWith('.tmp-')) continue;
    const full = path.join(parent, name);
    const st = await stat(full).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) await rm(full, { recursive: true, force: true });
  }
}

/**
 * `<data dir>/plugins/package.json` with "type": "module": a release without its own
 * package.json then loads its .ts files as ES modules, as it did in the folder it was
 * published from (inside this project, whose package.json says the same). Outside the
 * release folders, so the extracted files stay exactly what the checksum covered.
 */
async function ensureModuleScope(cacheRoot: string): Promise<void> {
  const file = path.join(cacheRoot, 'package.json');
  if (existsSync(file)) return;
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(
    tmp,
    JSON.stringify({ private: true, type: 'module', description: 'Extracted plugin releases (synapse plugin run --plugin code@version)' }, null, 2) + '\n',
  );
  await rename(tmp, file);
}

/**
 * The newest published release of `code` (by semantic-version precedence), resolved as
 * `code@<that version>`; undefined when `code` is not a plugin code or has no release.
 */
export async function resolveNewestRelease(opts: ResolveOptions, code: string): Promise<Plugin | undefined> {
  if (!PluginConfigSchema.shape.code.safeParse(code).success) return undefined;
  const platform = await openDatabase({ dataDir: opts.dataDir });
  let newest: PluginRelease | undefined;
  try {
    newest = await newestPluginRelease(platform.db, code);
  } finally {
    await platform.close();
  }
  return newest ? resolveRelease(opts, code, newest.version) : undefined;
}

/**
 * Lets `findPlugin('code@version')` in this process fall back to published releases, and
 * `findPlugin('code')` to the newest release when no plugin folder holds `code`; cached
 * under `dataDir`. Called by the CLI, the gateway and the worker at start-up; the last call
 * wins (one data dir per process).
 */
export function useReleases(opts: ResolveOptions): void {
  setReleaseFallback((code, version) => (version === undefined ? resolveNewestRelease(opts, code) : resolveRelease(opts, code, version)));
}
