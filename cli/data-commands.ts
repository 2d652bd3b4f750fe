/**
 * `synapse collection | project | gt-version ...`: the platform data a plugin works on,
 * listed and inspected without writing code, and data collections and projects created
 * (with their file specifications and annotation classes). The seed's names: a data
 * collection says which files each data unit carries (its file specifications); a project
 * annotates a collection's units with classes; a ground-truth dataset has versions, which
 * exports and trainers read (`ground_truth_dataset_version`).
 *
 * Registering the commands loads commander only; each action imports the database and the
 * repositories when it runs. Errors follow contracts/errors.ts: bad flags exit 2 naming the
 * flag, an unknown collection, project or version exits 3.
 */
import type { Command } from 'commander';
import type { PlatformDb } from '../platform/db.js';
import type { DataCollectionSummary, GroundTruthVersionSummary, ProjectSummary } from '../platform/repositories/index.js';
import { InvalidInputError, type Problem } from '../contracts/errors.js';
import { parseParamsArg, printJson, settingsFrom } from './io.js';
import { fields, printLines, table } from './table.js';

/** Opens the platform (SQLite in the data dir, or DATABASE_URL) for one command. */
export async function withPlatformDb<T>(cmd: Command, fn: (platform: PlatformDb, dataDir: string) => Promise<T>): Promise<T> {
  const { dataDir } = settingsFrom(cmd);
  const { openDatabase } = await import('../platform/db.js');
  const platform = await openDatabase({ dataDir });
  try {
    return await fn(platform, dataDir);
  } finally {
    await platform.close();
  }
}

export interface FileSpecInput {
  name: string;
  required: boolean;
  extensions: string[];
}

/**
 * One `--file-spec`: `name[:required|optional][:.ext,.ext]`, e.g. `image:required:.png,.jpg`,
 * `meta:optional`, `image::png`. Problems name the flag and its position (`file-spec[2]`).
 */
