/**
 * `synapse model list | show | download` and `synapse release list | show`: what train runs
 * registered and what `plugin publish` recorded, without writing code. A model is found by
 * id or name; a release by `code@version`, or `code` for its newest version (the one
 * `--plugin code` runs when no folder holds the plugin).
 *
 * Registering the commands loads commander only; each action imports the database, the
 * repositories and the storage when it runs. Exit codes per contracts/errors.ts.
 */
import type { Command } from 'commander';
import type { Model, PluginRelease } from '../platform/repositories/index.js';
import { InvalidInputError, NotFoundError } from '../contracts/errors.js';
import { withPlatformDb } from './data-commands.js';
import { printJson } from './io.js';
import { fields, printLines, table } from './table.js';

function metricText(metrics: Record<string, number>, max = 3): string {
  const entries = Object.entries(metrics);
  const shown = entries.slice(0, max).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`);
  return entries.length > max ? `${shown.join(', ')}, ...` : shown.join(', ') || '-';
}

function modelLines(m: Model): string[] {
  return [
    ...fields([
      ['model', `${m.id} ${m.name}`],
      ['plugin', `${m.plugin.code}@${m.plugin.version}`],
      ['run', m.runId ?? '-'],
      ['file', m.file ? `storage ${m.file.storage}: ${m.file.key}` : '(none)'],
      ['created', m.createdAt],
    ]),
    'metrics',
    ...Object.entries(m.metrics).map(([k, v]) => `  ${k.padEnd(24)} ${v}`),
    'configuration',
    ...Object.entries(m.configuration).map(([k, v]) => `  ${k.padEnd(24)} ${JSON.stringify(v)}`),
  ];
}

/** `code@version` or `code` (newest); NotFoundError when the code has no release. */
async function findRelease(db: import('../platform/repositories/index.js').Db, ref: string): Promise<PluginRelease> {
  const m = /^([a-z0-9_-]+)(?:@(.+))?$/.exec(ref);
  if (!m) throw new InvalidInputError('invalid argument', [{ path: 'release', message: `${JSON.stringify(ref)}: use code or code@version` }]);
  const { getPluginRelease, newestPluginRelease } = await import('../platform/repositories/index.js');
  if (m[2] !== undefined) return getPluginRelease(db, m[1] as string, m[2]);
  const newest = await newestPluginRelease(db, m[1] as string);
  if (!newest) throw new NotFoundError(`plugin ${m[1]} has no published release (publish one with \`synapse plugin publish <dir>\`)`);
  return newest;
}

export function modelCommands(program: Command): void {
  const model = program.command('model').description('models that train runs registered');

  model
    .command('list')
    .description('models, oldest first')
    .option('--plugin <code>', 'only models of this plugin')
    .option('--json', 'print JSON')
    .action(async (opts: { plugin?: string; json?: boolean }, cmd: Command) => {
      const { listModels } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const list = await listModels(p.db, opts.plugin ? { pluginCode: opts.plugin } : {});
        if (opts.json) return printJson(list);
        printLines(
          table(list, [
            { header: 'ID', cell: (m) => m.id },
            { header: 'NAME', cell: (m) => m.name },
            { header: 'PLUGIN', cell: (m) => `${m.plugin.code}@${m.plugin.version}` },
            { header: 'METRICS', cell: (m) => metricText(m.metrics) },
            { header: 'RUN', cell: (m) => m.runId ?? '-' },
            { header: 'CREATED', cell: (m) => m.createdAt },
          ]),
          opts.plugin ? `no models of ${opts.plugin}` : 'no models (a train run registers one)',
        );
      });
    });

  model
    .command('show')
    .description('one model: plugin, run, file, metrics and configuration')
    .argument('<model>', 'id, or name (the newest model of that name)')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { findModel } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const m = await findModel(p.db, ref);
        if (opts.json) return printJson(m);
        printLines(modelLines(m), '');
      });
    });

  model
    .command('download')
    .description("copy a model's file from its storage into a folder")
    .argument('<model>', 'id or name')
    .option('--output <dir>', 'folder to write into (created if missing)', '.')
    .option('--force', 'replace a file of the same name')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { output: string; force?: boolean; json?: boolean }, cmd: Command) => {
      const [{ findModel }, { openModelFile }, { writeDownload }] = await Promise.all([
        import('../platform/repositories/index.js'),
        import('../engine/run-artifacts.js'),
        import('./download.js'),
      ]);
      await withPlatformDb(cmd, async (p, dataDir) => {
        const m = await findModel(p.db, ref);
        const file = await openModelFile({ db: p.db, dataDir }, m);
        try {
          const written = await writeDownload(file.body, opts.output, file.fileName, { force: opts.force === true });
          if (opts.json) printJson({ model: m.id, name: m.name, path: written.path, bytes: written.bytes });
          else process.stdout.write(`model ${m.id} (${m.name}): ${written.bytes.toLocaleString('en-US')} bytes to ${written.path}\n`);
        } finally {
          await file.close();
        }
      });
    });

  const release = program.command('release').description('published plugin releases (`synapse plugin publish`)');

  release
    .command('list')
    .description('published releases, newest version of each plugin first')
    .argument('[code]', 'only this plugin')
    .option('--json', 'print JSON')
    .action(async (code: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const { listPluginReleases, compareVersions } = await import('../platform/repositories/index.js');
      await withPlatformDb(cmd, async (p) => {
        const list = (await listPluginReleases(p.db, code)).sort((a, b) => a.code.localeCompare(b.code) || compareVersions(b.version, a.version));
        if (opts.json) return printJson(list);
        printLines(
          table(list, [
            { header: 'PLUGIN', cell: (r) => r.code },
            { header: 'VERSION', cell: (r) => r.version },
            { header: 'CATEGORY', cell: (r) => String(r.config.category ?? '') },
            { header: 'SHA256', cell: (r) => r.checksum.slice(0, 16) },
            { header: 'PUBLISHED', cell: (r) => r.createdAt },
          ]),
          code ? `no releases of ${code}` : 'no releases (publish one with `synapse plugin publish <dir>`)',
        );
      });
    });

  release
    .command('show')
    .description('one release: checksum, archive, category and actions')
    .argument('<release>', 'code@version, or code for its newest release')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      await withPlatformDb(cmd, async (p) => {
        const r = await findRelease(p.db, ref);
        if (opts.json) return printJson(r);
        const actions = (r.config.actions ?? {}) as Record<string, { method?: string }>;
        printLines(
          fields([
            ['release', `${r.code}@${r.version}`],
            ['name', String(r.config.name ?? '')],
            ['category', String(r.config.category ?? '')],
            [
              'actions',
              Object.entries(actions)
                .map(([n, a]) => `${n} (${a.method ?? '?'})`)
                .join(', '),
            ],
            ['sha256', r.checksum],
            ['archive', r.archive ? `storage ${r.archive.storage}: ${r.archive.key}` : '(none)'],
            ['published', r.createdAt],
            ['run it', `synapse plugin run <action> --plugin ${r.code}@${r.version}`],
          ]),
          '',
        );
      });
    });
}
