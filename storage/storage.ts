/**
 * Storage: where files live. One provider interface with two implementations, `local`
 * (default, a folder under the data directory) and `s3` (any S3-compatible endpoint).
 * A storage record (a platform row) names its provider and options; credentials never
 * live in the record: they come from the environment or a secrets file.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';

export interface StoredObject {
  key: string;
  size: number;
  /** Last modification time, ISO 8601. */
  lastModified?: string;
  etag?: string;
}

export interface PutOptions {
  contentType?: string;
  /** Bodies larger than this many bytes are uploaded in parts (S3 multipart). */
  multipartThresholdBytes?: number;
  /** Called with bytes sent so far, for heartbeats. */
  onProgress?: (sentBytes: number) => void;
  signal?: AbortSignal;
  /**
   * Whether the object is on disk before put resolves (default true). With false it is
   * visible at once (still never half-written) but durable only after the next `flush()`:
   * many small writes then share one round of syncs instead of one each (export pages).
   */
  sync?: boolean;
}

export interface StorageProvider {
  /** Writes an object; readers never see a half-written one (temp file + rename, or S3 semantics). */
  put(key: string, body: Buffer | Uint8Array | string | Readable, options?: PutOptions): Promise<StoredObject>;
  get(key: string): Promise<Buffer>;
  stream(key: string): Promise<Readable>;
  /** Objects whose keys start with `prefix`, in key order. */
  list(prefix?: string): AsyncIterable<StoredObject>;
  exists(key: string): Promise<boolean>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** A URL for the object (`file://` for local, the endpoint URL for S3). */
  url(key: string): string;
  /**
   * Checks that the storage can be written to before a run writes anything: S3 checks the
   * bucket (created when the config allows, else an InvalidInputError naming it). Absent where
   * there is nothing to check (local folders are made on the first put).
   */
  ready?(): Promise<void>;
  /** Makes every put made with `sync: false` so far durable. Absent where every put is (S3). */
  flush?(): Promise<void>;
  /** Releases connections (the S3 client's sockets); the provider is unusable afterwards. */
  close?(): Promise<void>;
}

/** Options of a storage record. No secrets here: this is printed and stored in rows. */
export const StorageConfigSchema = z.discriminatedUnion('provider', [
  z.strictObject({
    provider: z.literal('local'),
    /** Folder, relative to the data directory unless absolute. Default `storage/<storage name>`. */
    root: z.string().optional(),
  }),
  z.strictObject({
    provider: z.literal('s3'),
    bucket: z.string().min(3).max(63),
    /** e.g. http://127.0.0.1:7070 for an S3-compatible server; AWS when absent. */
    endpoint: z.url().optional(),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(true),
    /** Key prefix inside the bucket. */
    prefix: z.string().optional(),
    /** Create the bucket on first use when it does not exist (default false: a missing bucket is an error naming it). */
    createBucket: z.boolean().optional(),
    /**
     * Where credentials come from: `env` (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the
     * variables named by accessKeyIdEnv / secretAccessKeyEnv), or a JSON secrets file path.
     */
    credentials: z
      .union([
        z.strictObject({ source: z.literal('env'), accessKeyIdEnv: z.string().optional(), secretAccessKeyEnv: z.string().optional() }),
        z.strictObject({ source: z.literal('file'), path: z.string() }),
      ])
      .default({ source: 'env' }),
  }),
]);
export type StorageConfig = z.infer<typeof StorageConfigSchema>;
