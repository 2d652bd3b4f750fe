/** /v1/plugins: the plugins this gateway can start, and each action's params as JSON Schema. */
import { Router } from 'express';
import { z } from 'zod';
import { InvalidInputError } from '../../contracts/errors.js';
import { findPlugin, listPlugins, loadAction } from '../../engine/plugin-loader.js';
import { requireScope } from '../auth.js';
import { clientText } from '../client-text.js';
import { zodIssues } from '../problem.js';
import { PluginRef } from '../schemas.js';

/** JSON Schema of an action's params as a caller sends them (defaults optional). */
export function paramsJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function pluginsRouter(): Router {
  const router = Router();

  router.get('/plugins', requireScope('runs:read'), async (_req, res) => {
    const plugins = await listPlugins();
    res.json({
      plugins: plugins.map(({ config }) => ({
        code: config.code,
        name: config.name,
        version: config.version,
        category: config.category,
        ...(config.description ? { description: config.description } : {}),
        actions: Object.keys(config.actions),
      })),
    });
  });

  router.get('/plugins/:code', requireScope('runs:read'), async (req, res) => {
    const ref = PluginRef.safeParse(req.params.code);
    if (!ref.success) throw new InvalidInputError('invalid plugin', zodIssues(ref.error, 'code'));
    const plugin = await findPlugin(ref.data);
    const actions: Record<string, unknown> = {};
    for (const [name, action] of Object.entries(plugin.config.actions)) {
      const base = { method: action.method, ...(action.description ? { description: action.description } : {}) };
      try {
        const resolved = await loadAction(plugin, name);
        actions[name] = { ...base, paramsSchema: paramsJsonSchema(resolved.cls.params), progressCategories: resolved.progressCategories };
      } catch (err) {
        // A broken action is still listed, with why it cannot run.
        actions[name] = {
          ...base,
          paramsSchema: {},
          progressCategories: {},
          error: clientText(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)),
        };
      }
    }
    res.json({ code: plugin.config.code, version: plugin.config.version, config: plugin.config, actions });
  });

  return router;
}
