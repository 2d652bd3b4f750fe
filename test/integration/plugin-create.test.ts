/**
 * `synapse plugin create`: a scaffold for every category passes `plugin check`, its
 * TypeScript type-checks under this project's strict settings, simple actions run (in
 * process with --debug, and durably on a worker), neural_net deployment and gradio are
 * ServeActions (method restapi) that `plugin run --debug` serves, categories starting with a
 * vowel read "an", and bad options are refused naming the option, with nothing written.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData } from '../../platform/generate.js';
import { CATEGORIES } from '../../sdk/categories.js';
import { parsePluginConfig } from '../../sdk/config.js';
import type { RunState } from '../../contracts/run-state.js';
import { envFor, ROOT, runCli, SYNAPSE_BIN, testSettings, useWorkerAndRuns } from '../helpers.js';

const settings = testSettings('plugin-create');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));

const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-create-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;

describe('synapse plugin create', () => {
  it.each(CATEGORIES)('plugin of category %s passes `plugin check`', async (category) => {
    const dir = path.join(work, `c-${category.replaceAll('_', '-')}`);
    const created = await runCli(['plugin', 'create', dir, '--category', category, '--name', `My ${category}`], settings);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'config.yaml', 'package.json', 'plugin', 'tsconfig.json']);
    const config = parsePluginConfig(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
    expect(config).toMatchObject({ code: path.basename(dir), name: `My ${category}`, version: '0.1.0', category });
    const [action] = Object.keys(config.actions);
    expect(existsSync(path.join(dir, 'plugin', `${action}.ts`))).toBe(true);

    const check = await runCli(['plugin', 'check', dir], settings);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    // The code as it is (no capital): the line starts with it.
    expect(check.stdout).toMatch(new RegExp(`^${path.basename(dir)}@0\\.1\\.0: config\\.yaml and 1 action\\(s\\) OK; 1 TypeScript file\\(s\\) type-check`));
  });

  it('a category with a vowel takes "an": an export plugin, an upload plugin', () => {
    for (const [category, dir] of [
      ['export', 'c-export'],
      ['upload', 'c-upload'],
    ]) {
      const readme = readFileSync(path.join(work, dir!, 'README.md'), 'utf8');
      expect(readme).toContain(`\nMy ${category}: an ${category} plugin\n`);
      expect(readme).toContain(`\nAn ${category} plugin with one action`);
      expect(readme).not.toMatch(/\ba (export|upload)\b|\bA (export|upload)\b/);
      expect(parsePluginConfig(readFileSync(path.join(work, dir!, 'config.yaml'), 'utf8')).description).toBe(`My ${category}: an ${category} plugin`);
    }
    expect(readFileSync(path.join(work, 'c-neural-net', 'README.md'), 'utf8')).toContain('\nA neural_net plugin with one action');
  });

  it.each(['deployment', 'gradio'])(
    'a neural_net %s is a ServeAction with method restapi that passes check and serves a predict under --debug',
    async (action) => {
      const dir = path.join(work, `nn-${action}`);
      const created = await runCli(['plugin', 'create', dir, '--category', 'neural_net', '--action', action], settings);
      expect(created.code, created.stderr).toBe(0);
      const config = parsePluginConfig(readFileSync(path.join(dir, 'config.yaml'), 'utf8'));
      expect(config.actions[action]).toMatchObject({ method: 'restapi' });
      const source = readFileSync(path.join(dir, 'plugin', `${action}.ts`), 'utf8');
      expect(source).toMatch(/extends ServeAction<Input, Output, Params>/);
      expect(source).toMatch(/static override input = Input;[\s\S]*static override output = Output;[\s\S]*async load\([\s\S]*async predict\(/);
      expect(source).not.toMatch(/count: z\.|ctx\.params\.count/);
      expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain(`synapse plugin run ${action} --plugin . --debug --port 8000`);
      const check = await runCli(['plugin', 'check', dir], settings);
      expect(check.code, check.stderr).toBe(0);
      expect(check.stdout).toContain('1 action(s) OK; 1 TypeScript file(s) type-check');

      // Served by the CLI process alone, as the scaffold's README says (a free port here).
      const child = spawn(process.execPath, [SYNAPSE_BIN, 'plugin', 'run', action, '--plugin', dir, '--debug', '--port', '0'], {
        env: { ...envFor(settings), TEMPORAL_ADDRESS: '127.0.0.1:1' },
        cwd: ROOT,
      });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const address = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            stdout += d.toString();
            const m = new RegExp(`serving nn-${action} ${action} on (http://127\\.0\\.0\\.1:\\d+)`).exec(stdout);
            if (m) resolve(m[1]!);
          });
          void exited.then((code) => reject(new Error(`exited ${code} before serving:\n${stdout}\n${stderr}`)));
        });
        const post = (body: string) => fetch(`${address}/predict`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
        const good = await post('{"text": "a good day"}');
        expect(good.status).toBe(200);
        expect(await good.json()).toEqual({ label: 'positive', score: 2 / 3 });
        const poor = await post('{"text": "a bad, poor day"}');
        expect(await poor.json()).toEqual({ label: 'negative', score: 1 / 4 });
        const bad = await post('{"txt": "x"}');
        expect(bad.status).toBe(400);
        expect(JSON.stringify(await bad.json())).toContain('text');
      } finally {
        child.kill('SIGINT');
      }
      expect(await exited, stderr).toBe(0);
      expect(stdout).toContain('stopped after 2 predictions');
      expect(stderr).toContain('loaded 6 words');
    },
    60_000,
  );

  it('each category gets its base: BaseExporter, BaseUploader, TrainAction, or the typed action', () => {
    const source = (category: string, action: string) => readFileSync(path.join(work, `c-${category.replaceAll('_', '-')}`, 'plugin', `${action}.ts`), 'utf8');
    expect(source('export', 'export')).toMatch(/extends BaseExporter\.withExtraParams\(/);
    expect(source('upload', 'upload')).toMatch(/extends BaseUploader\.withExtraParams\(/);
    expect(source('neural_net', 'train')).toMatch(/extends TrainAction\.withHyperparameters\(/);
    expect(source('smart_tool', 'auto_label')).toMatch(/extends AutoLabelAction\.withParams\(/);
    expect(source('pre_annotation', 'pre_annotation')).toMatch(/extends PreAnnotationAction\.withParams\(/);
    expect(source('post_annotation', 'post_annotation')).toMatch(/extends PostAnnotationAction\.withParams\(/);
    expect(source('data_validation', 'validation')).toMatch(/extends ValidationAction\.withParams\(/);
  });

  it('--action picks another action of the category; --runtime python makes a Python trainer', async () => {
    const inference = path.join(work, 'nn-inference');
    expect((await runCli(['plugin', 'create', inference, '--category', 'neural_net', '--action', 'inference'], settings)).code).toBe(0);
    expect(readFileSync(path.join(inference, 'plugin', 'inference.ts'), 'utf8')).toMatch(/extends InferenceAction\.withParams\(/);
    const toTask = path.join(work, 'to-task');
    expect((await runCli(['plugin', 'create', toTask, '--category', 'pre_annotation', '--action', 'to_task'], settings)).code).toBe(0);

    const py = path.join(work, 'py-trainer');
    const created = await runCli(['plugin', 'create', py, '--category', 'neural_net', '--runtime', 'python'], settings);
    expect(created.code).toBe(0);
    expect(readdirSync(path.join(py, 'plugin')).sort()).toEqual(['__init__.py', 'train.py']);
    expect(readFileSync(path.join(py, 'config.yaml'), 'utf8')).toContain('runtime: python');
    for (const dir of [inference, toTask, py]) {
      const check = await runCli(['plugin', 'check', dir], settings);
      expect(check.code, `${dir}: ${check.stderr}`).toBe(0);
    }
    // The Python module at least compiles.
    execFileSync('python3', ['-m', 'py_compile', path.join(py, 'plugin', 'train.py')]);
  });

  it('every TypeScript scaffold type-checks under the project strict settings', () => {
    const tsconfig = path.join(work, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.json'),
        compilerOptions: { baseUrl: ROOT, paths: { '@synapse/sdk': ['./sdk/index.ts'] }, typeRoots: [path.join(ROOT, 'node_modules/@types')] },
        include: [path.join(work, '**/*.ts')],
      }),
    );
    const out = execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--listFilesOnly'], { encoding: 'utf8' });
    expect(out.split('\n').filter((f) => f.startsWith(work) && f.endsWith('.ts')).length).toBeGreaterThanOrEqual(9);
    // Throws with the compiler's messages when a template does not type-check.
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig, '--noEmit'], { encoding: 'utf8' });
  });

  it('a simple job action runs with --debug, and durably on a worker', async () => {
    const dir = path.join(work, 'c-data-validation');
    const debug = await runCli(['plugin', 'run', 'validation', '{"count": 4}', '--plugin', dir, '--debug', '--json'], settings);
    expect(debug.code).toBe(0);
    const lines = debug.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.kind === 'log' && l.message === 'validation: 4 items')).toBe(true);
    expect(lines.filter((l) => l.kind === 'progress').at(-1)).toMatchObject({ category: 'validation', current: 4, total: 4 });
    expect(lastJson(debug.stdout)).toMatchObject({ kind: 'result', result: { processed: 4 } });

    const task = await runCli(['plugin', 'run', 'auto_label', '{"count": 2}', '--plugin', path.join(work, 'c-smart-tool'), '--debug', '--json'], settings);
    expect(lastJson(task.stdout)).toMatchObject({ kind: 'result', result: { processed: 2 } });

    const bad = await runCli(['plugin', 'run', 'validation', '{"count": -1}', '--plugin', dir, '--debug'], settings);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/count: /);

    const { runId } = await runs.start({ plugin: dir, action: 'validation', params: { count: 7 } });
    const final = (await runs.temporal.workflow.getHandle(runId).result()) as RunState;
    expect(final.status).toBe('completed');
    expect(final.result).toEqual({ processed: 7 });
    expect(final.progress.validation).toEqual({ current: 7, total: 7 });
  });

  it('the scaffolded trainer and exporter run through the train and export workflows', async () => {
    const platform = await openDatabase({ dataDir: settings.dataDir });
    const data = await generateSampleData(platform, { count: 30, seed: 5, projectName: 'scaffold', dataDir: settings.dataDir }).finally(() => platform.close());
    const version = data.groundTruth.versionId;

    const train = await runs.start({
      plugin: path.join(work, 'c-neural-net'),
      action: 'train',
      params: { name: 'scaffold-model', dataset: version, hyperparameters: { epochs: 2 } },
    });
    const trained = (await runs.temporal.workflow.getHandle(train.runId).result()) as RunState;
    expect(trained.status, trained.error).toBe('completed');
    expect(trained.epochs?.map((e) => e.epoch)).toEqual([1, 2]);
    expect(trained.result).toMatchObject({ epochs: 2, metrics: { accuracy: expect.any(Number) } });

    const exp = await runs.start({
      plugin: path.join(work, 'c-export'),
      action: 'export',
      params: { name: 'scaffold-export', storage: 'default', target: 'ground_truth', filter: { ground_truth_dataset_version: version } },
    });
    const exported = (await runs.temporal.workflow.getHandle(exp.runId).result()) as RunState;
    expect(exported.status, exported.error).toBe('completed');
    const jsonDir = path.join(settings.dataDir, 'storage', 'default', 'scaffold-export', 'json');
    const files = readdirSync(jsonDir);
    expect(files).toHaveLength(30);
    expect(JSON.parse(readFileSync(path.join(jsonDir, files[0]!), 'utf8'))).toMatchObject({
      id: expect.any(Number),
      data_unit: expect.any(String),
      meta: expect.any(Object),
    });
  });

  it.each([
    {
      what: 'a non-empty folder',
      args: (d: string) => [d, '--category', 'export'],
      prepare: (d: string) => writeFileSync(path.join(d, 'keep.txt'), 'x'),
      error: /dir: .* exists and is not an empty folder/,
    },
    {
      what: 'a folder name that is not a code',
      args: (d: string) => [path.join(d, 'My Plugin'), '--category', 'export'],
      error: /--code: "My Plugin" is not a plugin code.*pass --code/,
    },
    {
      what: 'a bad --code',
      args: (d: string) => [path.join(d, 'x'), '--category', 'export', '--code', 'Bad/Code'],
      error: /--code: "Bad\/Code" is not a plugin code/,
    },
    { what: 'no --category', args: (d: string) => [path.join(d, 'x')], error: /--category: must be one of neural_net, export/ },
    { what: 'an unknown --category', args: (d: string) => [path.join(d, 'x'), '--category', 'magic'], error: /--category: .*got "magic"/ },
    {
      what: 'an --action of another category',
      args: (d: string) => [path.join(d, 'x'), '--category', 'export', '--action', 'train'],
      error: /--action: an export plugin offers export; got "train"/,
    },
    {
      what: 'python for an export',
      args: (d: string) => [path.join(d, 'x'), '--category', 'export', '--runtime', 'python'],
      error: /--runtime: python runs neural_net trainers/,
    },
    {
      what: 'an unknown --runtime',
      args: (d: string) => [path.join(d, 'x'), '--category', 'export', '--runtime', 'ruby'],
      error: /--runtime: must be one of typescript, python/,
    },
  ])('refuses $what (exit 2), writing nothing', async ({ args, prepare, error }) => {
    const parent = mkdtempSync(path.join(work, 'refuse-'));
    prepare?.(parent);
    const before = readdirSync(parent, { recursive: true });
    const res = await runCli(['plugin', 'create', ...args(parent)], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('cannot create the plugin');
    expect(res.stderr).toMatch(error);
    expect(res.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(parent, { recursive: true })).toEqual(before);
  });
});
