/**
 * /v1/plugins: the plugins this gateway can start (its plugin folders, and published
 * releases of codes no folder holds, newest version), and one plugin described as
 * `synapse plugin describe` does (engine/plugin-describe.ts): each action's params as JSON
 * Schema, the environment, where it was found, and its published releases.
 *
 * The classes load where the gateway's describer loads them (gateway/app.ts: plugin hosts,
 * activities/plugin-host-describe.ts), never in this process: the params schema is written
 * in the host and cached per plugin bundle. An action whose host fails (a module that exits as
 * it loads, say) is listed without its schema (`paramsSchema: {}`) and with `error` naming
 * what its host did; the answer is still a 200, as for any action that does not load.
 */
import { Router } from 'express';
import { InvalidInputError } from '../../contracts/errors.js';
import { describeLoadedPlugin } from '../../engine/plugin-describe.js';
import { findPlugin, listPlugins } from '../../engine/plugin-loader.js';
import { compareVersions, listPluginReleases } from '../../platform/repositories/index.js';
import { requireScope } from '../auth.js';
import { clientText } from '../client-text.js';
import type { ActionDescriber } from '../../engine/run-params.js';
import type { PlatformHandle } from '../platform-handle.js';
import { zodIssues } from '../problem.js';
import { PluginRef } from '../schemas.js';

/** `describer` loads each action's class (the gateway's: in plugin hosts). */
export function pluginsRouter({ platform, describer }: { platform: PlatformHandle; describer: ActionDescriber }): Router {
  const router = Router();

  router.get('/plugins', requireScope('runs:read'), async (_req, res) => {
    const plugins = await listPlugins();
    const folders = plugins.map(({ config }) => ({
      code: config.code,
      name: config.name,
      version: config.version,
      category: config.category,
      ...(config.description ? { description: config.description } : {}),
      actions: Object.keys(config.actions),
      source: 'folder' as const,
    }));
    // Published releases of codes that no plugin folder holds: `--plugin code` runs the newest.
    const newest = new Map<string, Awaited<ReturnType<typeof listPluginReleases>>[number]>();
    for (const r of await listPluginReleases(await platform.db())) {
      if (folders.some((f) => f.code === r.code)) continue;
      const seen = newest.get(r.code);
      if (!seen || compareVersions(r.version, seen.version) > 0) newest.set(r.code, r);
    }
    const released = [...newest.values()].map((r) => {
      const c = r.config as { name?: unknown; category?: unknown; description?: unknown; actions?: unknown };
      return {
        code: r.code,
        name: typeof c.name === 'string' ? c.name : r.code,
        version: r.version,
        category: c.category,
        ...(typeof c.description === 'string' ? { description: c.description } : {}),
        actions: c.actions && typeof c.actions === 'object' ? Object.keys(c.actions) : [],
        source: 'release' as const,
      };
    });
    res.json({ plugins: [...folders, ...released.sort((a, b) => a.code.localeCompare(b.code))] });
  });

  router.get('/plugins/:code', requireScope('runs:read'), async (req, res) => {
    const ref = PluginRef.safeParse(req.params.code);
    if (!ref.success) throw new InvalidInputError('invalid plugin', zodIssues(ref.error, 'code'));
    const plugin = await findPlugin(ref.data);
    const description = await describeLoadedPlugin(plugin, { db: await platform.db(), dataDir: platform.dataDir, describer });
    for (const action of Object.values(description.actions)) if (action.error) action.error = clientText(action.error);
    res.json({ ...description, config: plugin.config });
  });

  return router;
}
