// workflows-types-only-from-below: a type from gateway/; workflows-only-contracts-and-temporal:
// a value from engine/.
import type { App } from '../gateway/app.js';
import { loadPlugin } from '../engine/loader.js';

export type Flow = () => Promise<void>;
export type Host = App;
export const load = loadPlugin;
