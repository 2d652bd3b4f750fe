/**
 * `synapse plugin run <served action> --debug` (cli/serve-debug.ts): the TypeScript colour
 * model (test/fixtures/plugins/serve-ts) served on a free port of this machine by the CLI
 * process alone (no worker, no gateway: Temporal is never asked), answering predictions, the
 * seed-style action path, its schema and a bad body like a replica; Ctrl-C (SIGINT) drains it
 * and the command exits 0 with the count. --port without --debug, a bad port and --port on an
 * action that is not served are exit 2 naming the option.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderItem, sampleItem } from '../../platform/generate.js';
import { envFor, ROOT, runCli, SYNAPSE_BIN, testSettings } from '../helpers.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'plugins', 'serve-ts');
const settings = testSettings('serve-debug');
// Nothing listens here: a command that asked Temporal would fail.
const offline = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

describe('plugin run <served action> --debug', () => {
  it('serves the action on a port until Ctrl-C, without Temporal', async () => {
    const child = spawn(process.execPath, [SYNAPSE_BIN, 'plugin', 'run', 'deployment', '--plugin', FIXTURE, '--debug', '--port', '0'], {
      env: { ...envFor(settings), ...offline },
      cwd: ROOT,
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const address = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /serving serve-ts deployment on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code} before serving:\n${stdout}\n${stderr}`)));
    });

    const item = sampleItem(3, 1, 'debug');
    const body = JSON.stringify({ image: renderItem(item).toString('base64') });
    const post = (route: string, b: string) => fetch(address + route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: b });
    const predicted = await post('/predict', body);
    expect(predicted.status).toBe(200);
    expect(((await predicted.json()) as { label: string }).label).toBe(item.color);
    // The seed-style path: the action's own name.
    const seed = await post('/deployment', body);
    expect(seed.status).toBe(200);
    expect(((await seed.json()) as { label: string }).label).toBe(item.color);
    const bad = await post('/predict', '{"picture": 1}');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('image');
    expect((await post('/train', body)).status).toBe(404);
    const schema = (await (await fetch(`${address}/schema`)).json()) as { actions: string[]; input: { required: string[] } };
    expect(schema).toMatchObject({ actions: ['deployment'], input: { required: ['image'] } });

    child.kill('SIGINT');
    expect(await exited, stderr).toBe(0);
    expect(stdout).toContain('stopped after 2 predictions');
    expect(stderr).toContain('loaded 4 colours from model.json');
  }, 60_000);

  it('--port is refused without --debug, out of range, or for an action that is not served', async () => {
    const noDebug = await runCli(['plugin', 'run', 'deployment', '--plugin', FIXTURE, '--port', '8000'], settings, offline);
    expect(noDebug.code).toBe(2);
    expect(noDebug.stderr).toContain('port');
    const badPort = await runCli(['plugin', 'run', 'deployment', '--plugin', FIXTURE, '--debug', '--port', '70000'], settings, offline);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/port.*0 to 65535/);
    const notServed = await runCli(['plugin', 'run', 'train', '--plugin', 'train-image-classifier', '--debug', '--port', '0'], settings, offline);
    expect(notServed.code).toBe(2);
    expect(notServed.stderr).toContain('port');
  }, 60_000);
});
