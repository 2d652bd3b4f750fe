/**
 * The built CLI (`npm run build` into dist/, run by bin/synapse.mjs while it is fresh):
 * commands start without loading what they do not use (the static imports of `--help` are
 * commander alone, those of the run client Temporal's), the platform's migrations and the
 * plugin folders are found from dist/, and TypeScript plugin code loads on first use with the
 * `@synapse/sdk` alias on the build's own SDK: an export started from the built CLI runs as
 * the export workflow (its shape is chosen by the exporter class check) on a worker that is
 * itself the built CLI. The other tests spawn bin/synapse.mjs too and pass with and without
 * dist/; SYNAPSE_FROM_SOURCE=1 forces the sources.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtCli } from '../../bin/built-cli.mjs';
import type { RunState } from '../../contracts/run-state.js';
import { connectRuns, ROOT, runCli, spawnWorker, testSettings } from '../helpers.js';

const settings = testSettings('cli-build');
/** SYNAPSE_DEBUG makes bin/synapse.mjs say when it runs the sources instead of dist/. */
const DEBUG = { SYNAPSE_DEBUG: '1' };

/** The packages a built module loads before any of its code runs: its static imports, through its chunks. */
function staticPackages(entry: string): string[] {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const m of source.matchAll(/^(?:import|export)\s(?:[^;]*?\sfrom\s*)?"([^"]+)";/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('./')) walk(path.join(path.dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  walk(entry);
  return [...packages].sort();
}

describe('the built CLI', () => {
  let worker: ChildProcess | undefined;

  beforeAll(() => {
    const build = spawnSync(process.execPath, ['scripts/build-cli.mjs'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await once(worker, 'exit');
    }
  });

  it('is fresh after the build, and --help loads commander and none of the heavy packages', () => {
    const built = builtCli();
    expect(built).toHaveProperty('cli');
    const cli = fileURLToPath((built as { cli: string }).cli);
    expect(staticPackages(cli)).toEqual(['commander']);
    // The run client (run status, list, watch): Temporal, but no database, zod or plugin loader until a run starts.
    const dist = path.dirname(cli);
    const { outputs } = JSON.parse(readFileSync(path.join(dist, 'build.json'), 'utf8')) as { outputs: string[] };
    const runsChunks = outputs.map((file) => path.join(dist, file)).filter((file) => readFileSync(file, 'utf8').includes('RunsClient = class'));
    expect(runsChunks).toHaveLength(1);
    expect(staticPackages(runsChunks[0]!)).toEqual(['@temporalio/client', '@temporalio/common', '@temporalio/workflow']);
  });

  it('runs --help and plugin list from dist/, and the sources when asked to', async () => {
    const help = await runCli(['--help'], settings, DEBUG);
    expect(help.code).toBe(0);
    expect(help.stderr).toBe('');
    expect(help.stdout).toContain('plugin');
    const list = await runCli(['plugin', 'list'], settings, DEBUG);
    expect(list.stderr).toBe('');
    expect(list.stdout).toMatch(/^export-coco@1\.0\.0 {2}export {2}export \(job\)$/m);
    const fromSource = await runCli(['--help'], settings, { ...DEBUG, SYNAPSE_FROM_SOURCE: '1' });
    expect(fromSource.code).toBe(0);
    expect(fromSource.stderr).toBe('synapse: running the sources: SYNAPSE_FROM_SOURCE=1\n');
  });

  it('loads TypeScript plugin code on first use (--debug runs in this process)', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '{"count": 4, "delayMs": 0}', '--plugin', 'demo-validation', '--debug', '--json'], settings, {
      ...DEBUG,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout.trim().split('\n').at(-1)!)).toMatchObject({ kind: 'result', result: { checked: 4 } });
  });

  it('generates sample data, and runs an export as the export workflow on a worker that is the built CLI too', async () => {
    const gen = await runCli(['dataset', 'generate', '--count', '12', '--seed', '5', '--json'], settings, DEBUG);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stderr).not.toContain('running the sources');
    const versionId = (JSON.parse(gen.stdout) as { groundTruth: { versionId: number } }).groundTruth.versionId;
    worker = await spawnWorker(settings);
    const params = { name: 'built', storage: 'default', path: 'exports', target: 'ground_truth', filter: { ground_truth_dataset_version: versionId } };
    const run = await runCli(['plugin', 'run', 'export', JSON.stringify(params), '--plugin', 'export-coco', '--json'], settings, DEBUG);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const end = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { type: string; state: RunState };
    expect(end.type).toBe('end');
    expect(end.state).toMatchObject({ status: 'completed', category: 'export', result: { total: 12, success: 12, failed: 0 } });
    const runs = await connectRuns(settings);
    try {
      expect((await runs.temporal.workflow.getHandle(end.state.runId).describe()).type).toBe('exportWorkflow');
    } finally {
      await runs.close();
    }
  }, 180_000);
});
