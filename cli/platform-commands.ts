/**
 * `synapse platform init | stats`, `synapse storage add | list | ls` and
 * `synapse dataset generate`. The platform is the SQLite file in the data dir, or Postgres
 * when DATABASE_URL is set. Registering the commands loads nothing but commander and Node
 * built-ins; each action imports the database, the repositories or a storage when it runs.
 */
import type { Command } from 'commander';
import type { PlatformDb } from '../platform/db.js';
import type { Storage } from '../platform/repositories/index.js';
import { InvalidInputError } from '../contracts/errors.js';
import { parseParamsArg, printJson, settingsFrom } from './io.js';

const say = (line: string) => process.stderr.write(line + '\n');

async function withPlatform<T>(cmd: Command, fn: (platform: PlatformDb, dataDir: string) => Promise<T>): Promise<T> {
  const { dataDir } = settingsFrom(cmd);
  const { openDatabase } = await import('../platform/db.js');
  const platform = await openDatabase({ dataDir });
  try {
    return await fn(platform, dataDir);
  } finally {
    await platform.close();
  }
}

function storageLine(s: Storage): string {
  const c = s.config;
  const where =
    c.provider === 'local' ? (c.root ?? `storage/${s.name}`) : `s3://${c.bucket}${c.prefix ? `/${c.prefix}` : ''}${c.endpoint ? ` at ${c.endpoint}` : ''}`;
  return `${String(s.id).padStart(4)}  ${s.name.padEnd(20)} ${s.provider.padEnd(6)} ${where}`;
}

/** platform/generate.ts MAX_COUNT, for the help text without loading the generator; parseCount checks against the real one. */
const MAX_COUNT_HELP = '1,000,000';

async function parseCount(value: string): Promise<number> {
  const { MAX_COUNT } = await import('../platform/generate.js');
  const n = Number(value.replace(/[_,]/g, ''));
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_COUNT) {
    throw new InvalidInputError('invalid option', [
      { path: 'count', message: `must be a whole number from 1 to ${MAX_COUNT.toLocaleString('en-US')}, got ${JSON.stringify(value)}` },
    ]);
  }
  return n;
}

function parseWhole(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new InvalidInputError('invalid option', [{ path: name, message: `must be a whole number, got ${JSON.stringify(value)}` }]);
  return n;
}

