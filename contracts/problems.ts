/**
 * The one zod problem formatter: every external input is parsed with zod once, at the edge,
 * and its issues become `Problem`s that name the field (and, given a locator, the file, line
 * and column). Used by the config.yaml reader, params checks, the gateway and the platform.
 */
import type { z } from 'zod';
import type { Problem } from './errors.js';

/** Where a key path sits in its source (`file:line:column`), when the input came from a file. */
export type Locator = (path: string[], keyNode: boolean) => string | undefined;

/** Turns zod issues into problems; with a locator, each points at its line. */
export function zodProblems(error: z.ZodError, locate?: Locator): Problem[] {
  const problems: Problem[] = [];
  const at = (path: string[], keyNode: boolean): { location?: string } => {
    const location = locate?.(path, keyNode);
    return location ? { location } : {};
  };
  for (const issue of error.issues) {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...base, key];
        problems.push({ path: path.join('.'), message: `unknown key "${key}"`, ...at(path, true) });
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      // zod's own message is only "Invalid key in record"; the reason is in the nested issues.
      const why = issue.issues.map((i) => i.message).join('; ');
      const message = `invalid key "${base[base.length - 1] ?? ''}"${why ? `: ${why}` : ''}`;
      problems.push({ path: base.join('.'), message, ...at(base, true) });
      continue;
    }
    problems.push({ path: base.join('.'), message: issue.message, ...at(base, false) });
  }
  return problems;
}
