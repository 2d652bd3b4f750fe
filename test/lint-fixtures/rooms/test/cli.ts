// only-bin-imports-cli holds for tests too: test the client functions, or run bin/ as a process.
import { main } from '../cli/main.js';

export const cli = main;
