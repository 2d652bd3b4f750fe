/**
 * One storage suite, run against the local provider and against a real S3-compatible
 * server (versitygw, started by global-setup.ts): the same behaviour on both.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { inspect } from 'node:util';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { InvalidInputError, NotFoundError, SynapseError, UnavailableError } from '../../contracts/errors.js';
import { LocalStorage, S3Storage, TEMP_PREFIX, openStorage, type StorageConfig, type StorageProvider } from '../../storage/index.js';
import { freePort } from '../../workers/dev-server.js';

const MiB = 1024 * 1024;
const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'synapse-storage-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

let bucketSeq = 0;
function bucketName(): string {
  return `test-${process.pid}-${Date.now().toString(36)}-${bucketSeq++}`;
}

/** global-setup.ts starts versitygw; when it could not, every S3 test fails saying why. */
function requireS3(): void {
  if (!inject('s3Endpoint')) throw new Error(`no S3 server for the storage tests: ${inject('s3Error')}`);
}

function s3Env(): NodeJS.ProcessEnv {
  requireS3();
  return { TEST_S3_ID: inject('s3AccessKeyId'), TEST_S3_SECRET: inject('s3SecretAccessKey') };
}

function s3Config(bucket: string, extra: Partial<Extract<StorageConfig, { provider: 's3' }>> = {}): StorageConfig {
  requireS3();
  return {
    provider: 's3',
    bucket,
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { source: 'env', accessKeyIdEnv: 'TEST_S3_ID', secretAccessKeyEnv: 'TEST_S3_SECRET' },
    ...extra,
  };
}

interface Fixture {
  storage: StorageProvider;
  /** Every object really there, read around the provider (the disk, or the bucket). */
  rawKeys(): Promise<string[]>;
  /** Everything outside the storage that an escaping key could have written. */
  outside(): Promise<string[]>;
  close(): Promise<void>;
}

function walkFiles(dir: string, base = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkFiles(path.join(dir, e.name), rel));
    else out.push(rel);
  }
  return out.sort();
}

const backends: { name: 'local' | 's3'; open(): Promise<Fixture> }[] = [
  {
    name: 'local',
    async open() {
      const dataDir = tmpDir();
      const storage = openStorage({ provider: 'local' }, { dataDir, name: 'files' });
      const root = path.join(dataDir, 'storage', 'files');
      return {
        storage,
        rawKeys: async () => {
          try {
            return walkFiles(root);
          } catch {
            return [];
          }
        },
        // The data dir holds only storage/files; nothing beside it.
        outside: async () => walkFiles(dataDir).filter((f) => !f.startsWith('storage/files/')),
        close: async () => {},
      };
    },
  },
  {
    name: 's3',
    async open() {
      const bucket = bucketName();
      const storage = openStorage(s3Config(bucket), { dataDir: tmpDir(), name: 'bucket', env: s3Env() }) as S3Storage;
      await storage.ensureBucket();
      const rawKeys = async () => {
        const out = await storage.client.send(new ListObjectsV2Command({ Bucket: bucket }));
        return (out.Contents ?? []).map((o) => o.Key!).sort();
      };
      return {
        storage,
        rawKeys,
        // Multipart uploads left behind would be "half-written objects" waiting.
        outside: async () => {
          const mp = await storage.client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
          return (mp.Uploads ?? []).map((u) => `multipart:${u.Key}`);
        },
        close: () => storage.close!(),
      };
    },
  },
];

async function keys(storage: StorageProvider, prefix?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

async function readAll(stream: Readable): Promise<Buffer> {
  return Buffer.concat((await stream.toArray()) as Buffer[]);
}

/** A body that sends `bytes` bytes and then fails. */
function failingBody(bytes: number, chunk = MiB): Readable {
  return Readable.from(
    (async function* () {
      for (let sent = 0; sent < bytes; sent += chunk) yield Buffer.alloc(Math.min(chunk, bytes - sent), 0x61);
      throw new Error('the source failed');
    })(),
  );
}

function patterned(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.writeUInt32BE(i, i);
  return b;
}

async function expectRejects<E extends Error>(p: Promise<unknown>, type: new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    return err as E;
  }
  throw new Error(`expected a ${type.name}`);
}

const UNSAFE_KEYS = [
  '../escape.txt',
  'a/../../escape.txt',
  '/etc/escape.txt',
  'a\\..\\..\\escape.txt',
  'nul\0.txt',
  'a//b',
  'x'.repeat(256),
  '',
  'line\nbreak',
];

