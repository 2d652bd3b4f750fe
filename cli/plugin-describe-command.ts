/**
 * `synapse plugin describe <code[@version]|folder>`: what a plugin offers, so a person can
 * write its params without reading its code: category, environment, where it was found,
 * published releases, and per action the method, params (name, type, required, default,
 * limits, description from the JSON Schema) and progress categories. `--json` prints the
 * whole description, params as JSON Schema (engine/plugin-describe.ts; the gateway's
 * `GET /v1/plugins/{code}` has the same). Registered under `plugin` by plugin-commands.ts.
 */
import type { Command } from 'commander';
import type { ActionDescription, PluginDescription } from '../engine/plugin-describe.js';
import { printJson, settingsFrom } from './io.js';
import { table } from './table.js';

type JsonSchema = Record<string, unknown>;

/** A JSON Schema type in a few words: `integer`, `string (a | b)`, `array of number`. */
function typeText(s: JsonSchema): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(variants)) return variants.map(typeText).join(' | ');
  if (s.type === 'array' && s.items && typeof s.items === 'object') return `array of ${typeText(s.items as JsonSchema)}`;
  if (Array.isArray(s.type)) return s.type.join(' | ');
  return typeof s.type === 'string' ? s.type : 'any';
}

function limitsText(s: JsonSchema): string {
  const parts: string[] = [];
  for (const [key, word] of [
    ['minimum', '>='],
    ['exclusiveMinimum', '>'],
    ['maximum', '<='],
    ['exclusiveMaximum', '<'],
    ['minLength', 'length >='],
    ['maxLength', 'length <='],
    ['minItems', 'items >='],
    ['maxItems', 'items <='],
  ] as const) {
    // z.number().int() says ±2^53-1 on its own: no limit anyone set.
    if (typeof s[key] === 'number' && Math.abs(s[key] as number) !== Number.MAX_SAFE_INTEGER) parts.push(`${word} ${s[key] as number}`);
  }
  if (typeof s.pattern === 'string') parts.push(`matches ${s.pattern}`);
  return parts.join(', ');
}

/** One row per top-level param of an action's params schema. */
export function paramsTable(schema: JsonSchema): string[] {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(properties);
  if (rows.length === 0) return [`    (no params${schema.additionalProperties === false ? '' : ' declared'})`];
  return table(rows, [
    { header: '    PARAM', cell: ([n]) => `    ${n}` },
    { header: 'TYPE', cell: ([, s]) => typeText(s) },
    { header: 'REQUIRED', cell: ([n, s]) => (required.has(n) && s.default === undefined ? 'yes' : 'no') },
    { header: 'DEFAULT', cell: ([, s]) => (s.default === undefined ? '-' : JSON.stringify(s.default)) },
    { header: 'LIMITS', cell: ([, s]) => limitsText(s) || '-' },
    { header: 'DESCRIPTION', cell: ([, s]) => (typeof s.description === 'string' ? s.description : '') },
  ]);
}

function actionLines(name: string, a: ActionDescription): string[] {
  const categories = Object.entries(a.progressCategories).map(([c, d]) => `${d.label ? `${d.label} (${c})` : c} weight ${d.weight}`);
  return [
    `action ${name} (${a.method}, ${a.runtime}${a.heartbeatTimeout !== undefined ? `, heartbeat timeout ${a.heartbeatTimeout} s` : ''})`,
    ...(a.description ? [`  ${a.description}`] : []),
    ...(a.error ? [`  cannot load: ${a.error}`] : ['  params', ...paramsTable(a.paramsSchema)]),
    ...(categories.length ? [`  progress ${categories.join(', ')}`] : []),
  ];
}

export function describeLines(d: PluginDescription): string[] {
  const env = d.environment;
  return [
    `${d.code}@${d.version}  ${d.name} (${d.category})`,
    ...(d.description ? [d.description] : []),
    `source       ${d.source === 'release' ? 'published release' : 'plugin folder'}`,
    `environment  runtime ${env.runtime}${env.packageManager ? `, package manager ${env.packageManager}${env.packageManagerOptions ? ` ${env.packageManagerOptions.join(' ')}` : ''}` : ''}${env.dataType ? `, data type ${env.dataType}` : ''}${env.tasks ? `, tasks ${env.tasks.join(', ')}` : ''}${env.resourceClass ? `, resource class ${env.resourceClass}` : ''}`,
    ...(env.envs ? [`envs         ${env.envs.join(', ')} (values from the worker)`] : []),
    `releases     ${d.releases.length ? d.releases.map((r) => r.version).join(', ') : 'none published'}`,
    '',
    ...Object.entries(d.actions).flatMap(([name, a], i) => [...(i > 0 ? [''] : []), ...actionLines(name, a)]),
  ];
}

export function pluginDescribeCommand(plugin: Command): void {
  plugin
    .command('describe')
    .description("what a plugin offers: category, environment, releases, and each action's method, params schema and progress categories")
    .argument('<plugin>', 'plugin code, code@version (a published release too), or folder path')
    .option('--json', 'print JSON (params as JSON Schema)')
    .action(async (ref: string, opts: { json?: boolean }, cmd: Command) => {
      const { dataDir } = settingsFrom(cmd);
      const [{ useReleases }, { describePlugin }, { openDatabase }] = await Promise.all([
        import('../engine/plugin-releases.js'),
        import('../engine/plugin-describe.js'),
        import('../platform/db.js'),
      ]);
      useReleases({ dataDir });
      const platform = await openDatabase({ dataDir });
      try {
        const d = await describePlugin(ref, { db: platform.db, dataDir });
        if (opts.json) printJson(d);
        else process.stdout.write(describeLines(d).join('\n') + '\n');
      } finally {
        await platform.close();
      }
    });
}
