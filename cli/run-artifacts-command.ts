/**
 * `synapse run artifacts <id> [--download dir]`: the files a run produced (a train run's
 * model file, an export's files; engine/run-artifacts.ts), listed with their sizes, or
 * copied into a folder (all of them, or those named with --name). Registered under `run`
 * by run-commands.ts; imports the client, database and storage only when it runs.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../contracts/errors.js';
import { printJson, settingsFrom } from './io.js';
import { printLines, table } from './table.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function runArtifactsCommand(run: Command): void {
  run
    .command('artifacts')
    .description("the files a run produced (a train run's model, an export's files); --download copies them into a folder")
    .argument('<id>', 'run id')
    .option('--download <dir>', 'copy the artifacts into this folder (under their names)')
    .option('--name <name>', 'only this artifact (repeat for more)', collect)
    .option('--force', 'replace files that exist in the folder')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { download?: string; name?: string[]; force?: boolean; json?: boolean }, cmd: Command) => {
      const settings = settingsFrom(cmd);
      const [{ RunsClient }, { openDatabase }, { listRunArtifacts, openRunArtifact }, { writeDownload }] = await Promise.all([
        import('../client/runs.js'),
        import('../platform/db.js'),
        import('../engine/run-artifacts.js'),
        import('./download.js'),
      ]);
      const runs = await RunsClient.connect(settings);
      const platform = await openDatabase({ dataDir: settings.dataDir });
      try {
        const state = await runs.state(id); // unknown run: exit 3
        const facts = { runId: id, category: state.category, params: (await runs.store.getRun(id))?.params, result: state.result };
        const deps = { db: platform.db, dataDir: settings.dataDir };
        const all = await listRunArtifacts(deps, facts);
        const missing = (opts.name ?? []).filter((n) => !all.some((a) => a.name === n));
        if (missing.length)
          throw new InvalidInputError('invalid option', [
            {
              path: 'name',
              message: `run ${id} has no artifact ${missing.map((n) => JSON.stringify(n)).join(', ')} (it has ${all.map((a) => a.name).join(', ') || 'none'})`,
            },
          ]);
        const chosen = opts.name ? all.filter((a) => opts.name!.includes(a.name)) : all;
        if (opts.download === undefined) {
          if (opts.json) return printJson(chosen);
          return printLines(
            table(chosen, [
              { header: 'NAME', cell: (a) => a.name },
              { header: 'KIND', cell: (a) => a.kind },
              { header: 'BYTES', cell: (a) => a.size },
              { header: 'STORAGE', cell: (a) => `${a.storage.name}: ${a.key}` },
            ]),
            `run ${id} has no artifacts (train runs have their model file, export runs their files)`,
          );
        }
        const written: { name: string; path: string; bytes: number }[] = [];
        for (const a of chosen) {
          const file = await openRunArtifact(deps, facts, a.name);
          try {
            written.push({ name: a.name, ...(await writeDownload(file.body, opts.download, a.name, { force: opts.force === true })) });
          } finally {
            await file.close();
          }
        }
        if (opts.json) return printJson(written);
        const total = written.reduce((n, w) => n + w.bytes, 0);
        process.stdout.write(`${written.length} artifact(s), ${total.toLocaleString('en-US')} bytes, into ${opts.download}\n`);
      } finally {
        await platform.close();
        await runs.close();
      }
    });
}
