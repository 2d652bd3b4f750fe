#!/usr/bin/env node
// The `synapse` command. Runs the TypeScript sources directly: no build step.
import './register.mjs';

const { main } = await import('../cli/main.ts');
await main(process.argv);
