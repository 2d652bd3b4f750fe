// contracts-only-contracts, twice: a Node built-in and a type from engine/. zod is fine.
import path from 'node:path';
import { z } from 'zod';
import type { Loader } from '../engine/loader.js';

export const runState = z.object({ step: z.number() });
export type RunState = z.infer<typeof runState>;
export type LoaderOf = Loader;
export const sep = path.sep;