describe.each(backends)('storage: $name', (backend) => {
  let fx: Fixture;
  let storage: StorageProvider;
  beforeEach(async () => {
    fx = await backend.open();
    storage = fx.storage;
  });
  afterEach(async () => {
    await fx?.close();
  });

  it('puts and gets a string, a Buffer, a Uint8Array and a stream', async () => {
    const s = await storage.put('docs/hello.txt', 'hello wörld');
    expect(s).toMatchObject({ key: 'docs/hello.txt', size: Buffer.byteLength('hello wörld') });
    expect((await storage.get('docs/hello.txt')).toString('utf8')).toBe('hello wörld');

    const buf = patterned(100_000);
    expect((await storage.put('bin/data.bin', buf)).size).toBe(buf.length);
    expect((await storage.get('bin/data.bin')).equals(buf)).toBe(true);

    const u8 = new Uint8Array([1, 2, 3, 255]);
    await storage.put('bin/u8', u8);
    expect([...(await storage.get('bin/u8'))]).toEqual([1, 2, 3, 255]);

    const parts = [Buffer.from('one,'), Buffer.from('two,'), Buffer.from('three')];
    const streamed = await storage.put('streamed.csv', Readable.from(parts), { contentType: 'text/csv' });
    expect(streamed.size).toBe(13);
    expect((await storage.get('streamed.csv')).toString()).toBe('one,two,three');

    const empty = await storage.put('empty', '');
    expect(empty.size).toBe(0);
    expect((await storage.get('empty')).length).toBe(0);
  });

  it('streams an object out', async () => {
    const body = patterned(3 * MiB + 17);
    await storage.put('big/stream.bin', body);
    const out = await readAll(await storage.stream('big/stream.bin'));
    expect(out.equals(body)).toBe(true);
    await expectRejects(storage.stream('big/missing.bin'), NotFoundError);
  });

  it('uploads a big object in parts and reports progress', async () => {
    const size = 20 * MiB + 123;
    const body = patterned(size);
    const progress: number[] = [];
    const chunks = Array.from({ length: Math.ceil(size / MiB) }, (_, i) => body.subarray(i * MiB, Math.min(size, (i + 1) * MiB)));
    const stored = await storage.put('models/big.bin', Readable.from(chunks), {
      multipartThresholdBytes: 5 * MiB,
      onProgress: (n) => progress.push(n),
    });
    expect(stored.size).toBe(size);
    expect(progress.at(-1)).toBe(size);
    if (backend.name === 's3') expect(stored.etag).toMatch(/-5$/); // 5 parts of 5 MiB (the last one smaller)
    expect((await storage.get('models/big.bin')).equals(body)).toBe(true);
    // A Buffer over the threshold goes in parts too.
    const buf = await storage.put('models/big-buffer.bin', body.subarray(0, 11 * MiB), { multipartThresholdBytes: 5 * MiB });
    expect(buf.size).toBe(11 * MiB);
    if (backend.name === 's3') expect(buf.etag).toMatch(/-3$/);
    expect((await storage.get('models/big-buffer.bin')).equals(body.subarray(0, 11 * MiB))).toBe(true);
    expect(await fx.outside()).toEqual([]);
  });

  it('lists by prefix in key order (UTF-8 bytes)', async () => {
    const all = ['b', 'a-c', 'a/b', 'a/a/z', 'ab', 'a0', 'z', 'é', 'A', 'a/b2/x'];
    for (const k of all) await storage.put(k, k);
    const sorted = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(await keys(storage)).toEqual(sorted);
    expect(await keys(storage, 'a/')).toEqual(['a/a/z', 'a/b', 'a/b2/x']);
    expect(await keys(storage, 'a/b')).toEqual(['a/b', 'a/b2/x']);
    expect(await keys(storage, 'a')).toEqual(['a-c', 'a/a/z', 'a/b', 'a/b2/x', 'a0', 'ab']);
    expect(await keys(storage, 'nothing/')).toEqual([]);
    const listed = [];
    for await (const o of storage.list('a/b')) listed.push(o);
    expect(listed[0]).toMatchObject({ key: 'a/b', size: 3 });
    expect(typeof listed[0]!.lastModified).toBe('string');
  });

  it('says whether an object exists and deletes it (a missing key too)', async () => {
    expect(await storage.exists('x/y.txt')).toBe(false);
    await storage.put('x/y.txt', 'y');
    await storage.put('x/z.txt', 'z');
    expect(await storage.exists('x/y.txt')).toBe(true);
    expect(await storage.exists('x')).toBe(false); // a "folder" is not an object
    await storage.delete('x/y.txt');
    expect(await storage.exists('x/y.txt')).toBe(false);
    await expectRejects(storage.get('x/y.txt'), NotFoundError);
    await storage.delete('x/y.txt');
    await storage.delete('never/was.txt');
    expect(await keys(storage)).toEqual(['x/z.txt']);
    await storage.delete('x/z.txt');
    expect(await keys(storage)).toEqual([]);
    expect(await fx.rawKeys()).toEqual([]);
  });

  it('overwrites an object', async () => {
    await storage.put('same.txt', 'first version, longer');
    await storage.put('same.txt', 'second');
    expect((await storage.get('same.txt')).toString()).toBe('second');
    expect(await keys(storage)).toEqual(['same.txt']);
  });

  it('gets a missing key as NotFoundError (exit 3, HTTP 404)', async () => {
    const err = await expectRejects(storage.get('no/such/key.txt'), NotFoundError);
    expect(err.message).toContain('"no/such/key.txt"');
    expect(err.exitCode).toBe(3);
    expect(err.httpStatus).toBe(404);
  });

  it('rejects traversal and other unsafe keys with a clear error, writing nothing', async () => {
    for (const key of UNSAFE_KEYS) {
      const err = await expectRejects(storage.put(key, 'escaped!'), InvalidInputError);
      expect(err.message).toContain('unsafe storage key');
      expect(err.exitCode).toBe(2);
      await expectRejects(storage.put(key, Readable.from([Buffer.from('escaped!')])), InvalidInputError);
      await expectRejects(storage.get(key), InvalidInputError);
      await expectRejects(storage.stream(key), InvalidInputError);
      await expectRejects(storage.exists(key), InvalidInputError);
      await expectRejects(storage.delete(key), InvalidInputError);
      expect(() => storage.url(key)).toThrow(InvalidInputError);
    }
    const traversal = await expectRejects(storage.put('../escape.txt', 'x'), InvalidInputError);
    expect(traversal.message).toContain('"../escape.txt"');
    expect(traversal.message).toContain('".." segments are not allowed');
    await expectRejects(keys(storage, '../'), InvalidInputError);
    expect(await keys(storage)).toEqual([]);
    expect(await fx.rawKeys()).toEqual([]);
    expect(await fx.outside()).toEqual([]);
  });

  it('never shows a half-written object: a failing body leaves nothing at the key', async () => {
    await expect(storage.put('half/small.bin', failingBody(2 * MiB))).rejects.toThrow(/the source failed/);
    // Big enough for a multipart upload to have started on S3 before the failure.
    await expect(storage.put('half/big.bin', failingBody(12 * MiB), { multipartThresholdBytes: 5 * MiB })).rejects.toThrow(/the source failed/);
    expect(await storage.exists('half/small.bin')).toBe(false);
    expect(await storage.exists('half/big.bin')).toBe(false);
    expect(await keys(storage)).toEqual([]);
    expect(await fx.rawKeys()).toEqual([]);
    expect(await fx.outside()).toEqual([]);
  });

  it('keeps the old object when an overwrite fails', async () => {
    await storage.put('keep.txt', 'old');
    await expect(storage.put('keep.txt', failingBody(6 * MiB), { multipartThresholdBytes: 5 * MiB })).rejects.toThrow();
    expect((await storage.get('keep.txt')).toString()).toBe('old');
    expect(await fx.rawKeys()).toEqual(['keep.txt']);
  });

  it('does not show an object while it is being written, and an aborted put leaves nothing', async () => {
    const body = new PassThrough();
    const put = storage.put('slow.bin', body);
    body.write(Buffer.alloc(MiB, 1));
    await new Promise((r) => setTimeout(r, 200));
    expect(await storage.exists('slow.bin')).toBe(false);
    expect(await keys(storage)).toEqual([]);
    body.end(Buffer.alloc(MiB, 2));
    expect((await put).size).toBe(2 * MiB);
    expect(await storage.exists('slow.bin')).toBe(true);

    const abort = new AbortController();
    const body2 = new PassThrough();
    const put2 = storage.put('aborted.bin', body2, { signal: abort.signal, multipartThresholdBytes: 5 * MiB });
    body2.write(Buffer.alloc(6 * MiB, 3));
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await expect(put2).rejects.toThrow();
    expect(await storage.exists('aborted.bin')).toBe(false);
    expect(await fx.rawKeys()).toEqual(['slow.bin']);
    expect(await fx.outside()).toEqual([]);
  });

  it('gives a URL for an object', async () => {
    const url = storage.url('dir/a b.txt');
    if (backend.name === 'local') expect(url).toMatch(/^file:\/\/.*\/storage\/files\/dir\/a%20b\.txt$/);
    else expect(url).toMatch(new RegExp(`^${inject('s3Endpoint')}/test-[^/]+/dir/a%20b\\.txt$`));
  });
});

