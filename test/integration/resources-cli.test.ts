/**
 * The resource commands as a person runs them (the real `synapse` binary, a real dev server,
 * worker and platform): collection, project and gt-version list/show/create with tables and
 * --json, model list/show/download (bytes equal to the stored file), run artifacts with
 * --download, run logs --kind, plugin describe, release list/show, and `--plugin code` that
 * runs the newest published release; bad input exits 2 naming the flag, unknown things exit 3.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunsClient } from '../../client/runs.js';
import { ROOT, runCli, testSettings, useWorkerAndRuns } from '../helpers.js';
import { prepareResources, storedBytes, type ResourceFixture } from '../resources-fixture.js';

const settings = testSettings('res-cli');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let fx: ResourceFixture;
const cli = (...args: string[]) => runCli(args, settings);

beforeAll(async () => {
  fx = await prepareResources(settings, runs, { modelName: 'res-cli-model', exportName: 'res-cli-coco' });
});

describe('collections, projects, ground-truth versions', () => {
  it('list as a table and JSON, show by name; unknown exits 3', async () => {
    const table = await cli('collection', 'list');
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+UNITS\s+FILES$/);
    expect(table.stdout).toMatch(/^ *\d+ +res +40 +image \(\.png\)$/m);
    const shown = await cli('collection', 'show', 'res', '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ name: 'res', dataUnits: 40, files: [{ name: 'image', required: true, extensions: ['.png'] }] });
    const project = await cli('project', 'show', 'res');
    expect(project.stdout).toMatch(/^collection +\d+ res$/m);
    expect(project.stdout).toMatch(/^ +circle +bbox/m);
    const versions = JSON.parse((await cli('gt-version', 'list', '--json')).stdout) as { id: number; dataUnits: number }[];
    expect(versions).toEqual([expect.objectContaining({ id: fx.data.groundTruth.versionId, dataUnits: 40 })]);
    const version = await cli('gt-version', 'show', String(fx.data.groundTruth.versionId));
    expect(version.stdout).toContain(`"ground_truth_dataset_version": ${fx.data.groundTruth.versionId}`);
    const unknown = await cli('project', 'show', 'nope');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe('error: unknown project "nope"\n');
    expect((await cli('gt-version', 'show', 'abc')).code).toBe(2);
  });

  it('collection create with file specifications, again (no change), the name with other specifications exit 5, bad specifications exit 2 naming each', async () => {
    const created = await cli('collection', 'create', 'scans', '--file-spec', 'image:required:.png,JPG', '--file-spec', 'meta:optional', '--json');
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      name: 'scans',
      files: [
        { name: 'image', required: true, extensions: ['.png', '.jpg'] },
        { name: 'meta', required: false, extensions: [] },
      ],
    });
    expect((await cli('collection', 'create', 'scans', '--file-spec', 'image:required:.png,JPG', '--file-spec', 'meta:optional')).code).toBe(0);
    const clash = await cli('collection', 'create', 'scans', '--file-spec', 'image');
    expect(clash.code).toBe(5);
    expect(clash.stderr).toBe('error: a data collection named "scans" exists with other file specifications\n');
    const bad = await cli('collection', 'create', 'x', '--file-spec', 'Image', '--file-spec', 'a:sometimes');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('file-spec[1]: "Image": a name of 1-64 lowercase letters');
    expect(bad.stderr).toContain('file-spec[2]: "sometimes": say required or optional');
    expect((await cli('collection', 'create', 'x')).stderr).toContain('file-spec: give at least one');

    const project = await cli('project', 'create', 'ct', '--collection', 'scans', '--class', 'tumor:bbox', '--json');
    expect(project.code, project.stderr).toBe(0);
    expect(JSON.parse(project.stdout)).toMatchObject({
      name: 'ct',
      collection: { name: 'scans' },
      configuration: { data_type: 'image', classes: [{ name: 'tumor', type: 'bbox' }] },
    });
    const badClass = await cli('project', 'create', 'ct2', '--collection', 'scans', '--class', 'tumor:shape');
    expect(badClass.code).toBe(2);
    expect(badClass.stderr).toContain('configuration.classes.0.type');
    expect((await cli('project', 'create', 'ct3', '--collection', 'nope', '--class', 'a:bbox')).code).toBe(3);
  });
});

describe('models, artifacts, logs', () => {
  it('model list/show, and download writes the stored bytes (an existing file needs --force)', async () => {
    const list = await cli('model', 'list');
    expect(list.stdout).toMatch(new RegExp(`^ *${fx.train.modelId} +res-cli-model +train-ts-example@1\\.0\\.0 `, 'm'));
    const shown = JSON.parse((await cli('model', 'show', 'res-cli-model', '--json')).stdout) as { id: number; runId: string };
    expect(shown).toMatchObject({ id: fx.train.modelId, runId: fx.train.runId });
    const out = mkdtempSync(path.join(os.tmpdir(), 'synapse-res-cli-dl-'));
    const dl = await cli('model', 'download', String(fx.train.modelId), '--output', out, '--json');
    expect(dl.code, dl.stderr).toBe(0);
    const written = JSON.parse(dl.stdout) as { path: string; bytes: number };
    expect(readFileSync(written.path).equals(storedBytes(settings, fx.train.modelKey))).toBe(true);
    const again = await cli('model', 'download', String(fx.train.modelId), '--output', out);
    expect(again.code).toBe(5);
    expect(again.stderr).toContain('exists; pass --force');
    expect((await cli('model', 'download', String(fx.train.modelId), '--output', out, '--force')).code).toBe(0);
    expect((await cli('model', 'show', '9999')).code).toBe(3);
  });

  it("run artifacts lists an export's files and --download copies them byte for byte", async () => {
    const list = await cli('run', 'artifacts', fx.export.runId);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^annotations\/instances_default\.json +export +[\d,]+ +default: /m);
    const out = mkdtempSync(path.join(os.tmpdir(), 'synapse-res-cli-art-'));
    const dl = await cli('run', 'artifacts', fx.export.runId, '--download', out, '--name', 'annotations/instances_default.json', '--name', 'manifest.json');
    expect(dl.code, dl.stderr).toBe(0);
    expect(dl.stdout).toMatch(/^2 artifact\(s\), /);
    for (const name of ['annotations/instances_default.json', 'manifest.json'])
      expect(readFileSync(path.join(out, name)).equals(storedBytes(settings, `${fx.export.exportPath}/${name}`))).toBe(true);
    const train = JSON.parse((await cli('run', 'artifacts', fx.train.runId, '--json')).stdout) as { kind: string; modelId: number }[];
    expect(train).toEqual([expect.objectContaining({ kind: 'model', modelId: fx.train.modelId })]);
    const missing = await cli('run', 'artifacts', fx.export.runId, '--name', 'nope.json');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('has no artifact "nope.json"');
  });

  it('run logs --kind shows only those kinds; an unknown kind exits 2 naming the allowed ones', async () => {
    const progress = await cli('run', 'logs', fx.export.runId, '--kind', 'progress', '--json');
    expect(progress.code, progress.stderr).toBe(0);
    const kinds = new Set(
      progress.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { kind: string }).kind),
    );
    expect(kinds).toEqual(new Set(['progress']));
    const bad = await cli('run', 'logs', fx.export.runId, '--kind', 'progress,item_checked');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('kind: unknown kind "item_checked"; use one or more of log, event, progress, metrics, status');
  });
});

describe('plugin describe, releases, newest release', () => {
  it('describe shows each action with its params; --json has the JSON Schema; unknown exits 3', async () => {
    const text = await cli('plugin', 'describe', 'demo-validation');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^demo-validation@1\.0\.0 +.+ \(data_validation\)$/m);
    expect(text.stdout).toMatch(/^action validation \(job, typescript\)$/m);
    expect(text.stdout).toMatch(/^ +count +integer +no +200 +>= 0, <= 1000000/m);
    const json = JSON.parse((await cli('plugin', 'describe', 'demo-validation', '--json')).stdout) as {
      actions: Record<string, { paramsSchema: { properties: Record<string, unknown> } }>;
    };
    expect(json.actions.validation?.paramsSchema.properties.count).toMatchObject({ type: 'integer', default: 200 });
    expect((await cli('plugin', 'describe', 'no-such-plugin')).code).toBe(3);
    // A folder path, and the environment variables a plugin declares (config.yaml envs).
    const secrets = await cli('plugin', 'describe', 'test/fixtures/plugins/secret-params');
    expect(secrets.stdout).toMatch(/^envs +SECRET_PARAMS_TEST_TOKEN \(values from the worker\)$/m);
  });

  it('--plugin code with no folder runs its newest published release; release list/show; describe says release', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'synapse-res-cli-'));
    for (const version of ['1.9.0', '1.10.0', '1.10.0-rc.1']) {
      const dir = path.join(work, `v${version}`);
      cpSync(path.join(ROOT, 'plugins/demo-validation'), dir, { recursive: true });
      const config = readFileSync(path.join(dir, 'config.yaml'), 'utf8')
        .replace(/^code: .*$/m, 'code: res-cli-released')
        .replace(/^version: .*$/m, `version: ${version}`);
      writeFileSync(path.join(dir, 'config.yaml'), config);
      // Outside this project a TypeScript plugin says it is ES modules itself.
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
      const pub = await cli('plugin', 'publish', dir);
      expect(pub.code, pub.stderr).toBe(0);
    }
    const releases = await cli('release', 'list', 'res-cli-released');
    expect(
      releases.stdout
        .split('\n')
        .slice(1, 4)
        .map((l) => l.split(/\s+/)[1]),
    ).toEqual(['1.10.0', '1.10.0-rc.1', '1.9.0']);
    const newest = await cli('release', 'show', 'res-cli-released');
    expect(newest.stdout).toMatch(/^release +res-cli-released@1\.10\.0$/m);
    expect((await cli('release', 'show', 'res-cli-released@2.0.0')).code).toBe(3);
    const described = JSON.parse((await cli('plugin', 'describe', 'res-cli-released', '--json')).stdout) as { version: string; source: string };
    expect(described).toMatchObject({ version: '1.10.0', source: 'release' });
    const started = await cli('plugin', 'run', 'validation', '{"count": 2}', '--plugin', 'res-cli-released', '--detach', '--json');
    expect(started.code, started.stderr).toBe(0);
    expect(JSON.parse(started.stdout)).toMatchObject({ plugin: { code: 'res-cli-released', version: '1.10.0' } });
  });
});
