/**
 * `ctx.platform` (activities/platform-api.ts) over a real SQLite platform database with
 * generated data: every filter of sdk/platform-filters.ts selects what it says, pages chain
 * by `nextAfterId`, an unknown filter key is an error naming it, files read back, and writes
 * are idempotent (annotations: one assignment per task and annotator; results: one per item).
 * Deployments: an unknown one is NotFoundError, one with no ready replica UnavailableError
 * naming it, a ready replica (a real HTTP server on a free port) answers, a 400 becomes
 * InvalidInputError with its problems; withPlatform adds `platform` to a context.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformAccess } from '../../activities/platform-access.js';
import { createPlatformApi, withPlatform } from '../../activities/platform-api.js';
import { InvalidInputError, NotFoundError, UnavailableError } from '../../contracts/errors.js';
import { openDatabase, type PlatformDb } from '../../platform/db.js';
import { generateSampleData, type GenerateResult } from '../../platform/generate.js';
import { KyselyRunStore } from '../../platform/kysely-run-store.js';
import { registerReplica } from '../../platform/repositories/deployments.js';
import { countItemResults, listItemResults, setTaskStatus, upsertAssignments } from '../../platform/repositories/index.js';
import type { PlatformApi, PlatformTask } from '../../sdk/platform-api.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-platform-api-'));
let platform: PlatformDb;
let data: GenerateResult;
let api: PlatformApi;
let store: KyselyRunStore;
const servers: Server[] = [];

async function createRun(id: string, action: string, method = 'restapi'): Promise<void> {
  const at = new Date().toISOString();
  await store.createRun({
    id,
    pluginCode: 'serve',
    pluginVersion: '1.0.0',
    action,
    category: 'neural_net',
    method,
    status: 'running',
    params: {},
    createdAt: at,
    updatedAt: at,
  });
}

/** A replica's HTTP server: 400 for an input without `image`, else the label. */
async function replicaServer(): Promise<string> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const input = JSON.parse(body) as { image?: string };
      if (!input.image) {
        res.writeHead(400, { 'Content-Type': 'application/problem+json' });
        res.end(JSON.stringify({ status: 400, errors: [{ path: 'image', message: 'Required' }] }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ label: 'red', scores: { red: 0.9, blue: 0.1 }, echo: input.image }));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function all(filter: Record<string, unknown>, limit = 7): Promise<PlatformTask[]> {
  const out: PlatformTask[] = [];
  let afterId = 0;
  for (;;) {
    const page = await api.listTasks(data.project.id, filter, { afterId, limit });
    out.push(...page.items);
    if (page.nextAfterId === null) return out;
    afterId = page.nextAfterId;
  }
}

beforeAll(async () => {
  platform = await openDatabase({ dataDir });
  data = await generateSampleData(platform, { count: 30, seed: 9, projectName: 'api', dataDir });
  store = new KyselyRunStore(platform, false);
  api = createPlatformApi(platformAccess(platform.db, dataDir), { runId: 'run-api-test', attempt: 1, pluginCode: 'api-test', runs: store });
});
afterAll(async () => {
  for (const s of servers) s.close();
  await platform?.close();
});

