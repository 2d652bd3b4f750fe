/**
 * /v1/storages: what `synapse storage list | add | ls` do, over HTTP. Storage records hold no
 * secrets, and what the gateway answers holds none either: no access key, no secrets file
 * path, no local folder outside the data dir (gateway/resource-schemas.ts StorageSchema).
 *
 * Reading needs the scope runs:read; adding, `storages:write` (only when named: a storage
 * says where runs read and write files). Adding one over HTTP is narrower than the CLI, on purpose: the caller is remote, the CLI's
 * user is the server's operator. A local storage lives in `storage/<name>` of the data dir
 * (a `root` would let a caller point runs at the server's own files, the release cache
 * included); an S3 one brings its keys in the body, which are written to a secrets file of
 * the data dir (`secrets/storage-<name>.json`, mode 0600) that the record names as
 * `{"source": "file"}` records do, so workers read them as they read any secrets file. Keys
 * from the server's environment are the operator's to hand out (`synapse storage add`): a
 * caller naming an endpoint of its own would otherwise receive them.
 *
 * Listing files pages in key order (UTF-8 bytes, as S3 lists): the page token holds the
 * prefix and the last key, so the next page starts after it; keys and prefixes are checked
 * with storage/safe-key.ts before any I/O.
 */
import { Router } from 'express';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConflictError, InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import * as repo from '../../platform/repositories/index.js';
import { keyProblems, openStorage, StorageConfigSchema, type StorageConfig } from '../../storage/index.js';
import { requireScope } from '../auth.js';
import type { PlatformHandle } from '../platform-handle.js';
import { AddStorageBody, RefParam, StorageFilesQuery, StorageSchema } from '../resource-schemas.js';
import { parseOr400 } from './resources.js';

/** Where the keys of an S3 storage added over HTTP are kept, relative to the data dir. */
export function storageSecretsFile(name: string): string {
  return `secrets/storage-${name}.json`;
}

type StorageView = z.infer<typeof StorageSchema>;

/** A storage as a client sees it: its options without secrets or server paths. */
export function storageView(s: repo.Storage): StorageView {
  const c = s.config;
  const links = { self: `/v1/storages/${s.id}`, files: `/v1/storages/${s.id}/files` };
  if (c.provider === 'local') {
    const root = c.root === undefined ? `storage/${s.name}` : path.isAbsolute(c.root) ? undefined : c.root;
    return { id: s.id, name: s.name, provider: 'local', config: { provider: 'local', ...(root !== undefined ? { root } : {}) }, createdAt: s.createdAt, links };
  }
  const credentials =
    c.credentials.source === 'env'
      ? {
          source: 'env' as const,
          ...(c.credentials.accessKeyIdEnv ? { accessKeyIdEnv: c.credentials.accessKeyIdEnv } : {}),
          ...(c.credentials.secretAccessKeyEnv ? { secretAccessKeyEnv: c.credentials.secretAccessKeyEnv } : {}),
        }
      : { source: 'file' as const };
  return {
    id: s.id,
    name: s.name,
    provider: 's3',
    config: {
      provider: 's3',
      bucket: c.bucket,
      ...(c.endpoint !== undefined ? { endpoint: c.endpoint } : {}),
      region: c.region,
      forcePathStyle: c.forcePathStyle,
      ...(c.prefix !== undefined ? { prefix: c.prefix } : {}),
      ...(c.createBucket !== undefined ? { createBucket: c.createBucket } : {}),
      credentials,
    },
    createdAt: s.createdAt,
    links,
  };
}

/** A page token: the prefix it belongs to and the last key of the page before. */
const PageToken = z.strictObject({ p: z.string(), a: z.string().min(1) });

function encodeToken(prefix: string, after: string): string {
  return Buffer.from(JSON.stringify({ p: prefix, a: after })).toString('base64url');
}

function decodeToken(token: string, prefix: string): string {
  const bad = (message: string): never => {
    throw new InvalidInputError('invalid query', [{ path: 'pageToken', message }]);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    return bad('not a page token of this listing (pass nextPageToken as it came)');
  }
  const t = PageToken.safeParse(parsed);
  if (!t.success) return bad('not a page token of this listing (pass nextPageToken as it came)');
  if (t.data.p !== prefix) return bad('this token belongs to another prefix: ask with the prefix that produced it');
  return t.data.a;
}

/** The keys and the secrets file of an S3 storage as stored: the file's JSON, for comparing. */
function secretsJson(credentials: NonNullable<z.infer<typeof AddStorageBody>['credentials']>): string {
  return JSON.stringify({
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    ...(credentials.sessionToken !== undefined ? { sessionToken: credentials.sessionToken } : {}),
  });
}

/** Writes `text` to `file` (mode 0600, its folder 0700) through a temp file and a rename: never half a file. */
async function writeSecret(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file).catch(async (err: unknown) => {
    await rm(tmp, { force: true });
    throw err;
  });
}

/** Adds of one name in this process, one at a time: the secrets file is written only for a name no record holds. */
const adding = new Map<string, Promise<unknown>>();