describe('storage: local only', () => {
  it('defaults its root to <data dir>/storage/<name>, or the configured root', async () => {
    const dataDir = tmpDir();
    const s = openStorage({ provider: 'local' }, { dataDir, name: 'media' }) as LocalStorage;
    expect(s.root).toBe(path.join(dataDir, 'storage', 'media'));
    await s.put('a.txt', 'a');
    expect(walkFiles(dataDir)).toEqual(['storage/media/a.txt']);
    const abs = tmpDir();
    expect((openStorage({ provider: 'local', root: abs }, { dataDir }) as LocalStorage).root).toBe(abs);
    expect((openStorage({ provider: 'local', root: 'elsewhere' }, { dataDir }) as LocalStorage).root).toBe(path.join(dataDir, 'elsewhere'));
  });

  it('rejects an unsafe storage name and keys that look like its temp files', async () => {
    expect(() => openStorage({ provider: 'local' }, { dataDir: tmpDir(), name: '../up' })).toThrow(InvalidInputError);
    expect(() => openStorage({ provider: 'local' }, { dataDir: tmpDir(), name: 'a/b' })).toThrow(InvalidInputError);
    const s = openStorage({ provider: 'local' }, { dataDir: tmpDir() });
    await expect(s.put(`a/${TEMP_PREFIX}x`, 'x')).rejects.toThrow(/reserved/);
  });

  it('removes folders left empty by a delete', async () => {
    const dataDir = tmpDir();
    const s = openStorage({ provider: 'local' }, { dataDir, name: 'f' });
    await s.put('deep/er/still/x.txt', 'x');
    await s.delete('deep/er/still/x.txt');
    // Only the storage's own (empty) temp-file folder is left.
    expect(readdirSync(path.join(dataDir, 'storage', 'f'))).toEqual([`${TEMP_PREFIX}puts`]);
    expect(readdirSync(path.join(dataDir, 'storage', 'f', `${TEMP_PREFIX}puts`))).toEqual([]);
  });

  it('keeps temp files of unfinished puts out of the folders of objects', async () => {
    const dataDir = tmpDir();
    const s = openStorage({ provider: 'local' }, { dataDir, name: 't' });
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk went away'));
      },
    });
    await expect(s.put('exports/a/x.json', failing)).rejects.toThrow(/disk went away/);
    await s.put('exports/a/y.json', 'y');
    expect(readdirSync(path.join(dataDir, 'storage', 't', 'exports', 'a'))).toEqual(['y.json']);
  });

  it('shows a put made with sync: false at once, and flush() makes it durable, even after a delete', async () => {
    const dataDir = tmpDir();
    const s = openStorage({ provider: 'local' }, { dataDir, name: 'lazy' }) as LocalStorage;
    for (let i = 0; i < 50; i++) await s.put(`pages/p1/${i}.json`, `{"i":${i}}`, { sync: false });
    expect((await s.get('pages/p1/7.json')).toString()).toBe('{"i":7}');
    await s.delete('pages/p1/3.json'); // gone before the flush: nothing left to sync for it
    await s.flush();
    await s.flush(); // nothing owed: a no-op
    const keys: string[] = [];
    for await (const o of s.list('pages/')) keys.push(o.key);
    expect(keys).toHaveLength(49);
  });

  it('puts again after its folders were removed from under it', async () => {
    const dataDir = tmpDir();
    const s = openStorage({ provider: 'local' }, { dataDir, name: 'gone' }) as LocalStorage;
    await s.put('a/b/x.txt', 'x');
    rmSync(s.root, { recursive: true, force: true });
    await s.put('a/b/y.txt', 'y');
    expect((await s.get('a/b/y.txt')).toString()).toBe('y');
  });
});

