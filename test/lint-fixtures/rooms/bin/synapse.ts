// bin/ starts the CLI: allowed.
import { main } from '../cli/main.js';

export const exit = main;
