// Test files are never bundled into the workflow sandbox: Node is fine here.
import { readFileSync } from 'node:fs';

export const read = readFileSync;
