import { startArgs } from '../client/start.js';

export function main(argv: string[]): string {
  return startArgs(argv[0] ?? 'state.json').type;
}
