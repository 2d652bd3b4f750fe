/**
 * The deployment demo page (gateway/demo-page.ts) in a real browser: Debian's headless
 * chromium driven over CDP by puppeteer-core. The built-in PyTorch classifier trains on 600
 * generated images (as in deployment-python.test.ts), its model runs as the `gradio` action (a deployment, 1 replica),
 * and a person's path through the page is followed: the page asks for a sign-in, the token
 * goes in the form (never in the URL), the form built from the action's input schema takes
 * an uploaded PNG, Predict shows the label, each class's score and the shape's box drawn on
 * the image: the same answer the API gives for that image. A wrong token is refused on the
 * page. The seed-style path (`POST /v1/deployments/{id}/<action>`) and the schema route reach
 * the replica too. Screenshots go to .cache/test-output/demo-page/ (SYNAPSE_TEST_OUTPUT overrides).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Deployments } from '../../client/deployments.js';
import type { RunsClient } from '../../client/runs.js';
import type { RunState } from '../../contracts/run-state.js';
import type { TrainResult } from '../../contracts/train.js';
import { listenGateway, type GatewayServer } from '../../gateway/server.js';
import { TokenStore } from '../../gateway/token-store.js';
import { openDatabase } from '../../platform/db.js';
import { generateSampleData, renderItem, sampleItem, type GenerateResult } from '../../platform/generate.js';
import { ROOT, testSettings, useWorkerAndRuns, waitFor } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUTPUT = process.env.SYNAPSE_TEST_OUTPUT
  ? path.join(process.env.SYNAPSE_TEST_OUTPUT, 'demo-page')
  : path.join(ROOT, '.cache', 'test-output', 'demo-page');
const settings = testSettings('demo-page');
let runs: RunsClient;
useWorkerAndRuns(settings, (r) => (runs = r));
let data: GenerateResult;
let deployments: Deployments;
let tokens: TokenStore;
let gateway: GatewayServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh does), or set CHROMIUM_PATH`);
  await mkdir(OUTPUT, { recursive: true });
  const platform = await openDatabase({ dataDir: settings.dataDir });
  try {
    data = await generateSampleData(platform, { count: 600, seed: 5, projectName: 'shapes', dataDir: settings.dataDir });
  } finally {
    await platform.close();
  }
  deployments = new Deployments(runs);
  tokens = await TokenStore.open({ dataDir: settings.dataDir });
  gateway = await listenGateway({ runs, tokens, port: 0, defaultMetrics: false, rateLimit: false });
  // --no-sandbox: the test may run as root (CI containers), where chromium's sandbox refuses to start.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await tokens?.close();
  await deployments?.close();
});

const finish = async (runId: string): Promise<RunState> =>
  (await runs.temporal.workflow
    .getHandle(runId)
    .result()
    .catch(async () => runs.state(runId))) as RunState;

describe('the demo page of a deployment in chromium', () => {
  it('signs in with a form, uploads an image, predicts and shows the labels, scores and box', async () => {
    const trained = await finish(
      (
        await runs.start({
          plugin: 'train-image-classifier',
          action: 'train',
          params: { name: 'demo-cnn', dataset: data.groundTruth.versionId, hyperparameters: { epochs: 12, seed: 2, batch_size: 16, width: 16 }, num_cpus: 1 },
        })
      ).runId,
    );
    expect(trained.status, trained.error).toBe('completed');
    const { model } = trained.result as TrainResult;

    const { runId: id } = await runs.start({
      plugin: 'train-image-classifier',
      action: 'gradio',
      params: { replicas: 1, model: model.id },
      heartbeatTimeoutSeconds: 10,
    });
    await waitFor(async () => ((await deployments.replicas(id)).some((r) => r.serving) ? true : undefined), 120_000, 'a serving replica');
    const { token } = await tokens.create('demo-page');
    // The gradio run says where its page is.
    const logs = await waitFor(
      async () => {
        const messages = (await runs.events(id, 0, 1000)).filter((e) => e.data.kind === 'log').map((e) => (e.data as { message: string }).message);
        return messages.some((m) => m.includes(`/v1/deployments/${id}/demo`)) ? messages : undefined;
      },
      30_000,
      'the demo page log line',
    );
    expect(logs.some((m) => m.startsWith('demo page: '))).toBe(true);

    // The image a person uploads, and what the API answers for it.
    const item = sampleItem(99, 4, 'demo');
    const png = renderItem(item);
    const file = path.join(settings.dataDir, 'upload.png');
    await writeFile(file, png);
    const api = await fetch(`${gateway.url}/v1/deployments/${id}/predict`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ image: png.toString('base64') }),
    });
    const expected = (await api.json()) as { label: string; scores: Record<string, number>; boxes: unknown[] };
    expect(api.status, JSON.stringify(expected)).toBe(200);
    expect(expected.boxes).toHaveLength(1);
    // The seed-style path: the action's own name (and the plugin's other served action of the same class) reach the replica too.
    const post = (action: string) =>
      fetch(`${gateway.url}/v1/deployments/${id}/${action}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ image: png.toString('base64') }),
      });
    for (const action of ['gradio', 'deployment']) {
      const res = await post(action);
      expect(res.status, action).toBe(200);
      expect(await res.json()).toEqual(expected);
    }
    const notServed = await post('train');
    expect(notServed.status).toBe(404);
    expect(((await notServed.json()) as { detail: string }).detail).toContain('/gradio');
    const schema = (await (await fetch(`${gateway.url}/v1/deployments/${id}/schema`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      actions: string[];
      input: { required: string[] };
    };
    expect(schema).toMatchObject({ actions: ['deployment', 'gradio'], input: { required: ['image'] } });

    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(String(err)));
    page.on('console', (msg) => {
      // The browser logs each 4xx answer (the 401s before signing in, the refused token): expected, not a script error.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text());
    });
    await page.setViewport({ width: 900, height: 800 });
    const demoUrl = `${gateway.url}/v1/deployments/${id}/demo`;

    // Not signed in: the page shows the login form. A wrong token is refused on the page.
    await page.goto(demoUrl);
    await page.waitForSelector('#login:not([hidden])');
    await page.type('input[name=token]', 'syn_nope_wrong');
    await Promise.all([page.waitForNavigation(), page.click('#sign-in')]);
    expect(await page.$eval('#login-error', (el) => el.textContent)).toContain('token');
    await page.screenshot({ path: path.join(OUTPUT, '1-refused-token.png') });

    await page.type('input[name=token]', token);
    await Promise.all([page.waitForNavigation(), page.click('#sign-in')]);
    expect(page.url()).toBe(demoUrl); // the token went in the body, not the URL
    const cookie = (await browser.cookies()).find((c) => c.name === 'synapse_token');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/v1' });
    await page.waitForSelector('#inputs:not([hidden])');
    expect(await page.$eval('#about', (el) => el.textContent)).toBe('train-image-classifier · gradio');
    await page.screenshot({ path: path.join(OUTPUT, '2-signed-in.png') });

    // The form built from the input schema: one image upload.
    // The tests compile without the DOM library: page code is given as strings, file inputs through this view.
    const input = (await page.$('#field-image')) as unknown as { uploadFile(...files: string[]): Promise<void> } | null;
    if (!input) throw new Error('no #field-image on the page');
    expect(await page.evaluate(`document.querySelector('#field-image').type`)).toBe('file');
    await input.uploadFile(file);
    await page.waitForSelector('#field-image[data-loaded="upload.png"]');
    await page.waitForSelector('#preview:not([hidden])');
    await page.click('#predict');
    await page.waitForSelector('#status[data-state=done], #status[data-state=error]', { timeout: 30_000 });
    const state = (await page.evaluate(
      `({ state: document.querySelector('#status').dataset.state, text: document.querySelector('#status').textContent })`,
    )) as {
      state: string;
      text: string;
    };
    expect(state.state, state.text ?? '').toBe('done');
    await page.waitForSelector('#preview[data-boxes="1"]');
    await page.screenshot({ path: path.join(OUTPUT, '3-prediction.png'), fullPage: true });

    const shown = (await page.evaluate(`({
      label: document.querySelector('#label').textContent,
      rows: [...document.querySelectorAll('#labels li')].map((li) => [li.querySelector('.name').textContent, li.querySelector('.score').textContent]),
      raw: JSON.parse(document.querySelector('#raw').textContent),
    })`)) as { label: string; rows: [string, string][]; raw: unknown };
    console.log(`demo page: ${item.className} image predicted ${shown.label} (${JSON.stringify(shown.rows)}); screenshots in ${OUTPUT}`);
    expect(shown.label).toBe(expected.label);
    expect(shown.label).toBe(item.className); // the model of test/integration/deployment-python.test.ts (test accuracy 0.96)
    expect(shown.raw).toEqual(expected);
    const best = Object.entries(expected.scores).sort((a, b) => b[1] - a[1]);
    expect(shown.rows).toEqual(best.map(([name, score]) => [name, `${(score * 100).toFixed(1)}%`]));
    expect(pageErrors).toEqual([]);

    // A body the model refuses shows the problem's field: a file that is not an image.
    const notImage = path.join(settings.dataDir, 'not-an-image.png');
    await writeFile(notImage, 'hello');
    await input.uploadFile(notImage);
    await page.waitForSelector('#field-image[data-loaded="not-an-image.png"]');
    await page.click('#predict');
    await page.waitForSelector('#status[data-state=error]', { timeout: 30_000 });
    expect(await page.$eval('#status', (el) => el.textContent)).toContain('image');
    expect(await page.evaluate(`document.querySelector('#result').hidden`)).toBe(true); // the earlier answer is gone
    await page.screenshot({ path: path.join(OUTPUT, '4-refused-body.png') });

    await deployments.stop(id);
  }, 600_000);
});