export function parseFileSpec(text: string, index: number): FileSpecInput | Problem {
  const path = `file-spec[${index}]`;
  const [name = '', requirement = '', exts = '', ...rest] = text.split(':');
  if (rest.length > 0) return { path, message: `${JSON.stringify(text)}: use name[:required|optional][:.ext,.ext]` };
  if (!/^[a-z0-9_]{1,64}$/.test(name)) return { path, message: `${JSON.stringify(name)}: a name of 1-64 lowercase letters, digits or "_"` };
  if (requirement !== '' && requirement !== 'required' && requirement !== 'optional')
    return { path, message: `${JSON.stringify(requirement)}: say required or optional (default required)` };
  const extensions = exts === '' ? [] : exts.split(',').map((e) => e.trim());
  const bad = extensions.filter((e) => !/^\.?[A-Za-z0-9]{1,16}$/.test(e));
  if (bad.length) return { path, message: `${bad.map((e) => JSON.stringify(e)).join(', ')}: extensions such as .png or jpg` };
  return { name, required: requirement !== 'optional', extensions };
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function collectionLines(c: DataCollectionSummary): string[] {
  return [
    ...fields([
      ['collection', `${c.id} ${c.name}`],
      ['description', c.description],
      ['data units', c.dataUnits],
      ['created', c.createdAt],
    ]),
    'files',
    ...table(c.files, [
      { header: '  NAME', cell: (f) => `  ${f.name}` },
      { header: 'REQUIRED', cell: (f) => (f.required ? 'required' : 'optional') },
      { header: 'EXTENSIONS', cell: (f) => (f.extensions.length ? f.extensions.join(', ') : 'any') },
    ]),
  ];
}

function projectLines(p: ProjectSummary): string[] {
  return [
    ...fields([
      ['project', `${p.id} ${p.name}`],
      ['collection', `${p.collection.id} ${p.collection.name}`],
      ['data type', p.configuration.data_type],
      [
        'tasks',
        Object.entries(p.tasks)
          .map(([s, n]) => `${s} ${n.toLocaleString('en-US')}`)
          .join(', '),
      ],
      ['created', p.createdAt],
    ]),
    'classes',
    ...table(p.configuration.classes, [
      { header: '  NAME', cell: (c) => `  ${c.name}` },
      { header: 'TYPE', cell: (c) => c.type },
      { header: 'ATTRIBUTES', cell: (c) => c.attributes.map((a) => a.name).join(', ') || '-' },
    ]),
  ];
}

function versionLines(v: GroundTruthVersionSummary): string[] {
  return fields([
    ['version', `${v.id} ${v.name}`],
    ['dataset', `${v.dataset.id} ${v.dataset.name}`],
    ['project', v.dataset.projectId ?? '-'],
    ['data units', v.dataUnits],
    ['created', v.createdAt],
    ['export', `"filter": {"ground_truth_dataset_version": ${v.id}} with "target": "ground_truth"`],
  ]);
}

export function dataCommands(program: Command): void {
  const collection = program.command('collection').description('data collections: which files each data unit carries (file specifications)');

  collection
    .command('list')
    .description('data collections with their file specifications and data unit counts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { listDataCollectionSummaries } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const list = await listDataCollectionSummaries(p.db);
        if (opts.json) return printJson(list);
        printLines(
          table(list, [
            { header: 'ID', cell: (c) => c.id },
            { header: 'NAME', cell: (c) => c.name },
            { header: 'UNITS', cell: (c) => c.dataUnits },
            {
              header: 'FILES',
              cell: (c) => c.files.map((f) => `${f.name}${f.required ? '' : '?'}${f.extensions.length ? ` (${f.extensions.join(' ')})` : ''}`).join(', '),
            },
          ]),
          'no data collections (create one with `synapse collection create`, or `synapse dataset generate`)',
        );
      });
    });

  collection
    .command('show')
    .description('one data collection: its file specifications and data unit count')
    .argument('<collection>', 'id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { dataCollectionSummary } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const c = await dataCollectionSummary(p.db, ref);
        if (opts.json) return printJson(c);
        printLines(collectionLines(c), '');
      });
    });

  collection
    .command('create')
    .description('create a data collection; creating it again with the same specifications changes nothing')
    .argument('<name>', 'collection name (lowercase letters, digits, ".", "_", "-")')
    .option(
      '--file-spec <spec>',
      'a file each data unit carries: name[:required|optional][:.ext,.ext], e.g. image:required:.png,.jpg (repeat for more)',
      collect,
    )
    .option('--description <text>', 'what the collection holds')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { fileSpec?: string[]; description?: string; json?: boolean }, cmd: Command) => {
      const specs = (opts.fileSpec ?? []).map((s, i) => parseFileSpec(s, i + 1));
      const problems = specs.filter((s): s is Problem => 'path' in s);
      if ((opts.fileSpec ?? []).length === 0) problems.push({ path: 'file-spec', message: 'give at least one, e.g. --file-spec image:required:.png,.jpg' });
      if (problems.length) throw new InvalidInputError('invalid option', problems);
      const { createDataCollection, createNamed, dataCollectionSummary, getDataCollection } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        // The same again changes nothing; the name holding other specifications is exit 5.
        const { value: created } = await createNamed(
          () => getDataCollection(p.db, name),
          () =>
            createDataCollection(p.db, {
              name,
              files: specs as FileSpecInput[],
              ...(opts.description !== undefined ? { description: opts.description } : {}),
            }),
        );
        const c = await dataCollectionSummary(p.db, created.id);
        if (opts.json) return printJson(c);
        printLines(collectionLines(c), '');
      });
    });

  const project = program.command('project').description('projects: a data collection annotated with classes (tasks, assignments)');

  project
    .command('list')
    .description('projects with their collection and task counts')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { listProjectSummaries } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const list = await listProjectSummaries(p.db);
        if (opts.json) return printJson(list);
        printLines(
          table(list, [
            { header: 'ID', cell: (x) => x.id },
            { header: 'NAME', cell: (x) => x.name },
            { header: 'COLLECTION', cell: (x) => x.collection.name },
            { header: 'TYPE', cell: (x) => x.configuration.data_type },
            { header: 'CLASSES', cell: (x) => x.configuration.classes.length },
            { header: 'TASKS', cell: (x) => Object.values(x.tasks).reduce((a, b) => a + b, 0) },
            { header: 'COMPLETED', cell: (x) => x.tasks.completed },
          ]),
          'no projects (create one with `synapse project create`, or `synapse dataset generate`)',
        );
      });
    });

  project
    .command('show')
    .description('one project: collection, data type, classes and tasks per status')
    .argument('<project>', 'id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { projectSummary } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const x = await projectSummary(p.db, ref);
        if (opts.json) return printJson(x);
        printLines(projectLines(x), '');
      });
    });

  project
    .command('create')
    .description('create a project of a data collection; creating it again with the same settings changes nothing')
    .argument('<name>', 'project name (lowercase letters, digits, ".", "_", "-")')
    .requiredOption('--collection <collection>', 'data collection id or name')
    .option('--data-type <type>', 'image | video | text | pcd | audio', 'image')
    .option('--class <name:type>', 'an annotation class, e.g. circle:bbox (repeat for more)', collect)
    .option('--configuration <json>', 'the whole configuration as JSON or @file.json ({"data_type": ..., "classes": [...]}) instead of --data-type/--class')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { collection: string; dataType: string; class?: string[]; configuration?: string; json?: boolean }, cmd: Command) => {
      let configuration: unknown;
      if (opts.configuration !== undefined) {
        if (opts.class?.length)
          throw new InvalidInputError('invalid option', [
            { path: 'class', message: 'give the classes either with --class or inside --configuration, not both' },
          ]);
        configuration = parseParamsArg(opts.configuration);
      } else {
        const problems: Problem[] = [];
        const classes = (opts.class ?? []).map((c, i) => {
          const [className = '', type = ''] = c.split(/:(?=[^:]*$)/);
          if (!className || !type) problems.push({ path: `class[${i + 1}]`, message: `${JSON.stringify(c)}: use name:type, e.g. circle:bbox` });
          return { name: className, type };
        });
        if (problems.length) throw new InvalidInputError('invalid option', problems);
        configuration = { data_type: opts.dataType, classes };
      }
      const { createNamed, createProject, getProject, projectSummary } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const { value: created } = await createNamed(
          () => getProject(p.db, name),
          () => createProject(p.db, { name, collection: opts.collection, configuration }),
        );
        const x = await projectSummary(p.db, created.id);
        if (opts.json) return printJson(x);
        printLines(projectLines(x), '');
      });
    });

  const gt = program
    .command('gt-version')
    .alias('ground-truth-version')
    .description('ground-truth dataset versions: what exports (target ground_truth) and trainers read (filter.ground_truth_dataset_version)');

  gt.command('list')
    .description('ground-truth versions with their dataset and data unit counts')
    .option('--dataset <dataset>', 'only versions of this ground-truth dataset (id or name)')
    .option('--json', 'print JSON')
    .action(async (opts: { dataset?: string; json?: boolean }, cmd: Command) => {
      const { listGroundTruthVersionSummaries } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const list = await listGroundTruthVersionSummaries(p.db, opts.dataset !== undefined ? { dataset: opts.dataset } : {});
        if (opts.json) return printJson(list);
        printLines(
          table(list, [
            { header: 'ID', cell: (v) => v.id },
            { header: 'VERSION', cell: (v) => v.name },
            { header: 'DATASET', cell: (v) => `${v.dataset.id} ${v.dataset.name}` },
            { header: 'PROJECT', cell: (v) => (v.dataset.projectId === null ? '-' : String(v.dataset.projectId)), right: true },
            { header: 'UNITS', cell: (v) => v.dataUnits },
            { header: 'CREATED', cell: (v) => v.createdAt },
          ]),
          opts.dataset !== undefined
            ? `no versions of ground-truth dataset ${opts.dataset}`
            : 'no ground-truth versions (`synapse dataset generate` makes one)',
        );
      });
    });

  gt.command('show')
    .description('one ground-truth version: its dataset, project and data unit count')
    .argument('<id>', 'version id')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^\d{1,15}$/.test(ref))
        throw new InvalidInputError('invalid argument', [{ path: 'id', message: `${JSON.stringify(ref)} is not a version id (a whole number)` }]);
      const { groundTruthVersionSummary } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const v = await groundTruthVersionSummary(p.db, Number(ref));
        if (opts.json) return printJson(v);
        printLines(versionLines(v), '');
      });
    });
}
