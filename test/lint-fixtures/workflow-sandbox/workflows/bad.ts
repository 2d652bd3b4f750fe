import { proxyActivities, sleep } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type * as activities from '../activities/index.js';
import { readFileSync } from 'node:fs';
import path from 'path';
import { helper } from '../outside/helper.js';
import { z } from 'zod';
import { type Document } from 'yaml';
import { ok } from './ok.js';
// process.env, setTimeout( and Math.random( in comments are fine
const text = 'process.env Math.random() require("fs")';

export const retry: RetryPolicy = { maximumAttempts: 1 };
export const uses = [readFileSync, path, helper, z, ok, text];
export type Doc = Document;

export async function badWorkflow(): Promise<number> {
  const { work } = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });
  const home = process.env.HOME;
  setTimeout(() => {}, 10);
  setInterval(() => {}, 10);
  const n = Math.random();
  const m: unknown = require('node:os');
  const os: unknown = await import('node:os');
  const env = globalThis.process.env;
  await sleep(await work(home ?? env.HOME ?? ''));
  return n + String(m).length + String(os).length;
}
