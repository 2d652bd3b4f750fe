import { main } from '../cli/main.js';

export const run = main;
