// only-bin-imports-cli: the gateway shares code through client/, never cli/.
import { main } from '../cli/main.js';

export type App = typeof main;
export const app: App = main;
