/**
 * S3-compatible storage (AWS S3, versitygw, Ceph, ...) through the AWS SDK v3. Small bodies
 * go up in one PutObject; bigger ones and streams through lib-storage's Upload, in parts
 * (multipart) above the threshold. Either way S3 makes an object visible only once it is
 * complete, and a failed multipart upload is aborted.
 *
 * Credentials come from the environment or a JSON secrets file, never from the storage
 * record; errors are rebuilt from the SDK's (name, status, a redacted message) so that no
 * credential can reach a message, a log line or a printed cause.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import { InvalidInputError, NotFoundError, SynapseError, UnavailableError } from '../contracts/errors.js';
import { assertSafeKey, assertSafePrefix, describeKey } from './safe-key.js';
import type { PutOptions, StorageConfig, StorageProvider, StoredObject } from './storage.js';

export type S3StorageConfig = Extract<StorageConfig, { provider: 's3' }>;

/** Default part size, and the size above which a body is uploaded in parts. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** S3's smallest part (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const SecretsFileSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

/**
 * Credentials of an s3 storage record: from the variables it names (default
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN) or from its secrets file
 * (`{"accessKeyId": "...", "secretAccessKey": "..."}`, relative paths from `baseDir`).
 * Errors name the variables or the file, never a value.
 */