describe('PlatformApi', () => {
  it('pages through tasks with the seed filters', async () => {
    const every = await all({});
    expect(every.map((t) => t.id)).toEqual(Array.from({ length: 30 }, (_, i) => every[0]!.id + i));
    expect(every[0]!.dataUnit.files.image).toBeDefined();

    const [t1, t2, t3] = every;
    // Generated tasks are completed; two change.
    await setTaskStatus(platform.db, t1!.id, 'pending');
    await setTaskStatus(platform.db, t2!.id, 'rejected');
    expect((await all({ status: 'pending' })).map((t) => t.id)).toEqual([t1!.id]);
    expect((await all({ status__in: ['pending', 'rejected'] })).map((t) => t.id)).toEqual([t1!.id, t2!.id]);
    expect(await all({ status: 'completed' })).toHaveLength(28);

    await upsertAssignments(platform.db, data.project.id, [{ taskId: t3!.id, annotator: 'ann', annotations: { data_type: 'image', annotations: [] } }]);
    expect((await all({ assignee: 'ann' })).map((t) => t.id)).toEqual([t3!.id]);
    expect(await all({ assignee: 'nobody' })).toEqual([]);
    expect(await all({ assignee__isnull: true })).toEqual([]);
    expect(await all({ data_collection: 'api' })).toHaveLength(30);
    expect(await all({ id__in: [t2!.id, t3!.id] })).toHaveLength(2);

    const created = every[0]!.createdAt;
    expect(await all({ created_at__gte: created, created_at__lte: created })).toHaveLength(30);
    expect(await all({ created_at__lte: '2000-01-01' })).toEqual([]);
  });

  it('refuses an unknown filter key naming it, and a bad page', async () => {
    const err = await api.listTasks(data.project.id, { status: 'pending', colour: 'red' } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).problems).toEqual([{ path: 'colour', message: 'unknown key "colour"' }]);
    const status = await api.listTasks(data.project.id, { status: 'done' } as never).catch((e: unknown) => e);
    expect((status as InvalidInputError).problems.map((p) => p.path)).toEqual(['status']);
    const page = await api.listTasks(data.project.id, {}, { limit: 5000 }).catch((e: unknown) => e);
    expect((page as InvalidInputError).problems.map((p) => p.path)).toEqual(['limit']);
    const assignments = await api.listAssignments(data.project.id, { annotator: 'x' } as never).catch((e: unknown) => e);
    expect((assignments as InvalidInputError).problems).toEqual([{ path: 'annotator', message: 'unknown key "annotator"' }]);
  });

  it('lists assignments and data units, and reads files', async () => {
    const generated = await api.listAssignments(data.project.id, { assignee: 'generator', status: 'completed' }, { limit: 1000 });
    expect(generated.items).toHaveLength(30);
    expect(generated.nextAfterId).toBeNull();
    const units = await api.listDataUnits(data.collectionId, { task__isnull: false, project: data.project.id }, { limit: 10 });
    expect(units.items).toHaveLength(10);
    expect(units.nextAfterId).toBe(units.items[9]!.id);
    const png = await api.readFile(units.items[0]!.files.image!);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(await api.fileExists({ storage: units.items[0]!.files.image!.storage, key: 'no/such.png' })).toBe(false);
  });

  it('writes annotations and results idempotently', async () => {
    const [task] = (await api.listTasks(data.project.id, {}, { limit: 1 })).items;
    const doc = {
      data_type: 'image' as const,
      annotations: [{ id: 'a', type: 'bbox' as const, class_name: 'circle', x: 1, y: 1, width: 2, height: 2, attributes: { color: 'red' } }],
    };
    await api.writeAnnotations(data.project.id, [{ taskId: task!.id, annotations: doc }]);
    await api.writeAnnotations(data.project.id, [{ taskId: task!.id, annotations: doc }]);
    const mine = (await api.assignmentsOf([task!.id])).get(task!.id)!.filter((a) => a.annotator === 'plugin:api-test');
    expect(mine).toHaveLength(1);
    const bad = await api
      .writeAnnotations(data.project.id, [{ taskId: task!.id, annotations: { ...doc, annotations: [{ ...doc.annotations[0]!, class_name: 'hexagon' }] } }])
      .catch((e: unknown) => e);
    expect((bad as InvalidInputError).problems[0]!.path).toBe('0.annotations.annotations.0.class_name');

    await api.writeResults([{ item: 'task:1', status: 'failed', data: { why: 'x' } }]);
    await api.writeResults([
      { item: 'task:1', status: 'success' },
      { item: 'task:2', status: 'skipped' },
    ]);
    expect(await countItemResults(platform.db, 'run-api-test')).toEqual({ success: 1, failed: 0, skipped: 1 });
    expect((await listItemResults(platform.db, 'run-api-test')).map((r) => [r.item, r.status])).toEqual([
      ['task:1', 'success'],
      ['task:2', 'skipped'],
    ]);
  });

  it('finds deployments and predicts through a ready replica', async () => {
    await expect(api.getDeployment('no-such-deployment')).rejects.toBeInstanceOf(NotFoundError);
    await createRun('not-a-deployment', 'train', 'job');
    await expect(api.predict('not-a-deployment', {})).rejects.toBeInstanceOf(NotFoundError);

    await createRun('dep-1', 'deployment');
    expect(await api.getDeployment('dep-1')).toEqual({ id: 'dep-1', status: 'running', ready: 0 });
    const down = await api.predict('dep-1', { image: 'x' }).catch((e: unknown) => e);
    expect(down).toBeInstanceOf(UnavailableError);
    expect((down as Error).message).toContain('deployment dep-1 has no ready replica');

    // A ready row whose address answers nothing is skipped; the next replica answers.
    await registerReplica(platform.db, { deploymentId: 'dep-1', replica: 0, status: 'ready', address: 'http://127.0.0.1:1', worker: 'w:1', attempt: 1 });
    await registerReplica(platform.db, { deploymentId: 'dep-1', replica: 1, status: 'ready', address: await replicaServer(), worker: 'w:2', attempt: 1 });
    expect((await api.getDeployment('dep-1')).ready).toBe(2);
    expect(await api.predict('dep-1', { image: 'abc' })).toEqual({ label: 'red', scores: { red: 0.9, blue: 0.1 }, echo: 'abc' });
    const refused = await api.predict('dep-1', {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidInputError);
    expect((refused as InvalidInputError).problems).toEqual([{ path: 'image', message: 'Required' }]);
  });

  it('withPlatform adds platform to a context and keeps its members', () => {
    class Ctx {
      #n = 0;
      readonly runId = 'r';
      bump(): number {
        return ++this.#n;
      }
    }
    const ctx = withPlatform(new Ctx() as unknown as Parameters<typeof withPlatform>[0], api) as unknown as Ctx & { platform: PlatformApi };
    expect(ctx.platform).toBe(api);
    expect(ctx.runId).toBe('r');
    expect(ctx.bump()).toBe(1);
    expect(ctx.bump()).toBe(2);
    expect('platform' in ctx).toBe(true);
  });
});
