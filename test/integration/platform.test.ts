/**
 * The platform on a real SQLite file and a real PostgreSQL server: the same suite for both.
 * Every entity's create/read, idempotent upserts, the bad inputs of issue 7 (each leaves
 * nothing written), the run store, the sample-data generator, stats and the CLI.
 */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, sampleItem } from '../../platform/generate.js';
import { KyselyRunStore } from '../../platform/kysely-run-store.js';
import * as repo from '../../platform/repositories/index.js';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import { runCli, testSettings } from '../helpers.js';
import { createDatabase } from '../servers/postgres.js';

interface Variant {
  name: 'sqlite' | 'postgres';
  /** '' for SQLite; a fresh database's URL for Postgres. */
  url(): Promise<string>;
}

const variants: Variant[] = [
  { name: 'sqlite', url: async () => '' },
  {
    name: 'postgres',
    url: async () => {
      const server = inject('postgresUrl');
      if (!server) throw new Error(`PostgreSQL is not running for the tests: ${inject('postgresError')}`);
      return createDatabase(server, `platform_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`);
    },
  },
];

async function rejects(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const PNG_SPEC = [{ name: 'image', required: true, extensions: ['.png', 'jpg'] }];

describe.each(variants)('platform on $name', (variant) => {
  let p: PlatformDb;
  let url: string;
  let dataDir: string;
  let storageId: number;

  beforeAll(async () => {
    url = await variant.url();
    dataDir = mkdtempSync(path.join(os.tmpdir(), `synapse-platform-${variant.name}-`));
    p = await openDatabase({ dataDir, url });
    expect(p.dialect).toBe(variant.name);
  });
  afterAll(async () => {
    await p?.close();
  });

  const count = async (table: 'data_units' | 'tasks' | 'assignments' | 'ground_truth_events' | 'storages' | 'models') =>
    Number(
      (
        await p.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('opens twice (migrations run once) and keeps the data', async () => {
    const again = await openDatabase({ dataDir, url });
    expect(again.dialect).toBe(variant.name);
    await again.close();
  });

  it('storages: create, read by id and name, idempotent, unknown id is NotFoundError', async () => {
    const s = await repo.ensureDefaultStorage(p.db);
    storageId = s.id;
    expect(s).toMatchObject({ name: 'default', provider: 'local', config: { provider: 'local' } });
    expect((await repo.ensureDefaultStorage(p.db)).id).toBe(s.id);
    const s3 = await repo.createStorage(p.db, { name: 'bucket', config: { provider: 's3', bucket: 'data', endpoint: 'http://127.0.0.1:7070' } });
    expect(s3.config).toMatchObject({ provider: 's3', bucket: 'data', region: 'us-east-1', forcePathStyle: true, credentials: { source: 'env' } });
    expect((await repo.createStorage(p.db, { name: 'bucket', config: { provider: 's3', bucket: 'data', endpoint: 'http://127.0.0.1:7070' } })).id).toBe(s3.id);
    expect((await repo.getStorage(p.db, 'bucket')).id).toBe(s3.id);
    expect((await repo.getStorage(p.db, s3.id)).name).toBe('bucket');
    expect((await repo.listStorages(p.db)).map((x) => x.name)).toEqual(['default', 'bucket']);

    const bad = await rejects(repo.createStorage(p.db, { name: 'x', config: { provider: 's3', bucket: 'ab', secret: 'k' } }));
    expect(bad).toBeInstanceOf(InvalidInputError);
    expect((bad as InvalidInputError).problems.map((q) => q.path)).toEqual(expect.arrayContaining(['config.bucket', 'config.secret']));
    const other = await rejects(repo.createStorage(p.db, { name: 'bucket', config: { provider: 'local' } }));
    expect(other.message).toContain('cannot add the storage');
    const missing = await rejects(repo.getStorage(p.db, 9999));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing.message).toBe('unknown storage 9999');
    expect(await count('storages')).toBe(2);
  });

  it('data collections and units: create, read, and adding the same units again is a no-op', async () => {
    const c = await repo.createDataCollection(p.db, { name: 'photos', files: [...PNG_SPEC, { name: 'meta', required: false, extensions: ['.json'] }] });
    expect(c.files).toEqual([
      { name: 'image', required: true, extensions: ['.png', '.jpg'] },
      { name: 'meta', required: false, extensions: ['.json'] },
    ]);
    expect((await repo.createDataCollection(p.db, { name: 'photos', files: [...PNG_SPEC, { name: 'meta', required: false, extensions: ['.json'] }] })).id).toBe(
      c.id,
    );
    expect((await repo.getDataCollection(p.db, 'photos')).id).toBe(c.id);

    const units: repo.NewDataUnit[] = [
      { uniqueKey: 'a', meta: { n: 1 }, files: { image: { storage: storageId, key: 'photos/a.png', size: 10 } } },
      { uniqueKey: 'b', meta: { n: 2 }, files: { image: { storage: storageId, key: 'photos/b.JPG' }, meta: { storage: storageId, key: 'photos/b.json' } } },
    ];
    const first = await repo.addDataUnits(p.db, c.id, units);
    expect(first.map((u) => u.uniqueKey)).toEqual(['a', 'b']);
    const again = await repo.addDataUnits(p.db, 'photos', [units[1]!, units[0]!]);
    expect(again.map((u) => u.id)).toEqual([first[1]!.id, first[0]!.id]);
    expect(await count('data_units')).toBe(2);
    const read = await repo.getDataUnit(p.db, first[1]!.id);
    expect(read).toMatchObject({ uniqueKey: 'b', meta: { n: 2 }, files: units[1]!.files, collectionId: c.id });
    expect((await repo.listDataUnits(p.db, { collectionId: c.id, afterId: first[0]!.id })).map((u) => u.uniqueKey)).toEqual(['b']);
  });

  it('bad data units write nothing: a traversal key, an unknown storage, a duplicate unit, a missing file', async () => {
    const before = await count('data_units');
    const ok = { uniqueKey: 'fresh-1', files: { image: { storage: storageId, key: 'photos/fresh-1.png' } } };

    const traversal = await rejects(
      repo.addDataUnits(p.db, 'photos', [ok, { uniqueKey: 'evil', files: { image: { storage: storageId, key: '../../etc/passwd.png' } } }]),
    );
    expect(traversal).toBeInstanceOf(InvalidInputError);
    expect((traversal as InvalidInputError).problems).toEqual([
      expect.objectContaining({ path: '1.files.image.key', message: expect.stringContaining('".." segments are not allowed') }),
    ]);

    const unknownStorage = await rejects(repo.addDataUnits(p.db, 'photos', [ok, { uniqueKey: 'x', files: { image: { storage: 4242, key: 'x.png' } } }]));
    expect(unknownStorage).toBeInstanceOf(NotFoundError);
    expect(unknownStorage.message).toBe('unknown storage 4242');

    const dupInBatch = await rejects(repo.addDataUnits(p.db, 'photos', [ok, { ...ok }]));
    expect(dupInBatch).toBeInstanceOf(InvalidInputError);
    expect(dupInBatch.message).toContain('duplicate data unit "fresh-1"');

    // "a" is stored with other content: the whole batch (with the new "fresh-1") is rolled back.
    const dupStored = await rejects(
      repo.addDataUnits(p.db, 'photos', [ok, { uniqueKey: 'a', meta: { n: 99 }, files: { image: { storage: storageId, key: 'photos/a.png' } } }]),
    );
    expect(dupStored).toBeInstanceOf(InvalidInputError);
    expect(dupStored.message).toMatch(/duplicate data unit "a": the collection has a different unit/);

    const missingFile = await rejects(
      repo.addDataUnits(p.db, 'photos', [
        { uniqueKey: 'm', files: { meta: { storage: storageId, key: 'm.json' }, video: { storage: storageId, key: 'v.mp4' } } },
      ]),
    );
    expect((missingFile as InvalidInputError).problems.map((q) => q.path)).toEqual(['0.files.image', '0.files.video']);
    const badExt = await rejects(repo.addDataUnits(p.db, 'photos', [{ uniqueKey: 'e', files: { image: { storage: storageId, key: 'e.gif' } } }]));
    expect(badExt.message).toContain('extension ".gif" is not allowed');

    expect(await count('data_units')).toBe(before);
    const unknownCollection = await rejects(repo.addDataUnits(p.db, 'nope', [ok]));
    expect(unknownCollection).toBeInstanceOf(NotFoundError);
  });

  it('projects, tasks and assignments: create, read, idempotent; a malformed annotation lists its paths and writes nothing', async () => {
    const configuration = {
      data_type: 'image',
      classes: [
        { name: 'cat', type: 'bbox', attributes: [{ name: 'pose', type: 'select', options: ['sit', 'stand'], required: true }] },
        { name: 'scene', type: 'classification' },
      ],
    };
    const project = await repo.createProject(p.db, { name: 'pets', collection: 'photos', configuration });
    expect((await repo.createProject(p.db, { name: 'pets', collection: 'photos', configuration })).id).toBe(project.id);
    expect((await repo.getProject(p.db, 'pets')).configuration.classes.map((c) => c.name)).toEqual(['cat', 'scene']);
    const units = await repo.listDataUnits(p.db, { collectionId: project.collectionId });
    const tasks = await repo.createTasks(
      p.db,
      project.id,
      units.map((u) => u.id),
    );
    expect(tasks.map((t) => t.status)).toEqual(['pending', 'pending']);
    expect(
      (
        await repo.createTasks(
          p.db,
          project.id,
          units.map((u) => u.id),
        )
      ).map((t) => t.id),
    ).toEqual(tasks.map((t) => t.id));
    expect(await count('tasks')).toBe(2);
    await expect(repo.createTasks(p.db, project.id, [987654])).rejects.toBeInstanceOf(NotFoundError);

    const doc = {
      data_type: 'image',
      annotations: [
        { id: 'a1', type: 'bbox', class_name: 'cat', x: 1, y: 2, width: 3, height: 4, attributes: { pose: 'sit' } },
        { id: 'a2', type: 'classification', class_name: 'scene' },
      ],
    };
    const written = await repo.upsertAssignments(p.db, project.id, [{ taskId: tasks[0]!.id, annotator: 'ann', annotations: doc }]);
    expect(written[0]).toMatchObject({ taskId: tasks[0]!.id, annotator: 'ann', status: 'completed', annotations: { version: 1, data_type: 'image' } });
    const updated = await repo.upsertAssignments(p.db, project.id, [{ taskId: tasks[0]!.id, annotator: 'ann', status: 'submitted', annotations: doc }]);
    expect(updated[0]!.id).toBe(written[0]!.id);
    expect(await count('assignments')).toBe(1);
    const listed = await repo.listAssignments(p.db, { projectId: project.id, status: 'submitted' });
    expect(listed).toHaveLength(1);
    expect(listed[0]!.dataUnit.uniqueKey).toBe(units[0]!.uniqueKey);
    expect(listed[0]!.annotations.annotations[0]).toMatchObject({ class_name: 'cat', attributes: { pose: 'sit' } });
    expect((await repo.listTasks(p.db, { projectId: project.id })).map((t) => t.dataUnit.uniqueKey)).toEqual(['a', 'b']);

    const malformed = await rejects(
      repo.upsertAssignments(p.db, project.id, [
        { taskId: tasks[1]!.id, annotations: doc },
        {
          taskId: tasks[0]!.id,
          annotator: 'other',
          annotations: {
            data_type: 'image',
            annotations: [
              { id: 'b1', type: 'bbox', class_name: 'cat', x: 1, y: 2, width: -3, height: 4 },
              { id: 'b2', type: 'polygon', class_name: 'dog', points: [[0, 0]] },
              { id: 'b1', type: 'classification', class_name: 'dog' },
            ],
          },
        },
      ]),
    );
    expect(malformed).toBeInstanceOf(InvalidInputError);
    const paths = (malformed as InvalidInputError).problems.map((q) => q.path);
    expect(paths).toEqual(expect.arrayContaining(['1.annotations.annotations.0.width', '1.annotations.annotations.1.points']));
    expect(await count('assignments')).toBe(1);

    const wrongClass = await rejects(
      repo.upsertAssignments(p.db, project.id, [
        {
          taskId: tasks[1]!.id,
          annotations: {
            data_type: 'image',
            annotations: [
              { id: 'c', type: 'bbox', class_name: 'dog', x: 0, y: 0, width: 1, height: 1 },
              { id: 'd', type: 'bbox', class_name: 'cat', x: 0, y: 0, width: 1, height: 1, attributes: { pose: 'fly' } },
            ],
          },
        },
      ]),
    );
    expect((wrongClass as InvalidInputError).problems).toEqual([
      expect.objectContaining({ path: '0.annotations.annotations.0.class_name', message: expect.stringContaining('unknown class "dog"') }),
      expect.objectContaining({ path: '0.annotations.annotations.1.attributes.pose', message: expect.stringContaining('"fly" is not one of sit, stand') }),
    ]);
    expect(await count('assignments')).toBe(1);
  });

  it('ground truth: datasets, versions and their events; duplicates and malformed annotations write nothing', async () => {
    const project = await repo.getProject(p.db, 'pets');
    const dataset = await repo.createGroundTruthDataset(p.db, { name: 'pets-gt', project: project.id });
    expect((await repo.createGroundTruthDataset(p.db, { name: 'pets-gt', project: 'pets' })).id).toBe(dataset.id);
    const v1 = await repo.createGroundTruthVersion(p.db, dataset.id, 'v1');
    expect((await repo.createGroundTruthVersion(p.db, 'pets-gt', 'v1')).id).toBe(v1.id);
    const units = await repo.listDataUnits(p.db, { collectionId: project.collectionId });
    const doc = { data_type: 'image', annotations: [{ id: 's', type: 'classification', class_name: 'scene' }] };
    await repo.addGroundTruthEvents(
      p.db,
      v1.id,
      units.map((u) => ({ dataUnitId: u.id, annotations: doc })),
    );
    await repo.addGroundTruthEvents(
      p.db,
      v1.id,
      units.map((u) => ({ dataUnitId: u.id, annotations: doc })),
    );
    const events = await repo.listGroundTruthEvents(p.db, { versionId: v1.id });
    expect(events.map((e) => e.dataUnit.uniqueKey)).toEqual(['a', 'b']);
    expect(events[0]!.annotations.annotations[0]).toMatchObject({ class_name: 'scene', attributes: {} });
    expect((await repo.listGroundTruthVersions(p.db, dataset.id)).map((v) => v.name)).toEqual(['v1']);

    const v2 = await repo.createGroundTruthVersion(p.db, dataset.id, 'v2');
    const dup = await rejects(
      repo.addGroundTruthEvents(p.db, v2.id, [
        { dataUnitId: units[0]!.id, annotations: doc },
        { dataUnitId: units[0]!.id, annotations: doc },
      ]),
    );
    expect(dup.message).toContain(`duplicate data unit ${units[0]!.id}`);
    const bad = await rejects(
      repo.addGroundTruthEvents(p.db, v2.id, [
        { dataUnitId: units[0]!.id, annotations: doc },
        { dataUnitId: units[1]!.id, annotations: { data_type: 'text', annotations: 'no' } },
      ]),
    );
    expect((bad as InvalidInputError).problems.map((q) => q.path)).toEqual(['1.annotations.annotations']);
    expect(await repo.listGroundTruthEvents(p.db, { versionId: v2.id })).toEqual([]);
    await expect(repo.getGroundTruthVersion(p.db, 999_999)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('models and plugin releases: create, read, idempotent; unknown storage and unsafe keys rejected', async () => {
    const m = await repo.createModel(p.db, {
      name: 'yolo-small',
      plugin: { code: 'yolo', version: '1.0.0' },
      file: { storage: storageId, key: 'models/yolo.pt' },
      configuration: { epochs: 3 },
      metrics: { mAP: 0.5 },
      runId: 'run-1',
    });
    expect((await repo.createModel(p.db, { name: 'yolo-small', plugin: { code: 'yolo', version: '1.0.0' }, runId: 'run-1' })).id).toBe(m.id);
    expect(await repo.getModel(p.db, m.id)).toMatchObject({
      plugin: { code: 'yolo', version: '1.0.0' },
      file: { storage: storageId, key: 'models/yolo.pt' },
      metrics: { mAP: 0.5 },
    });
    expect((await repo.listModels(p.db, { pluginCode: 'yolo' })).length).toBe(1);
    await expect(repo.createModel(p.db, { name: 'x', plugin: { code: 'yolo', version: '1' }, file: { storage: 777, key: 'a.pt' } })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(
      repo.createModel(p.db, { name: 'x', plugin: { code: 'yolo', version: '1' }, file: { storage: storageId, key: 'a/../../b.pt' } }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await count('models')).toBe(1);

    const checksum = 'a'.repeat(64);
    const r = await repo.createPluginRelease(p.db, { code: 'yolo', version: '1.0.0', checksum, config: { code: 'yolo' } });
    expect((await repo.createPluginRelease(p.db, { code: 'yolo', version: '1.0.0', checksum, config: { code: 'yolo' } })).id).toBe(r.id);
    const clash = await rejects(repo.createPluginRelease(p.db, { code: 'yolo', version: '1.0.0', checksum: 'b'.repeat(64), config: {} }));
    expect(clash.message).toContain('cannot publish the release');
    expect((await repo.getPluginRelease(p.db, 'yolo', '1.0.0')).checksum).toBe(checksum);
    await expect(repo.getPluginRelease(p.db, 'yolo', '9.9.9')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('the run store lives in the same database', async () => {
    const store = await KyselyRunStore.open({ dataDir, url });
    try {
      const at = new Date().toISOString();
      await store.createRun({
        id: 'r1',
        pluginCode: 'p',
        pluginVersion: '1.0.0',
        action: 'train',
        category: 'neural_net',
        method: 'job',
        status: 'pending',
        params: { a: 1 },
        createdAt: at,
        updatedAt: at,
      });
      await store.createRun({
        id: 'r1',
        pluginCode: 'other',
        pluginVersion: '2',
        action: 'x',
        category: 'y',
        method: 'job',
        status: 'running',
        params: {},
        createdAt: at,
        updatedAt: at,
      });
      await store.updateRun('r1', { status: 'completed', result: { ok: true } });
      expect(await store.getRun('r1')).toMatchObject({ pluginCode: 'p', status: 'completed', params: { a: 1 }, result: { ok: true } });
      expect((await store.listRuns({ status: 'completed' })).map((r) => r.id)).toEqual(['r1']);
      await store.appendEvents(
        Array.from({ length: 1500 }, (_, i) => ({ runId: 'r1', attempt: 1, at, data: { kind: 'log' as const, level: 'INFO', message: `m${i}` } })),
      );
      const page = await store.readEvents('r1', 0, 1000);
      expect(page).toHaveLength(1000);
      expect(typeof page[0]!.id).toBe('number');
      const rest = await store.readEvents('r1', page.at(-1)!.id);
      expect(rest.map((e) => (e.data as { message: string }).message).at(-1)).toBe('m1499');
      expect(await store.highestAttempt('r1')).toBe(1);
      await store.appendEvents([{ runId: 'r1', attempt: 3, at, data: { kind: 'log' as const, level: 'ERROR', message: 'attempt 3 failed: boom' } }]);
      expect(await store.highestAttempt('r1')).toBe(3);
      expect(await store.highestAttempt('no-such-run')).toBe(0);
      await store.saveCheckpoint('r1', { seq: 2, state: { next: 20 }, attempt: 1, at });
      await store.saveCheckpoint('r1', { seq: 1, state: { next: 10 }, attempt: 1, at });
      expect(await store.latestCheckpoint('r1')).toMatchObject({ seq: 2, state: { next: 20 } });
    } finally {
      await store.close();
    }
  });

  it('the generator is deterministic and idempotent, and stats count its rows', async () => {
    const a = await generateSampleData(p, { count: 30, seed: 7, projectName: 'gen-a', dataDir, images: true, batchSize: 8 });
    const b = await generateSampleData(p, { count: 30, seed: 7, projectName: 'gen-b', dataDir, images: false, batchSize: 30 });
    expect(a).toMatchObject({ count: 30, images: 30, rows: 120 });
    const gt = async (versionId: number) =>
      (await repo.listGroundTruthEvents(p.db, { versionId })).map((e) => ({
        key: e.dataUnit.uniqueKey.replace(/^gen-./, ''),
        meta: e.dataUnit.meta,
        annotations: e.annotations,
      }));
    const rowsA = await gt(a.groundTruth.versionId);
    expect(rowsA).toHaveLength(30);
    expect(await gt(b.groundTruth.versionId)).toEqual(rowsA);
    expect(rowsA[3]!.annotations).toEqual(sampleItem(7, 3, 'x').annotations);
    const different = sampleItem(8, 3, 'x').annotations;
    expect(different).not.toEqual(sampleItem(7, 3, 'x').annotations);

    // The image is a PNG in the default local storage, where the data unit says it is.
    const unit = (await repo.listDataUnits(p.db, { collectionId: a.collectionId, limit: 1 }))[0]!;
    const png = await readFile(path.join(dataDir, 'storage', 'default', unit.files.image!.key));
    expect(png.subarray(1, 4).toString()).toBe('PNG');

    const before = await repo.platformStats(p);
    const again = await generateSampleData(p, { count: 30, seed: 7, projectName: 'gen-a', dataDir, images: false });
    expect(again.project.id).toBe(a.project.id);
    const after = await repo.platformStats(p);
    expect(after.tables).toEqual(before.tables);
    expect(after.dialect).toBe(variant.name);
    expect(after.tables.data_units).toBe(2 + 60);
    expect(after.tables.ground_truth_events).toBe(2 + 60);

    const bad = await rejects(generateSampleData(p, { count: 0, dataDir, seed: -1 }));
    expect((bad as InvalidInputError).problems.map((q) => q.path)).toEqual(['count', 'seed']);
  });

  it('the CLI: platform init | stats, storage add | list | ls, dataset generate, bad input exit codes', async () => {
    const settings = testSettings(`platform-cli-${variant.name}`);
    const env = { DATABASE_URL: url ? url.replace(/platform_\w+$/, `cli_${variant.name}_${Date.now()}`) : '' };
    if (env.DATABASE_URL) await createDatabase(url, new URL(env.DATABASE_URL).pathname.slice(1));

    const init = await runCli(['platform', 'init'], settings, env);
    expect(init.stderr).toBe('');
    expect(init.stdout).toContain(`platform ready: ${variant.name}`);
    const gen = await runCli(['dataset', 'generate', '--count', '25', '--seed', '3'], settings, env);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout).toContain('project "sample-3"');
    const stats = await runCli(['platform', 'stats', '--json'], settings, env);
    expect(JSON.parse(stats.stdout)).toMatchObject({ dialect: variant.name, tables: { data_units: 25, tasks: 25, assignments: 25, ground_truth_events: 25 } });
    if (env.DATABASE_URL) expect(stats.stdout).not.toContain('password');

    const add = await runCli(['storage', 'add', 'lake', '--provider', 's3', '--bucket', 'lake', '--endpoint', 'http://127.0.0.1:7070'], settings, env);
    expect(add.code, add.stderr).toBe(0);
    const list = await runCli(['storage', 'list'], settings, env);
    expect(list.stdout).toMatch(/default\s+local/);
    expect(list.stdout).toMatch(/lake\s+s3\s+s3:\/\/lake at http:\/\/127\.0\.0\.1:7070/);
    const ls = await runCli(['storage', 'ls', 'default', 'sample-3/images/', '--json'], settings, env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout.trim().split('\n')).toHaveLength(25);

    const badConfig = await runCli(['storage', 'add', 'bad', '{"provider":"s3","bucket":"b"}'], settings, env);
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('config.bucket');
    const unknown = await runCli(['storage', 'ls', '4242'], settings, env);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('unknown storage 4242');
    const badCount = await runCli(['dataset', 'generate', '--count', '2000001'], settings, env);
    expect(badCount.code).toBe(2);
  });
});
