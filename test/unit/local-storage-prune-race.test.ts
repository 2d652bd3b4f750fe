/**
 * Local storage under concurrent puts and deletes in the same folders (an export page: items
 * written `itemConcurrency` at a time, a failed item's files deleted while the others write).
 * A delete prunes the folders it leaves empty; a put racing it must make its folder again, not
 * fail with ENOENT (seen in export-host: "ENOENT: no such file or directory, mkdir .../json").
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { LocalStorage } from '../../storage/local.js';

it('puts racing deletes that prune their folders all land, nested folders included', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'prune-race-'));
  const storage = new LocalStorage(root);
  const kept: string[] = [];
  // Each round: lanes put a file and delete it at once (the folder is emptied and pruned) while
  // others put files that stay, all under the same folders, fresh ones every few rounds.
  for (let round = 0; round < 60; round++) {
    const base = `export-${round % 5}/json/deep`;
    await Promise.all(
      Array.from({ length: 16 }, async (_, lane) => {
        const key = `${base}/r${round}-l${lane}.json`;
        await storage.put(key, `{"lane":${lane}}`, { sync: false });
        if (lane % 2 === 0) await storage.delete(key);
        else kept.push(key);
      }),
    );
  }
  for (const key of kept) expect(await storage.exists(key)).toBe(true);
  const stored: string[] = [];
  for await (const o of storage.list('')) stored.push(o.key);
  stored.sort();
  expect(stored).toEqual([...kept].sort());
  expect(readdirSync(root).filter((n) => n.startsWith('.synapse-tmp-') && readdirSync(path.join(root, n)).length > 0)).toEqual([]);
});
