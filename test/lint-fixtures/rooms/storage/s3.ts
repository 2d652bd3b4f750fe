// platform-storage-stay-low: even a type from client/ is refused.
import type { StartOptions } from '../client/start.js';

export type Options = StartOptions;