export function resolveS3Credentials(config: S3StorageConfig, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): S3Credentials {
  const source = config.credentials;
  if (source.source === 'env') {
    const idVar = source.accessKeyIdEnv ?? 'AWS_ACCESS_KEY_ID';
    const secretVar = source.secretAccessKeyEnv ?? 'AWS_SECRET_ACCESS_KEY';
    const missing = [idVar, secretVar].filter((v) => !env[v]);
    if (missing.length) {
      throw new InvalidInputError(`no credentials for s3 bucket "${config.bucket}"`, [
        { path: 'credentials', message: `set the environment variable${missing.length > 1 ? 's' : ''} ${missing.join(' and ')}` },
      ]);
    }
    const sessionToken = source.accessKeyIdEnv ? undefined : env.AWS_SESSION_TOKEN;
    return { accessKeyId: env[idVar]!, secretAccessKey: env[secretVar]!, ...(sessionToken ? { sessionToken } : {}) };
  }
  const file = path.resolve(baseDir, source.path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError(`no credentials for s3 bucket "${config.bucket}"`, [
      { path: 'credentials.path', message: `cannot read the secrets file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: never show it.
    throw new InvalidInputError(`no credentials for s3 bucket "${config.bucket}"`, [
      { path: 'credentials.path', message: `the secrets file ${file} is not valid JSON` },
    ]);
  }
  const parsed = SecretsFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new InvalidInputError(`no credentials for s3 bucket "${config.bucket}"`, [
      { path: 'credentials.path', message: `the secrets file ${file} must hold {"accessKeyId": "...", "secretAccessKey": "..."}` },
    ]);
  }
  return parsed.data;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'TimeoutError',
  'RequestTimeout',
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  errors?: SdkError[];
  cause?: SdkError;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function connectionCode(err: SdkError | undefined, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  for (const c of [err.code, err.name]) if (c && CONNECTION_CODES.has(c)) return c;
  if (err.message === 'socket hang up') return 'ECONNRESET';
  return connectionCode(err.cause, depth + 1) ?? (Array.isArray(err.errors) ? err.errors.map((e) => connectionCode(e, depth + 1)).find(Boolean) : undefined);
}

/** A missing key (HEAD answers a bare 404, which a missing bucket also gives). */
function isMissingKey(err: unknown): boolean {
  const e = err as SdkError;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound';
}

/**
 * The server does not accept the credentials. versitygw answers an unknown access key id
 * with HTTP 404 XAdminUserNotFound (AWS: 403 InvalidAccessKeyId), so a bare 404 is not
 * taken to mean a missing key.
 */
const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'XAdminUserNotFound',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
]);

export interface S3StorageOptions {
  /** Shown in errors. */
  name?: string;
  credentials: S3Credentials;
  /** Seconds before a connection attempt fails (default 10). */
  connectTimeoutMs?: number;
}

export class S3Storage implements StorageProvider {
  readonly client: S3Client;
  readonly name: string;
  readonly bucket: string;
  /** Key prefix inside the bucket, without a trailing slash; '' for none. */
  readonly prefix: string;
  /** Where requests go, for messages and url(). */
  readonly endpoint: string;
  private readonly forcePathStyle: boolean;
  private readonly secrets: string[];

  constructor(
    readonly config: S3StorageConfig,
    options: S3StorageOptions,
  ) {
    this.name = options.name ?? config.bucket;
    this.bucket = config.bucket;
    const prefix = (config.prefix ?? '').replace(/\/+$/, '');
    if (prefix) assertSafeKey(prefix);
    this.prefix = prefix;
    this.forcePathStyle = config.forcePathStyle;
    this.endpoint = (config.endpoint ?? `https://s3.${config.region}.amazonaws.com`).replace(/\/+$/, '');
    // The SDK warns once per process on Node < 22 that its 2027 releases will need Node 22;
    // on a CLI's stderr that is noise. Set the variable to "false" to see it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.secrets = [options.credentials.secretAccessKey, options.credentials.sessionToken ?? ''].filter((s) => s.length >= 4);
    this.client = new S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      credentials: { ...options.credentials },
      // Checksums only where S3 requires them: many S3-compatible servers lack the newer ones.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: options.connectTimeoutMs ?? 10_000 },
    });
  }

  private fullKey(key: string): string {
    assertSafeKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private redact(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  /** The SDK's error as one of ours: no cause attached, message redacted. */
  private translate(err: unknown, action: string, key?: string): Error {
    if (err instanceof SynapseError) return err;
    const e = (err ?? {}) as SdkError;
    const what = key === undefined ? `${action} in bucket "${this.bucket}"` : `${action} ${describeKey(key)}`;
    const conn = connectionCode(e);
    if (conn) return new UnavailableError(`storage "${this.name}": cannot reach the S3 endpoint ${this.endpoint} (${conn}) to ${what}`);
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? e.code ?? 'Error';
    if (name === 'NoSuchBucket') return new NotFoundError(`storage "${this.name}": the bucket "${this.bucket}" does not exist at ${this.endpoint}`);
    if (CREDENTIAL_ERRORS.has(name) || status === 401 || status === 403) {
      // HEAD errors have no body: the SDK names them "Unknown"/"UnknownError"; say the status only.
      const detail = /^Unknown(Error)?$/.test(String(e.message ?? '')) ? '' : this.redact(String(e.message ?? '')).slice(0, 200);
      const label = name === 'Unknown' ? '' : ` ${name}`;
      return new SynapseError(
        `storage "${this.name}": ${this.endpoint} rejected the credentials (or their permissions) to ${what}:${label}${status ? ` (HTTP ${status})` : ''}${detail ? `: ${detail}` : ''}`,
      );
    }
    if (name === 'ObjectParentIsFile') {
      // versitygw's POSIX backend, like local storage, cannot hold both "a" and "a/b".
      return new InvalidInputError(`storage "${this.name}" cannot write ${key === undefined ? 'the object' : describeKey(key)}`, [
        { path: '', message: 'this S3 server cannot hold both a key and keys under it (ObjectParentIsFile)' },
      ]);
    }
    if (name === 'NoSuchKey' || name === 'NotFound') {
      return new NotFoundError(`storage "${this.name}" has no object ${key === undefined ? '' : describeKey(key)}`.trimEnd());
    }
    const detail = this.redact(String(e.message ?? '')).slice(0, 300);
    const text = `storage "${this.name}": ${what} failed: ${name}${status ? ` (HTTP ${status})` : ''}${detail && detail !== name ? `: ${detail}` : ''}`;
    if (status !== undefined && status >= 500) return new UnavailableError(text);
    if (name === 'AbortError') return new SynapseError(`storage "${this.name}": ${what} was aborted`);
    return new SynapseError(text);
  }

  /**
   * Checks that the bucket exists before anything is written to it (an upload's first step):
   * a missing one is created when the config says `createBucket: true`, else an
   * InvalidInputError names the bucket, the endpoint and both ways out.
   */
  async ready(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      const e = err as SdkError;
      if (e.name !== 'NotFound' && e.name !== 'NoSuchBucket' && e.$metadata?.httpStatusCode !== 404) throw this.translate(err, 'check the bucket');
    }
    if (this.config.createBucket) return this.ensureBucket();
    throw new InvalidInputError(`storage "${this.name}": the bucket "${this.bucket}" does not exist at ${this.endpoint}`, [
      { path: 'bucket', message: 'create the bucket, or set "createBucket": true in the storage config to have it created on first use' },
    ]);
  }

  /** Creates the bucket when it does not exist (tests, first use of a dev server). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      const e = err as SdkError;
      if (e.name !== 'NotFound' && e.name !== 'NoSuchBucket' && e.$metadata?.httpStatusCode !== 404) throw this.translate(err, 'check the bucket');
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const name = (err as SdkError).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw this.translate(err, 'create the bucket');
    }
  }

  async put(key: string, body: Buffer | Uint8Array | string | Readable, options: PutOptions = {}): Promise<StoredObject> {
    const Key = this.fullKey(key);
    options.signal?.throwIfAborted();
    const threshold = options.multipartThresholdBytes ?? DEFAULT_PART_SIZE;
    const ContentType = options.contentType;
    try {
      if (!(body instanceof Readable)) {
        const data = typeof body === 'string' ? Buffer.from(body) : body;
        if (data.byteLength <= threshold) {
          const out = await this.client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentLength: data.byteLength, ...(ContentType ? { ContentType } : {}) }),
            options.signal ? { abortSignal: options.signal } : {},
          );
          options.onProgress?.(data.byteLength);
          return { key, size: data.byteLength, lastModified: new Date().toISOString(), ...(out.ETag ? { etag: out.ETag.replaceAll('"', '') } : {}) };
        }
      }
      // Through a stream that the signal can fail: Upload then aborts the multipart upload
      // before done() rejects (its own abort() rejects first and aborts later).
      const source = body instanceof Readable ? body : Readable.from(chunks(typeof body === 'string' ? Buffer.from(body) : body));
      let size = 0;
      const feed = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          done(null, chunk);
        },
      });
      source.on('error', (err) => feed.destroy(err));
      source.pipe(feed);
      const onAbort = () => {
        const reason = options.signal?.reason;
        feed.destroy(reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'AbortError' }));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body: feed, ...(ContentType ? { ContentType } : {}) },
          // Up to queueSize parts are in memory at once. S3 allows 10,000 parts: a Buffer's
          // size is known, so its parts grow to fit; a stream's may be at most 10,000 parts.
          partSize: Math.max(MIN_PART_SIZE, threshold, body instanceof Readable ? 0 : Math.ceil(byteLength(body) / 10_000)),
          queueSize: 4,
          leavePartsOnError: false,
        });
        if (options.onProgress) upload.on('httpUploadProgress', (p) => p.loaded !== undefined && options.onProgress!(p.loaded));
        const out = await upload.done();
        return { key, size, lastModified: new Date().toISOString(), ...(out.ETag ? { etag: out.ETag.replaceAll('"', '') } : {}) };
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
        source.unpipe(feed);
      }
    } catch (err) {
      if (body instanceof Readable) body.destroy(); // as pipeline() does for local storage
      if (options.signal?.aborted) throw this.translate(Object.assign(new Error('aborted'), { name: 'AbortError' }), 'put', key);
      throw this.translate(err, 'put', key);
    }
  }

  private async getObject(key: string) {
    const Key = this.fullKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (!out.Body) throw new NotFoundError(`storage "${this.name}" has no object ${describeKey(key)}`);
      return out.Body;
    } catch (err) {
      throw this.translate(err, 'get', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const body = await this.getObject(key);
    try {
      return Buffer.from(await body.transformToByteArray());
    } catch (err) {
      throw this.translate(err, 'get', key);
    }
  }

  async stream(key: string): Promise<Readable> {
    const body = await this.getObject(key);
    return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Uint8Array>);
  }

  async *list(prefix = ''): AsyncIterable<StoredObject> {
    assertSafePrefix(prefix);
    const base = this.prefix ? `${this.prefix}/` : '';
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw this.translate(err, 'list');
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(base)) continue;
        yield {
          key: o.Key.slice(base.length),
          size: o.Size ?? 0,
          ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}),
          ...(o.ETag ? { etag: o.ETag.replaceAll('"', '') } : {}),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return true;
    } catch (err) {
      if (!isMissingKey(err)) throw this.translate(err, 'check', key);
    }
    // HEAD has no body, so its 404 may also mean an unknown access key (versitygw) or a
    // missing bucket: confirm with a listing, whose errors say which.
    try {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: Key, MaxKeys: 1 }));
      return page.Contents?.[0]?.Key === Key;
    } catch (err) {
      throw this.translate(err, 'check', key);
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isMissingKey(err)) return;
      throw this.translate(err, 'delete', key);
    }
  }

  url(key: string): string {
    const encoded = this.fullKey(key).split('/').map(encodeURIComponent).join('/');
    if (this.forcePathStyle) return `${this.endpoint}/${encodeURIComponent(this.bucket)}/${encoded}`;
    const u = new URL(this.endpoint);
    return `${u.protocol}//${this.bucket}.${u.host}/${encoded}`;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

function byteLength(body: Buffer | Uint8Array | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
}

/** A big buffer as 1 MiB views, so that Upload can cut parts without copying it whole. */
function* chunks(data: Uint8Array): Generator<Uint8Array> {
  const step = 1024 * 1024;
  for (let i = 0; i < data.byteLength; i += step) yield data.subarray(i, Math.min(i + step, data.byteLength));
}