export function platformCommands(program: Command, exit: (code: number) => void): void {
  const platform = program.command('platform').description('the platform database (SQLite in the data dir, or Postgres with DATABASE_URL)');

  platform
    .command('init')
    .description('create or migrate the database and the default local storage')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { ensureDefaultStorage } = await import('../platform/repositories/index.js');
      await withPlatform(cmd, async (p) => {
        const storage = await ensureDefaultStorage(p.db);
        if (opts.json) printJson({ dialect: p.dialect, location: p.location, defaultStorage: storage });
        else process.stdout.write(`platform ready: ${p.dialect} at ${p.location}\ndefault storage: ${storageLine(storage).trim()}\n`);
      });
      exit(0);
    });

  platform
    .command('stats')
    .description('where the platform is and how many rows each table holds')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { platformStats } = await import('../platform/repositories/index.js');
      await withPlatform(cmd, async (p) => {
        const stats = await platformStats(p);
        if (opts.json) return printJson(stats);
        process.stdout.write(`${stats.dialect} at ${stats.location}\n`);
        for (const [table, n] of Object.entries(stats.tables)) process.stdout.write(`${table.padEnd(24)}${n.toLocaleString('en-US').padStart(14)}\n`);
      });
      exit(0);
    });

  const storage = program.command('storage').description('storages: where files live (local folders, S3-compatible buckets)');

  storage
    .command('add')
    .description('add a storage; options as JSON or @file.json, or with the flags (no secrets: credentials come from the environment or a secrets file)')
    .argument('<name>', 'storage name (lowercase letters, digits, ".", "_", "-")')
    .argument('[config]', 'the storage options as JSON or @file.json, e.g. {"provider":"s3","bucket":"data","endpoint":"http://127.0.0.1:7070"}')
    .option('--provider <provider>', 'local | s3')
    .option('--root <dir>', 'local: folder (relative to the data dir unless absolute)')
    .option('--bucket <bucket>', 's3: bucket')
    .option('--endpoint <url>', 's3: endpoint of an S3-compatible server')
    .option('--region <region>', 's3: region')
    .option('--prefix <prefix>', 's3: key prefix inside the bucket')
    .option('--json', 'print JSON')
    .action(async (name: string, configArg: string | undefined, opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const fromArg = parseParamsArg(configArg) as Record<string, unknown>;
      if (typeof fromArg !== 'object' || fromArg === null || Array.isArray(fromArg)) {
        throw new InvalidInputError('invalid storage options', [{ path: 'config', message: 'must be a JSON object' }]);
      }
      const flags = Object.fromEntries(
        ['provider', 'root', 'bucket', 'endpoint', 'region', 'prefix'].filter((k) => opts[k] !== undefined).map((k) => [k, opts[k]]),
      );
      const config = { provider: 'local', ...fromArg, ...flags };
      const { createStorage } = await import('../platform/repositories/index.js');
      await withPlatform(cmd, async (p) => {
        const created = await createStorage(p.db, { name, config });
        if (opts.json) printJson(created);
        else process.stdout.write(`storage ${created.id} "${created.name}" (${created.provider})\n`);
      });
      exit(0);
    });

  storage
    .command('list')
    .description('the storages')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { listStorages } = await import('../platform/repositories/index.js');
      await withPlatform(cmd, async (p) => {
        const list = await listStorages(p.db);
        if (opts.json) return printJson(list);
        if (list.length === 0) return say('no storages (run `synapse platform init` for the default one)');
        for (const s of list) process.stdout.write(storageLine(s) + '\n');
      });
      exit(0);
    });

  storage
    .command('ls')
    .description('list the files of a storage')
    .argument('<storage>', 'storage id or name')
    .argument('[prefix]', 'only keys starting with this')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON lines')
    .action(async (ref: string, prefix: string | undefined, opts: { limit: string; json?: boolean }, cmd: Command) => {
      const limit = parseWhole(opts.limit, 'limit') ?? 1000;
      const [{ getStorage }, { openStorage }] = await Promise.all([import('../platform/repositories/index.js'), import('../storage/index.js')]);
      // `synapse storage ls x | head`: a closed pipe ends the listing quietly.
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
      await withPlatform(cmd, async (p, dataDir) => {
        const record = await getStorage(p.db, ref);
        const provider = openStorage(record.config, { dataDir, name: record.name });
        let n = 0;
        for await (const o of provider.list(prefix ?? '')) {
          if (n++ >= limit) {
            say(`(more than ${limit}; use --limit)`);
            break;
          }
          if (opts.json) process.stdout.write(JSON.stringify(o) + '\n');
          else process.stdout.write(`${String(o.size).padStart(12)}  ${(o.lastModified ?? '').padEnd(24)}  ${o.key}\n`);
        }
      });
      exit(0);
    });

  const dataset = program.command('dataset').description('sample data');

  dataset
    .command('generate')
    .description('deterministic sample data: PNG images with class and bounding-box annotations, a project, tasks, assignments and a ground-truth version')
    .requiredOption('--count <n>', `items (data units), 1 to ${MAX_COUNT_HELP}`)
    .option('--seed <n>', 'random seed: the same seed gives the same data', '1')
    .option('--images', 'write PNG files (default up to 10,000 items)')
    .option('--no-images', 'rows only, no files')
    .option('--project-name <name>', 'name of the project, collection and dataset (default sample-<seed>)')
    .option('--batch-size <n>', 'items per transaction', '1000')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { count: string; seed: string; images?: boolean; projectName?: string; batchSize: string; json?: boolean }, cmd: Command) => {
      const count = await parseCount(opts.count);
      const seed = parseWhole(opts.seed, 'seed');
      const batchSize = parseWhole(opts.batchSize, 'batch-size');
      const { generateSampleData } = await import('../platform/generate.js');
      await withPlatform(cmd, async (p, dataDir) => {
        let lastReport = 0;
        const result = await generateSampleData(p, {
          count,
          dataDir,
          ...(seed !== undefined ? { seed } : {}),
          ...(opts.images !== undefined ? { images: opts.images } : {}),
          ...(opts.projectName ? { projectName: opts.projectName } : {}),
          ...(batchSize ? { batchSize } : {}),
          onProgress: (done, total) => {
            if (Date.now() - lastReport < 1000 && done < total) return;
            lastReport = Date.now();
            say(`generated ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
          },
        });
        if (opts.json) return printJson(result);
        process.stdout.write(
          `project "${result.project.name}" (id ${result.project.id}): ${result.count.toLocaleString('en-US')} data units, tasks, assignments and ground-truth events` +
            `${result.images ? `, ${result.images.toLocaleString('en-US')} images` : ''} in ${result.seconds.toFixed(1)} s ` +
            `(${Math.round(result.rows / result.seconds).toLocaleString('en-US')} rows/s); ground-truth version ${result.groundTruth.versionId}\n`,
        );
      });
      exit(0);
    });
}
