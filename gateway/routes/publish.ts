/**
 * POST /v1/releases: `synapse plugin publish` over HTTP. The body is a plugin folder as a
 * .tar.gz (what `tar czf` or `synapse plugin publish` writes); the gateway reads it as the
 * hostile thing it may be (engine/plugin-archive.ts readTarGz: regular files and folders
 * only, no traversal, links, devices, duplicates, bombs or oversize entries), all of it
 * before writing a byte, so a refused archive leaves nothing behind and its 400 names the
 * entry. A sound one is extracted into a temp folder of the data dir and published from
 * there by engine/plugin-releases.ts publishPlugin, as the CLI does: checked, re-archived
 * deterministically without secrets, stored, recorded. The check loads every action in a
 * plugin host (activities/plugin-host-describe.ts), never in the gateway's process, which
 * holds the token and platform databases: a module whose top level exits or pollutes
 * prototypes fails its publish naming its host. Its code still runs (in a host, and later in
 * workers), so the scope `plugins:publish` is given only when named. The temp folder is
 * removed whatever happens, before the answer.
 *
 * The gateway's JSON body check lets this request by (isPublishRequest): its body is bytes,
 * read only after the token's scope and the content type passed, up to `limitBytes` (413
 * beyond). Served by the resources router beside GET /releases.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, InvalidInputError } from '../../contracts/errors.js';
import { readTarGz, writeEntries } from '../../engine/plugin-archive.js';
import { assertPluginFolder } from '../../engine/plugin-check.js';
import { findPlugin, type Plugin } from '../../engine/plugin-loader.js';
import { publishPlugin, type PublishResult } from '../../engine/plugin-releases.js';
import { requireScope } from '../auth.js';
import type { PlatformHandle } from '../platform-handle.js';
import { HttpProblem, zodIssues } from '../problem.js';
import { PublishQuery } from '../resource-schemas.js';

/** Default largest archive accepted, in bytes (64 MiB; the archive reader's own caps apply after). */
export const DEFAULT_PUBLISH_LIMIT_BYTES = 64 * 1024 * 1024;

/** Content types a plugin archive may be sent as. */
export const ARCHIVE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

export interface PublishRouterOptions {
  platform: PlatformHandle;
  /** Largest archive accepted (bytes); default DEFAULT_PUBLISH_LIMIT_BYTES. */
  limitBytes?: number;
}

/**
 * checkPluginDir's checks with the modules loaded in plugin hosts: the folder and its
 * config.yaml, then every action described in a host (NotFoundError, ConfigError naming the
 * action and what its host did).
 */
async function checkInPluginHosts(dir: string): Promise<Plugin> {
  const plugin = await findPlugin(await assertPluginFolder(dir));
  const { describeInPluginHost } = await import('../../activities/plugin-host-describe.js');
  for (const name of Object.keys(plugin.config.actions)) await describeInPluginHost(plugin, name, { parse: false });
  return plugin;
}

/** Whether a request is the upload (its body is not JSON: the gateway's JSON check lets it by). */
export function isPublishRequest(req: Request): boolean {
  return req.method === 'POST' && req.path === '/releases';
}

/**
 * The handlers of POST /releases, for the router that also serves GET /releases (one router
 * per path, so OPTIONS answers every method it takes).
 */
export function publishHandlers({ platform, limitBytes = DEFAULT_PUBLISH_LIMIT_BYTES }: PublishRouterOptions): RequestHandler[] {
  const raw = express.raw({ type: () => true, limit: limitBytes });
  return [
    requireScope('plugins:publish'),
    (req: Request, _res: Response, next: NextFunction) => {
      if (!req.is(ARCHIVE_TYPES)) {
        return next(new HttpProblem(415, `send the plugin archive (.tar.gz) as application/gzip, not ${req.get('Content-Type') ?? 'an unknown type'}`));
      }
      raw(req, _res, (err?: unknown) => {
        const e = err as { type?: unknown } | undefined;
        if (e?.type === 'entity.too.large') return next(new HttpProblem(413, `the archive is larger than this gateway's limit of ${limitBytes} bytes`));
        next(err);
      });
    },
    async (req, res) => {
      // (Not parseOr400 of ./resources.js: that router imports this file.)
      const parsed = PublishQuery.safeParse(req.query);
      if (!parsed.success) throw new InvalidInputError('invalid query', zodIssues(parsed.error));
      const q = parsed.data;
      const archive = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      if (archive.length === 0) throw new InvalidInputError('invalid request body', [{ path: '', message: 'send the plugin folder as a .tar.gz' }]);
      // Every entry checked before anything is written (ArchiveError: a 400 naming the entry).
      const entries = await readTarGz(archive, '(the request body)');
      if (!entries.some((e) => e.path === 'config.yaml' && e.type === 'file')) {
        throw new InvalidInputError('not a plugin archive', [
          {
            path: 'config.yaml',
            message:
              "the archive holds no config.yaml at its top level (archive the plugin folder's contents: tar czf plugin.tar.gz -C <folder> $(ls -A <folder>))",
          },
        ]);
      }
      // <data dir>/tmp/publish-<random>/: a package.json making .ts modules ES modules (as in
      // this project's plugins/), and the plugin folder beside it.
      const work = path.join(path.resolve(platform.dataDir), 'tmp', `publish-${randomBytes(8).toString('hex')}`);
      const dir = path.join(work, 'plugin');
      let result: PublishResult;
      try {
        await mkdir(work, { recursive: true, mode: 0o700 });
        await writeFile(path.join(work, 'package.json'), JSON.stringify({ private: true, type: 'module' }) + '\n');
        await writeEntries(entries, dir);
        result = await publishPlugin({
          dir,
          dataDir: platform.dataDir,
          check: checkInPluginHosts,
          ...(q.storage !== undefined ? { storage: q.storage } : {}),
        }).catch((err: unknown) => {
          // The version exists with other files: releases are immutable, a conflict with what exists.
          if (err instanceof InvalidInputError && err.problems.length > 0 && err.problems.every((p) => p.path === 'version'))
            throw new ConflictError(err.problems.map((p) => p.message).join('; '));
          throw err;
        });
      } finally {
        // Gone before the answer: a client that sees it sees no temp folder.
        await rm(work, { recursive: true, force: true });
      }
      const { code, version } = result.release;
      res
        .status(result.status === 'published' ? 201 : 200)
        .location(`/v1/releases/${code}/${version}`)
        .json({
          status: result.status,
          release: result.release,
          storage: result.storage,
          bytes: result.bytes,
          files: result.files,
          excluded: result.excluded,
          links: { self: `/v1/releases/${code}/${version}`, plugin: `/v1/plugins/${code}@${version}` },
        });
    },
  ];
}
