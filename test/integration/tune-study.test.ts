/**
 * The study steps against a real Optuna process and its SQLite storage, without Temporal:
 * every call is idempotent (a retried ask returns the trial it created, a second tell and a
 * second report of an epoch change nothing), a fresh process (after a crash) serves the same
 * study, and a study made with another search space is refused, as is trial n asked before
 * trial n - 1 exists. Ask-and-tell asks what Optuna's own optimize() would (same seed, same
 * trials). Also: which storage a worker uses, and what a missing optuna says.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTuneActivities } from '../../activities/tune.js';
import { closeOptunaProcesses, OptunaProcess, optunaProcess, studyStorage, toolsPython } from '../../activities/tune-optuna.js';
import type { StudySpec } from '../../contracts/tune.js';
import { openDatabase } from '../../platform/db.js';
import { KyselyRunStore } from '../../platform/kysely-run-store.js';
import { createDatabase } from '../servers/postgres.js';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-tune-study-'));
let store: KyselyRunStore;
let study: ReturnType<typeof createTuneActivities>;

beforeAll(async () => {
  store = await KyselyRunStore.open({ dataDir });
  study = createTuneActivities({ store, dataDir });
});
afterAll(async () => {
  closeOptunaProcesses();
  await store?.close();
});

const spec = (name: string, over: Partial<StudySpec> = {}): StudySpec => ({
  name,
  direction: 'minimize',
  space: {
    lr: { type: 'loguniform', low: 1e-4, high: 1 },
    width: { type: 'choice', values: [8, 16, 32] },
    layers: { type: 'randint', low: 1, high: 4 },
    drop: { type: 'quniform', low: 0, high: 0.5, q: 0.1 },
  },
  sampler: { type: 'tpe', seed: 5 },
  pruner: { type: 'median', n_startup_trials: 1, n_warmup_steps: 0, interval_steps: 1, n_min_trials: 1 },
  concurrency: 1,
  ...over,
});

describe('the study steps', () => {
  it('ask, report and tell are idempotent; a new process serves the same study', async () => {
    const s = { runId: 'tune-a', study: spec('tune-a') };
    expect(await study.tuneOpen(s)).toEqual([]);
    const t0 = await study.tuneAsk({ ...s, number: 0 });
    expect(t0).toMatchObject({ number: 0, state: 'running', value: null });
    // Each dimension as declared: randint's high is exclusive, quniform on steps of q.
    expect(Number(t0.params.lr)).toBeGreaterThanOrEqual(1e-4);
    expect([8, 16, 32]).toContain(t0.params.width);
    expect([1, 2, 3]).toContain(t0.params.layers);
    expect(Math.round(Number(t0.params.drop) * 10) / 10).toBeCloseTo(Number(t0.params.drop), 9);
    // A retried ask (its first answer lost) returns the same trial, and makes no other.
    expect(await study.tuneAsk({ ...s, number: 0 })).toEqual(t0);
    expect(await study.tuneTrials(s)).toHaveLength(1);

    expect(await study.tuneReport({ ...s, number: 0, step: 1, value: 3 })).toEqual({ prune: false, state: 'running' });
    // The same epoch again: ignored, the first value stays.
    await study.tuneReport({ ...s, number: 0, step: 1, value: 99 });
    await study.tuneReport({ ...s, number: 0, step: 2, value: 2 });
    const told = await study.tuneTell({ ...s, number: 0, state: 'complete', value: 2, attrs: { run: 'tune-a/trial-0' } });
    expect(told).toMatchObject({ number: 0, state: 'complete', value: 2, intermediate: { '1': 3, '2': 2 }, attrs: { run: 'tune-a/trial-0' } });
    // A second tell, even another outcome, changes nothing.
    expect(await study.tuneTell({ ...s, number: 0, state: 'fail' })).toEqual(told);
    expect(await study.tuneReport({ ...s, number: 0, step: 3, value: 1 })).toEqual({ prune: false, state: 'complete' });

    // Trial 2 before trial 1: refused, not a gap in the study.
    await expect(study.tuneAsk({ ...s, number: 2 })).rejects.toThrow(/trial 2 asked, but study tune-a has only 1 trials/);

    // The process dies (a crashed worker's): the next call starts another on the same storage.
    optunaProcess().kill();
    await new Promise((r) => setTimeout(r, 200));
    const t1 = await study.tuneAsk({ ...s, number: 1 });
    expect(t1.number).toBe(1);
    // The median pruner stops a trial worse than trial 0 at the same epoch.
    expect(await study.tuneReport({ ...s, number: 1, step: 1, value: 50 })).toEqual({ prune: true, state: 'running' });
    expect(await study.tuneTell({ ...s, number: 1, state: 'pruned' })).toMatchObject({ state: 'pruned', value: 50 });
    expect((await study.tuneTrials(s)).map((t) => [t.number, t.state])).toEqual([
      [0, 'complete'],
      [1, 'pruned'],
    ]);
    // The tune's log has a line per change, and an event per finished trial (resume points count them).
    const events = await store.readEvents('tune-a', 0, 1000);
    expect(
      events.filter((e) => e.data.kind === 'event' && e.data.event === 'trial_end').map((e) => (e.data as unknown as { data: { number: number } }).data.number),
    ).toEqual([0, 0, 1]);
    expect(events.some((e) => e.data.kind === 'event' && e.data.event === 'study_open')).toBe(true);
  });

  it('a grid asks every point once, whatever the order of tells', async () => {
    const s = {
      runId: 'tune-g',
      study: spec('tune-g', {
        space: { a: { type: 'grid', values: [1, 2, 3] }, b: { type: 'grid', values: ['x', 'y'] } },
        sampler: { type: 'grid' },
        pruner: { type: 'none' },
        concurrency: 3,
      }),
    };
    await study.tuneOpen(s);
    const points = new Set<string>();
    for (let n = 0; n < 6; n++) points.add(JSON.stringify((await study.tuneAsk({ ...s, number: n })).params));
    expect(points.size).toBe(6);
    for (const n of [5, 0, 3, 1, 4, 2]) await study.tuneTell({ ...s, number: n, state: 'complete', value: n });
    expect((await study.tuneTrials(s)).every((t) => t.state === 'complete')).toBe(true);
  });

  it("asks what Optuna's own optimize() would: the same seed gives the same trials, one at a time", async () => {
    const space: StudySpec['space'] = { x: { type: 'uniform', low: -5, high: 5 }, y: { type: 'choice', values: [-1, 0, 0.5, 2] } };
    const s = { runId: 'tune-same', study: spec('tune-same', { space, sampler: { type: 'tpe', seed: 11, n_startup_trials: 4 }, pruner: { type: 'none' } }) };
    const f = (x: number, y: number): number => (x - 1.5) ** 2 + 0.5 * (y - 0.5) ** 2;
    const ours: [number, number][] = [];
    for (let n = 0; n < 12; n++) {
      const t = await study.tuneAsk({ ...s, number: n });
      const x = Number(t.params.x);
      const y = Number(t.params.y);
      ours.push([x, y]);
      await study.tuneTell({ ...s, number: n, state: 'complete', value: f(x, y) });
    }
    const script = [
      'import json, optuna',
      'optuna.logging.set_verbosity(optuna.logging.WARNING)',
      'def objective(t):',
      '    x = t.suggest_float("x", -5, 5); y = t.suggest_categorical("y", [-1, 0, 0.5, 2])',
      '    return (x - 1.5) ** 2 + 0.5 * (y - 0.5) ** 2',
      's = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=11, n_startup_trials=4))',
      's.optimize(objective, n_trials=12)',
      'print(json.dumps([[t.params["x"], t.params["y"]] for t in s.trials]))',
    ].join('\n');
    const theirs = JSON.parse(execFileSync(toolsPython(), ['-c', script], { encoding: 'utf8' })) as [number, number][];
    expect(ours).toEqual(theirs);
  });

  it('prunes with successive halving and Hyperband as Optuna does', async () => {
    for (const pruner of [
      { type: 'asha', min_resource: 1, reduction_factor: 2, min_early_stopping_rate: 0 },
      { type: 'hyperband', min_resource: 1, max_resource: 4, reduction_factor: 2 },
    ] as const) {
      const s = { runId: `tune-${pruner.type}`, study: spec(`tune-${pruner.type}`, { sampler: { type: 'random', seed: 1 }, pruner }) };
      await study.tuneOpen(s);
      // Six good trials (value = n / 10: lower is better), then ten much worse ones.
      const decisions: boolean[] = [];
      for (let n = 0; n < 16; n++) {
        await study.tuneAsk({ ...s, number: n });
        const value = n < 6 ? n / 10 : 100 + n;
        let pruned = false;
        for (let epoch = 1; epoch <= 4 && !pruned; epoch++) pruned = (await study.tuneReport({ ...s, number: n, step: epoch, value })).prune;
        decisions.push(pruned);
        await study.tuneTell({ ...s, number: n, ...(pruned ? { state: 'pruned' as const } : { state: 'complete' as const, value }) });
      }
      // Hyperband compares a trial only within its bracket: some bad trials go on, but not all.
      expect(decisions.slice(6).filter(Boolean).length, pruner.type).toBeGreaterThanOrEqual(pruner.type === 'asha' ? 8 : 2);
    }
  });

  it('refuses a study made with another search space or direction', async () => {
    const s = { runId: 'tune-b', study: spec('tune-b') };
    await study.tuneOpen(s);
    await expect(study.tuneOpen({ ...s, study: spec('tune-b', { space: { lr: { type: 'uniform', low: 0, high: 1 } } }) })).rejects.toThrow(
      /was made with another search space/,
    );
    await expect(study.tuneOpen({ ...s, study: spec('tune-b', { direction: 'maximize' }) })).rejects.toThrow(
      'study tune-b minimizes its metric; this tune maximizes it',
    );
  });

  it("keeps a study in the platform's PostgreSQL (DATABASE_URL), in a schema of its own", async () => {
    const server = inject('postgresUrl');
    if (!server) throw new Error(`PostgreSQL is not running for the tests: ${inject('postgresError')}`);
    const url = await createDatabase(server, `tune_${Date.now()}_${Math.random().toString(36).slice(2, 8)}`);
    const platform = await openDatabase({ dataDir, url });
    await platform.close();
    const storage = studyStorage(dataDir, { DATABASE_URL: url });
    const s = { study: spec('tune-pg'), storage };
    await optunaProcess().call('open', s);
    const t0 = await optunaProcess().call<{ params: Record<string, unknown> }>('ask', { ...s, number: 0 });
    await optunaProcess().call('tell', { ...s, number: 0, state: 'complete', value: 0.25 });
    // Another process (another worker) finds the same study.
    optunaProcess().kill();
    await new Promise((r) => setTimeout(r, 200));
    expect(await optunaProcess().call('trials', s)).toEqual([expect.objectContaining({ number: 0, state: 'complete', value: 0.25, params: t0.params })]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ table_schema: string; table_name: string }>(
        "select table_schema, table_name from information_schema.tables where table_name in ('trials', 'studies', 'runs')",
      );
      expect(tables.rows.map((r) => `${r.table_schema}.${r.table_name}`).sort()).toEqual(['optuna.studies', 'optuna.trials', 'public.runs']);
    } finally {
      await client.end();
    }
  });

  it('keeps studies in SQLite in the data dir, PostgreSQL under DATABASE_URL, or SYNAPSE_TUNE_STORAGE', () => {
    expect(studyStorage('/d', {})).toBe('sqlite:////d/optuna.db');
    expect(studyStorage('/d', { DATABASE_URL: 'postgres://u:p@h:5432/db' })).toBe('postgresql+psycopg2://u:p@h:5432/db');
    expect(studyStorage('/d', { DATABASE_URL: 'postgres://u@h/db', SYNAPSE_TUNE_STORAGE: 'journal:/j/log' })).toBe('journal:/j/log');
  });

  it('says how to get optuna when the interpreter has none', async () => {
    const proc = new OptunaProcess('/usr/bin/python3');
    const hasOptuna = await proc.ready.then(
      () => true,
      () => false,
    );
    proc.kill();
    if (hasOptuna) return; // this machine's system Python has optuna: nothing to refuse
    await expect(new OptunaProcess('/usr/bin/python3').call('trials', {})).rejects.toThrow(
      /optuna cannot be imported by \/usr\/bin\/python3 .*run scripts\/setup\.sh, or set SYNAPSE_TOOLS_PYTHON/,
    );
  });
});