describe('storage: s3 only', () => {
  it('keeps objects under the configured prefix', async () => {
    const bucket = bucketName();
    const s = openStorage(s3Config(bucket, { prefix: 'team/a/' }), { dataDir: tmpDir(), env: s3Env() }) as S3Storage;
    await s.ensureBucket();
    await s.put('x/1.txt', '1');
    const raw = await s.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(raw.Contents?.map((o) => o.Key)).toEqual(['team/a/x/1.txt']);
    expect(await keys(s)).toEqual(['x/1.txt']);
    expect(s.url('x/1.txt')).toBe(`${inject('s3Endpoint')}/${bucket}/team/a/x/1.txt`);
    await s.close();
  });

  it('reads credentials from a secrets file', async () => {
    const dataDir = tmpDir();
    writeFileSync(path.join(dataDir, 'secrets.json'), JSON.stringify({ accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') }));
    const s = openStorage(s3Config(bucketName(), { credentials: { source: 'file', path: 'secrets.json' } }), { dataDir, env: {} }) as S3Storage;
    await s.ensureBucket();
    await s.put('k', 'v');
    expect((await s.get('k')).toString()).toBe('v');
    await s.close();
  });

  it('never puts a credential in an error message', async () => {
    const bucket = bucketName();
    const good = openStorage(s3Config(bucket), { dataDir: tmpDir(), env: s3Env() }) as S3Storage;
    await good.ensureBucket();
    await good.put('k', 'v');
    const wrongSecret = 'WRONG-secret-0123456789abcdefWRONG';
    // A wrong secret, and an unknown access key id (versitygw: HTTP 404 XAdminUserNotFound).
    for (const id of [inject('s3AccessKeyId'), 'nosuchuser']) {
      const bad = openStorage(s3Config(bucket), { dataDir: tmpDir(), env: { TEST_S3_ID: id, TEST_S3_SECRET: wrongSecret } });
      for (const op of [
        () => bad.get('k'),
        () => bad.get('missing'),
        () => bad.put('k', 'x'),
        () => bad.exists('k'),
        () => bad.exists('missing'),
        () => bad.delete('k'),
        () => keys(bad),
      ]) {
        const err = await expectRejects(op(), SynapseError);
        expect(err).not.toBeInstanceOf(NotFoundError);
        expect(err.message).toContain('rejected the credentials');
        expect(err.message).not.toContain(wrongSecret);
        expect(inspect(err, { depth: 10 })).not.toContain(wrongSecret);
        expect(JSON.stringify(err)).not.toContain(wrongSecret);
      }
      await bad.close!();
    }
    expect((await good.get('k')).toString()).toBe('v');
    await good.close();

    // A secrets file that is not JSON: its text is never quoted.
    const dataDir = tmpDir();
    writeFileSync(path.join(dataDir, 'secrets.json'), `{"accessKeyId": "id", "secretAccessKey": ${wrongSecret}}`);
    const err = (() => {
      try {
        openStorage(s3Config(bucket, { credentials: { source: 'file', path: 'secrets.json' } }), { dataDir });
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toContain('not valid JSON');
    expect(err.message).not.toContain(wrongSecret);
  });

  it('names the missing credential variables, not their values', () => {
    const err = (() => {
      try {
        openStorage(s3Config('some-bucket'), { dataDir: tmpDir(), env: {} });
      } catch (e) {
        return e as InvalidInputError;
      }
      throw new Error('expected an error');
    })();
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toContain('TEST_S3_ID and TEST_S3_SECRET');
  });

  it('reports an unreachable endpoint as UnavailableError (exit 4, HTTP 503) naming it', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const s = openStorage(s3Config('gone-bucket', { endpoint }), { dataDir: tmpDir(), env: s3Env() });
    for (const op of [() => s.get('k'), () => s.put('k', 'v'), () => s.exists('k'), () => keys(s)]) {
      const err = await expectRejects(op(), UnavailableError);
      expect(err.message).toContain(endpoint);
      expect(err.message).toContain('ECONNREFUSED');
      expect(err.exitCode).toBe(4);
      expect(err.httpStatus).toBe(503);
    }
    await s.close!();
  });

  it('reports a missing bucket as NotFoundError', async () => {
    const s = openStorage(s3Config('no-such-bucket-here'), { dataDir: tmpDir(), env: s3Env() });
    const err = await expectRejects(s.get('k'), NotFoundError);
    expect(err.message).toMatch(/no object|bucket/);
    await expectRejects(keys(s), NotFoundError);
    await expectRejects(s.exists('k'), NotFoundError);
    await s.close!();
  });
});