function serialized<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const before = adding.get(name) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const settled = run.catch(() => undefined);
  adding.set(name, settled);
  void settled.then(() => {
    if (adding.get(name) === settled) adding.delete(name);
  });
  return run;
}

export function storagesRouter({ platform }: { platform: PlatformHandle }): Router {
  const router = Router();
  const read = requireScope('runs:read');
  // Not runs:write: a storage says where runs read and write files, and holds the keys to get there.
  const write = requireScope('storages:write');

  router.get('/storages', read, async (_req, res) => {
    res.json({ storages: (await repo.listStorages(await platform.db())).map(storageView) });
  });

  router.get('/storages/:ref', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid storage', 'storage');
    res.json(storageView(await repo.getStorage(await platform.db(), ref)));
  });

  router.post('/storages', write, async (req, res) => {
    const body = parseOr400(AddStorageBody, req.body ?? {}, 'invalid request body');
    const problems: { path: string; message: string }[] = [];
    if (body.config.provider === 's3') {
      if (!body.credentials)
        problems.push({ path: 'credentials', message: 'an s3 storage added over HTTP needs its keys: {"accessKeyId", "secretAccessKey"}' });
      if (body.config.prefix !== undefined) {
        const bad = keyProblems(body.config.prefix.replace(/\/+$/, ''));
        if (bad.length) problems.push(...bad.map((message) => ({ path: 'config.prefix', message })));
      }
    } else if (body.credentials) {
      problems.push({ path: 'credentials', message: 'a local storage takes no credentials' });
    }
    if (problems.length) throw new InvalidInputError('invalid request body', problems);

    const secretsPath = storageSecretsFile(body.name);
    const secretsAbs = path.join(path.resolve(platform.dataDir), ...secretsPath.split('/'));
    const config: StorageConfig = StorageConfigSchema.parse(
      body.config.provider === 'local' ? { provider: 'local' } : { ...body.config, credentials: { source: 'file', path: secretsPath } },
    );
    const secret = body.credentials ? secretsJson(body.credentials) : undefined;
    const db = await platform.db();
    const { created, existed } = await serialized(body.name, async () => {
      const existing = await repo.getStorage(db, body.name).catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      });
      if (existing) {
        // The same options (and the same keys) again: the storage that exists. Anything else is a conflict, and nothing is written.
        const sameKeys = secret === undefined || (await readFile(secretsAbs, 'utf8').catch(() => '')).trim() === secret;
        if (JSON.stringify(sorted(existing.config)) !== JSON.stringify(sorted(config)) || !sameKeys) {
          throw new ConflictError(`a storage named "${body.name}" exists with other options${secret !== undefined && !sameKeys ? ' or keys' : ''}`);
        }
        return { created: existing, existed: true };
      }
      if (secret !== undefined) await writeSecret(secretsAbs, secret);
      try {
        return { created: await repo.createStorage(db, { name: body.name, config }), existed: false };
      } catch (err) {
        // No record came of it: no secrets file stays behind (one another process's record names is kept).
        if (
          secret !== undefined &&
          !(await repo.getStorage(db, body.name).then(
            () => true,
            () => false,
          ))
        )
          await rm(secretsAbs, { force: true });
        if (err instanceof InvalidInputError && err.problems.every((p) => p.path === 'name'))
          throw new ConflictError(err.problems.map((p) => p.message).join('; '));
        throw err;
      }
    });
    res
      .status(existed ? 200 : 201)
      .location(`/v1/storages/${created.id}`)
      .json(storageView(created));
  });

  router.get('/storages/:ref/files', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid storage', 'storage');
    const q = parseOr400(StorageFilesQuery, req.query, 'invalid query');
    const prefix = q.prefix ?? '';
    // An unknown storage is a 404 whatever the token (a random pageToken of a storage that does not exist is not the question).
    const record = await repo.getStorage(await platform.db(), ref);
    const after = q.pageToken !== undefined ? decodeToken(q.pageToken, prefix) : undefined;
    const afterBytes = after !== undefined ? Buffer.from(after) : undefined;
    // The pattern (checked above) holds every rule but the byte limits: a prefix over them
    // matches no key, since no key may be that long (storage/safe-key.ts).
    if (keyProblems(prefix, { prefix: true }).length > 0) return void res.json({ files: [] });
    const provider = openStorage(record.config, { dataDir: platform.dataDir, name: record.name });
    const files: { key: string; size: number; lastModified?: string; etag?: string }[] = [];
    let more = false;
    try {
      for await (const o of provider.list(prefix)) {
        if (afterBytes && Buffer.compare(Buffer.from(o.key), afterBytes) <= 0) continue;
        if (files.length === q.limit) {
          more = true;
          break;
        }
        files.push(o);
      }
    } finally {
      await provider.close?.();
    }
    const last = files.at(-1);
    res.json({ files, ...(more && last ? { nextPageToken: encodeToken(prefix, last.key) } : {}) });
  });

  return router;
}

/** A value with object keys sorted, for comparing configs whatever their key order. */
function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sorted(v)]),
    );
  return value;
}
