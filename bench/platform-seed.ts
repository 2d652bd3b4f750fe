/**
 * Seeding the platform: `synapse dataset generate` (through the repositories: validation,
 * idempotent upserts, one transaction per batch) against a plain batched INSERT of the same
 * rows (multi-row INSERT ... VALUES, one transaction per batch, no checks) into the same
 * database in the same run. Prints rows per second for both, the ratio, and peak RSS.
 *
 *   node bin/run-ts.mjs bench/platform-seed.ts [--count 100000] [--batch 1000]
 *   DATABASE_URL=postgres://... node bin/run-ts.mjs bench/platform-seed.ts    # on Postgres
 *
 * Rows are data units, tasks, assignments and ground-truth events: four per item.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../platform/db.js';
import { generateSampleData, sampleItem, SAMPLE_CONFIGURATION } from '../platform/generate.js';
import { canonicalJson, sha256 } from '../platform/repositories/common.js';
import * as repo from '../platform/repositories/index.js';

const { values } = parseArgs({ options: { count: { type: 'string', default: '100000' }, batch: { type: 'string', default: '1000' } } });
const count = Number(values.count);
const batch = Number(values.batch);
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-bench-platform-'));
const platform = await openDatabase({ dataDir });
const { db } = platform;
const tag = Date.now().toString(36);
console.log(`platform seed: ${count.toLocaleString('en-US')} items (${(count * 4).toLocaleString('en-US')} rows) on ${platform.dialect}, batches of ${batch}`);

// 1. The generator.
let t = performance.now();
const gen = await generateSampleData(platform, { count, seed: 1, images: false, projectName: `bench-gen-${tag}`, dataDir, batchSize: batch });
const genSeconds = (performance.now() - t) / 1000;

// 2. The same rows, plain: set-up (not timed) through the repositories, rows by multi-row INSERT.
const name = `bench-plain-${tag}`;
const storage = await repo.ensureDefaultStorage(db);
const collection = await repo.createDataCollection(db, { name, files: [{ name: 'image', required: true, extensions: ['.png'] }] });
const project = await repo.createProject(db, { name, collection: collection.id, configuration: SAMPLE_CONFIGURATION });
const dataset = await repo.createGroundTruthDataset(db, { name, project: project.id });
const version = await repo.createGroundTruthVersion(db, dataset.id, 'v1');
t = performance.now();
for (let start = 0; start < count; start += batch) {
  const items = Array.from({ length: Math.min(batch, count - start) }, (_, i) => sampleItem(1, start + i, name));
  const at = new Date().toISOString();
  await db.transaction().execute(async (trx) => {
    const units = await trx
      .insertInto('data_units')
      .values(
        items.map((item) => {
          const meta = { index: item.index, split: item.split, width: 64, height: 64, seed: 1 };
          const files = { image: { storage: storage.id, key: item.imageKey } };
          return {
            collection_id: collection.id,
            unique_key: item.uniqueKey,
            meta: JSON.stringify(meta),
            files: JSON.stringify(files),
            checksum: sha256(canonicalJson({ meta, files })),
            created_at: at,
          };
        }),
      )
      .returning(['id', 'unique_key'])
      .execute();
    const unitId = new Map(units.map((u) => [u.unique_key, u.id]));
    const tasks = await trx
      .insertInto('tasks')
      .values(
        items.map((item) => ({
          project_id: project.id,
          data_unit_id: unitId.get(item.uniqueKey) as number,
          status: 'completed',
          created_at: at,
          updated_at: at,
        })),
      )
      .returning(['id', 'data_unit_id'])
      .execute();
    const taskOf = new Map(tasks.map((x) => [Number(x.data_unit_id), x.id]));
    await trx
      .insertInto('assignments')
      .values(
        items.map((item) => ({
          task_id: taskOf.get(unitId.get(item.uniqueKey) as number) as number,
          annotator: 'generator',
          status: 'completed',
          annotations: JSON.stringify(item.annotations),
          created_at: at,
          updated_at: at,
        })),
      )
      .execute();
    await trx
      .insertInto('ground_truth_events')
      .values(
        items.map((item) => ({
          version_id: version.id,
          data_unit_id: unitId.get(item.uniqueKey) as number,
          annotations: JSON.stringify(item.annotations),
          created_at: at,
        })),
      )
      .execute();
  });
}
const plainSeconds = (performance.now() - t) / 1000;

const rows = count * 4;
const genRate = rows / genSeconds;
const plainRate = rows / plainSeconds;
const stats = await repo.platformStats(platform);
console.log(`generator (validated, idempotent)  ${genSeconds.toFixed(2).padStart(8)} s  ${Math.round(genRate).toLocaleString('en-US').padStart(10)} rows/s`);
console.log(
  `plain batched INSERT (baseline)    ${plainSeconds.toFixed(2).padStart(8)} s  ${Math.round(plainRate).toLocaleString('en-US').padStart(10)} rows/s`,
);
console.log(`ratio generator / plain: ${(genRate / plainRate).toFixed(2)} (1.00 = as fast as the plain INSERT)`);
console.log(
  `peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB; data units in the database: ${stats.tables.data_units.toLocaleString('en-US')}; generator project ${gen.project.id}`,
);
await platform.close();
rmSync(dataDir, { recursive: true, force: true });
