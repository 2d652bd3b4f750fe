#!/usr/bin/env node
// Runs one TypeScript file of this project (benchmarks, scripts) with the same loader as `synapse`.
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import './register.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node bin/run-ts.mjs <file.ts> [args...]');
  process.exit(2);
}
process.argv.splice(1, 1);
await import(pathToFileURL(path.resolve(file)).href);
