/**
 * `--debug` runs an action in-process without Temporal through the same RunContext calls,
 * and `synapse worker` stops gracefully on SIGTERM.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runCli, spawnWorker, testSettings } from '../helpers.js';

const settings = testSettings('debug-and-worker');

describe('--debug', () => {
  it('runs the action in this process, printing progress, metrics, checkpoints and the result, with no Temporal server', async () => {
    const res = await runCli(
      ['plugin', 'run', 'validation', '{"count": 12, "delayMs": 0, "checkpointEvery": 5}', '--plugin', 'demo-validation', '--debug', '--json'],
      settings,
      { TEMPORAL_ADDRESS: '127.0.0.1:1' },
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.kind === 'checkpoint').map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(lines.filter((l) => l.kind === 'progress' && l.category === 'validate').at(-1)).toMatchObject({ current: 12, total: 12 });
    expect(lines.some((l) => l.kind === 'metrics' && l.category === 'validation')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ kind: 'result', result: { checked: 12, resumedFrom: null } });
  });

  it('bad params fail the same way as a durable run: exit 2 naming the field', async () => {
    const res = await runCli(['plugin', 'run', 'validation', '{"count": "many"}', '--plugin', 'demo-validation', '--debug'], settings);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/count: /);
  });
});

describe('synapse worker', () => {
  it('stops gracefully on SIGTERM and says so', async () => {
    const worker = await spawnWorker(settings);
    let stderr = '';
    worker.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    worker.kill('SIGTERM');
    const [code] = (await once(worker, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stderr).toContain('worker stopped');
  });
});
