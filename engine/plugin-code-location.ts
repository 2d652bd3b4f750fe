/**
 * Where in a plugin's own files an error happened: the first stack frame inside the plugin
 * folder, relative to it (`plugin/main.ts:12:7`). People fix their code from this; the
 * worker's absolute paths mean nothing to them (and name the server's folders).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `file:line:column` of the first stack frame inside `pluginDir`, relative to it
 * (`plugin/main.ts:12:7`); undefined when no frame is there. Frames are `at f (/abs/x.ts:1:2)`,
 * `at /abs/x.ts:1:2` or with `file://` URLs.
 */
export function pluginLocation(stack: string | undefined, pluginDir: string): string | undefined {
  if (!stack) return undefined;
  const root = path.resolve(pluginDir);
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line.trim());
    if (!m) continue;
    let file = m[1] as string;
    if (file.startsWith('file://')) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    const rel = path.relative(root, file);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel) && !rel.split(path.sep).includes('node_modules')) {
      return `${rel.split(path.sep).join('/')}:${m[2]}:${m[3]}`;
    }
  }
  return undefined;
}
