/**
 * `synapse plugin create`: a working plugin folder for any category. Every template is a
 * small function here, so what a new plugin looks like is in one place:
 * config.yaml, package.json ("type": "module": the plugin's .ts files are ES modules
 * wherever the folder lives), README.md and plugin/<action>.ts (or .py) whose class
 * extends the category's base: BaseExporter, BaseUploader, TrainAction, ServeAction (neural_net
 * deployment and gradio: method restapi, served by `plugin run <action> --debug` or as a
 * deployment, docs/serving.md), or the typed Action of the action (sdk/category-actions.ts). Each declares its schema once, through the base's
 * factory (`withParams`, `withExtraParams`, `withHyperparameters`); a Python trainer declares
 * its hyperparameters as JSON Schema in config.yaml.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CATEGORIES, CATEGORY_ACTIONS, RUNTIMES, type Category, type Runtime } from '../sdk/categories.js';
import * as categoryActions from '../sdk/category-actions.js';
import { parsePluginConfig } from '../sdk/config.js';
import { InvalidInputError, type Problem } from '../contracts/errors.js';
import { pluginTsconfigText } from '../engine/plugin-typecheck.js';
import { isPythonTaskPageAction, pythonTaskPagesModule, pythonTaskPagesParams, pythonTaskPagesRunLine } from './plugin-scaffold-python.js';

export interface ScaffoldOptions {
  dir: string;
  category?: string;
  code?: string;
  name?: string;
  /** One line for config.yaml (default: "<name>: a <category> plugin", "an" before a vowel). */
  description?: string;
  /** One action, or several separated by commas (`validation` / `pre_annotation,to_task`). */
  action?: string;
  /** Several actions (the prompt's multi-select); wins over `action`. */
  actions?: string[];
  runtime?: string;
}

export interface Scaffold {
  dir: string;
  code: string;
  category: Category;
  /** The first action (kept for callers that made one). */
  action: string;
  actions: string[];
  runtime: Runtime;
  files: string[];
}

const CODE = /^[a-z0-9_-]+$/;

/** "a neural_net", "an export", "an upload": the article a category takes. */
export function withArticle(category: string): string {
  return `${/^[aeiou]/i.test(category) ? 'an' : 'a'} ${category}`;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The description config.yaml gets when none is given: "<name>: an export plugin". */
export function defaultDescription(name: string, category: string): string {
  return `${name}: ${withArticle(category)} plugin`;
}

/** Checks the options (every problem named by its option), then writes the plugin folder. */
export async function createPluginScaffold(opts: ScaffoldOptions): Promise<Scaffold> {
  const dir = path.resolve(opts.dir);
  const problems: Problem[] = [];
  if (existsSync(dir) && (!statSync(dir).isDirectory() || readdirSync(dir).length > 0)) {
    problems.push({ path: 'dir', message: `${dir} exists and is not an empty folder; choose a new folder` });
  }
  const category = opts.category as Category | undefined;
  if (!category || !CATEGORIES.includes(category)) {
    problems.push({ path: '--category', message: `must be one of ${CATEGORIES.join(', ')}${opts.category ? `, got ${JSON.stringify(opts.category)}` : ''}` });
  }
  const code = opts.code ?? path.basename(dir);
  if (!CODE.test(code)) {
    problems.push({
      path: '--code',
      message: `${JSON.stringify(code)} is not a plugin code: lowercase letters, digits, "_" and "-" only${opts.code === undefined ? ' (it defaults to the folder name; pass --code)' : ''}`,
    });
  }
  const actions: readonly string[] = category && CATEGORIES.includes(category) ? CATEGORY_ACTIONS[category] : [];
  const chosen = [...new Set(opts.actions ?? (opts.action !== undefined ? opts.action.split(',').map((a) => a.trim()) : [actions[0] ?? '']))];
  const action = chosen[0] ?? '';
  if (chosen.length === 0 || chosen.includes('')) problems.push({ path: '--action', message: 'name at least one action (several: --action a,b)' });
  else if (category && actions.length > 0) {
    for (const a of chosen.filter((a) => !actions.includes(a))) {
      problems.push({ path: '--action', message: `${withArticle(category)} plugin offers ${actions.join(', ')}; got ${JSON.stringify(a)}` });
    }
  }
  const runtime = (opts.runtime ?? 'typescript') as Runtime;
  if (!RUNTIMES.includes(runtime)) problems.push({ path: '--runtime', message: `must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(opts.runtime)}` });
  else if (
    runtime === 'python' &&
    !(category === 'neural_net' && ['train', 'test', 'inference'].includes(action)) &&
    !isPythonTaskPageAction(category, action)
  ) {
    problems.push({
      path: '--runtime',
      message:
        'python runs neural_net trainers (train, test, inference) and the task pages of pre_annotation (pre_annotation, to_task), data_validation (validation) and post_annotation; use one of those categories',
    });
  } else if (runtime === 'python' && chosen.length > 1) problems.push({ path: '--action', message: 'a python scaffold has one action' });
  if (opts.description !== undefined && opts.description.trim() === '') problems.push({ path: '--description', message: 'must not be empty' });
  if (opts.name !== undefined && opts.name.trim() === '') problems.push({ path: '--name', message: 'must not be empty' });
  if (problems.length > 0) throw new InvalidInputError('cannot create the plugin', problems);

  const name = opts.name ?? titleCase(code);
  const templates: Template[] = chosen.map((a) => ({
    code,
    name,
    description: opts.description ?? defaultDescription(name, category as Category),
    category: category as Category,
    action: a,
    runtime,
    cls: `${pascal(code)}${kindOf(category as Category, a) === 'action' ? pascal(a) : pascal(kindOf(category as Category, a))}`,
  }));
  const t = templates[0] as Template;
  const files: Record<string, string> = {
    'config.yaml': configYaml(templates),
    'package.json': packageJson(t),
    'README.md': readme(templates),
    ...(runtime === 'python'
      ? {
          [`plugin/${action}.py`]: isPythonTaskPageAction(category, action) ? pythonTaskPagesModule(t) : pythonTrainer(t),
          'plugin/__init__.py': '',
          'requirements.txt': '# Python packages this plugin needs, one per line\n',
        }
      : {
          ...Object.fromEntries(templates.map((x) => [`plugin/${x.action}.ts`, typescriptModule(x)])),
          // `@synapse/sdk` for editors and tsc, wherever the folder lives (engine/plugin-typecheck.ts).
          'tsconfig.json': pluginTsconfigText(),
        }),
  };
  // The template must give a config that passes the schema; fail here rather than in `check`.
  parsePluginConfig(files['config.yaml'] as string, 'config.yaml (template)');
  await mkdir(path.join(dir, 'plugin'), { recursive: true });
  for (const [rel, text] of Object.entries(files)) await writeFile(path.join(dir, rel), text, { flag: 'wx' });
  return { dir, code, category: t.category, action, actions: chosen, runtime, files: Object.keys(files).sort() };
}

interface Template {
  code: string;
  name: string;
  description: string;
  category: Category;
  action: string;
  runtime: Runtime;
  /** The action class's name. */
  cls: string;
}

type Kind = 'exporter' | 'uploader' | 'trainer' | 'action';

function kindOf(category: Category, action: string): Kind {
  if (category === 'export') return 'exporter';
  if (category === 'upload') return 'uploader';
  if (category === 'neural_net' && action === 'train') return 'trainer';
  return 'action';
}

/** The typed base of an action (`validation` -> ValidationAction) and its default method. */
function actionBase(action: string): { base: string; method: string } {
  const base = `${pascal(action)}Action`;
  const cls = (categoryActions as Record<string, unknown>)[base] as { method?: string } | undefined;
  if (!cls) throw new Error(`no typed base ${base} in sdk/category-actions.ts`);
  return { base, method: cls.method ?? 'job' };
}

function methodOf(t: Template): string {
  const kind = kindOf(t.category, t.action);
  if (kind !== 'action' || t.runtime === 'python') return 'job';
  if (isServed(t)) return 'restapi';
  return actionBase(t.action).method;
}

/**
 * The served actions: neural_net `deployment` and `gradio` are deployments (client/shapes/deployment.ts):
 * their class is a ServeAction (sdk/serve.ts) with method restapi, as docs/serving.md describes,
 * never the typed base's one-step `start`.
 */
function isServed(t: Pick<Template, 'category' | 'action' | 'runtime'>): boolean {
  return t.runtime === 'typescript' && t.category === 'neural_net' && (t.action === 'deployment' || t.action === 'gradio');
}

const pascal = (s: string) =>
  s
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')
    .replace(/^(\d)/, 'P$1');
const titleCase = (s: string) =>
  s
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');

// ----- templates --------------------------------------------------------------------------

function configYaml(all: Template[]): string {
  const t = all[0] as Template;
  return `code: ${t.code}
name: ${JSON.stringify(t.name)}
version: 0.1.0
category: ${t.category}
description: ${JSON.stringify(t.description)}
readme: README.md
${t.runtime === 'python' ? 'runtime: python\npackage_manager: pip\n' : ''}actions:
${all
  .map(
    (a) => `  ${a.action}:
    entrypoint: plugin.${a.action}.${a.cls}
    method: ${methodOf(a)}
${a.runtime === 'python' && a.action === 'train' ? pythonHyperparameters() : ''}${a.runtime === 'python' && isPythonTaskPageAction(a.category, a.action) ? pythonTaskPagesParams(a.action) : ''}`,
  )
  .join('')}`;
}

function packageJson(t: Template): string {
  return `${JSON.stringify({ name: t.code, private: true, type: 'module', description: 'Synapse plugin; its version is in config.yaml' }, null, 2)}\n`;
}

function readme(all: Template[]): string {
  const t = all[0] as Template;
  const runs = all.map(runLines).join('\n');
  const list = all.map((a) => `\`${a.action}\` (\`plugin/${a.action}.${a.runtime === 'python' ? 'py' : 'ts'}\`, class \`${a.cls}\`)`).join(', ');
  return `# ${t.name}

${t.description}

${capitalise(withArticle(t.category))} plugin with ${all.length === 1 ? 'one action' : `${all.length} actions`}: ${list}.

\`\`\`bash
synapse plugin check .
${runs}
synapse plugin publish .          # an immutable release ${t.code}@<version>; bump version in config.yaml for the next one
\`\`\`

See docs/plugins.md in the synapse project for what each file does.
`;
}

/** How to run one action, for the README. */
function runLines(t: Template): string {
  if (t.runtime === 'python' && isPythonTaskPageAction(t.category, t.action)) return pythonTaskPagesRunLine(t.action);
  const kind = kindOf(t.category, t.action);
  if (isServed(t)) return serveRunLines(t);
  const run =
    kind === 'action'
      ? `synapse plugin run ${t.action} '{"count": 5}' --plugin . --debug   # in this process, no Temporal
synapse plugin run ${t.action} '{"count": 5}' --plugin .           # durably, on a worker`
      : kind === 'exporter'
        ? `synapse plugin run export '{"name": "out", "storage": "default", "target": "ground_truth", "filter": {"ground_truth_dataset_version": 1}}' --plugin .`
        : kind === 'uploader'
          ? `synapse plugin run upload '{"name": "files", "path": "/data/in", "storage": "default", "data_collection": 1}' --plugin .   # see docs/upload.md for the params`
          : `synapse plugin run train '{"name": "my-model", "dataset": 1, "hyperparameters": {"epochs": 3}}' --plugin .`;
  return run;
}

function typescriptModule(t: Template): string {
  switch (kindOf(t.category, t.action)) {
    case 'exporter':
      return exporterTs(t);
    case 'uploader':
      return uploaderTs(t);
    case 'trainer':
      return trainerTs(t);
    default:
      return isServed(t) ? serveTs(t) : actionTs(t);
  }
}

/** How to serve a deployment or gradio action, for the README (docs/serving.md). */
function serveRunLines(t: Template): string {
  const demo = t.action === 'gradio' ? '\n# the demo page of a deployment: <gateway>/v1/deployments/<id>/demo' : '';
  return `synapse plugin run ${t.action} --plugin . --debug --port 8000   # served by this process on 127.0.0.1:8000, no Temporal; Ctrl-C stops it
curl -s -X POST http://127.0.0.1:8000/predict -H 'Content-Type: application/json' -d '{"text": "a good day"}'
synapse plugin run ${t.action} '{"replicas": 1}' --plugin . --detach   # durably: a deployment of replicas on workers; prints its id
synapse deployment predict <id> '{"text": "a good day"}'                 # through the gateway${demo}`;
}

function serveTs(t: Template): string {
  return `import { DeploymentParams, ServeAction, z, type ServeContext } from '@synapse/sdk';

/** The deployment's params: replicas, model (a registered model id), num_gpus from DeploymentParams, plus this action's own. */
const Params = DeploymentParams.extend({
  threshold: z.number().min(0).max(1).default(0.5),
});
type Params = z.output<typeof Params>;

/** A predict request's JSON body; a body that fails it is a 400 naming the field. */
const Input = z.strictObject({
  text: z.string().min(1).max(10_000).describe('the text to classify'),
});
type Input = z.output<typeof Input>;

/** What predict answers; every answer is checked with it (a failing one is a 500 naming the field). */
const Output = z.strictObject({
  label: z.enum(['positive', 'negative']),
  score: z.number().min(0).max(1),
});
type Output = z.output<typeof Output>;

/** The model: words that count for each label. A registered model (the param \`model\`) is a JSON file of this shape. */
const Model = z.strictObject({ positive: z.array(z.string()), negative: z.array(z.string()) });
type Model = z.output<typeof Model>;

/**
 * Served over HTTP (method restapi): \`load\` runs once per replica, then \`predict\` once per
 * request whose body passed \`input\` (possibly several at a time). Replace the word counts with a real model.
 */
export class ${t.cls} extends ServeAction<Input, Output, Params> {
  static override params = Params;
  static override input = Input;
  static override output = Output;
  private model: Model = { positive: [], negative: [] };
  private threshold = 0.5;

  async load(ctx: ServeContext<Params>): Promise<void> {
    // The registered model's file when the params name one (\`model\`); else a built-in one.
    const bytes = await ctx.modelBytes();
    this.model = bytes ? Model.parse(JSON.parse(bytes.toString('utf8'))) : { positive: ['good', 'great', 'fine'], negative: ['bad', 'poor', 'wrong'] };
    this.threshold = ctx.params.threshold;
    ctx.logMessage(\`loaded \${this.model.positive.length + this.model.negative.length} words\`);
  }

  async predict(input: Input): Promise<Output> {
    const words = input.text.toLowerCase().split(/\\W+/);
    const pos = words.filter((w) => this.model.positive.includes(w)).length;
    const neg = words.filter((w) => this.model.negative.includes(w)).length;
    const score = (pos + 1) / (pos + neg + 2); // the chance of positive, smoothed
    return { label: score >= this.threshold ? 'positive' : 'negative', score };
  }
}
`;
}

function actionTs(t: Template): string {
  const { base } = actionBase(t.action);
  return `import { ${base}, z, type RunContext } from '@synapse/sdk';

/** The params of \`${t.action}\`: checked before a run starts (bad params exit 2 and nothing runs). */
const Params = z.strictObject({
  count: z.number().int().min(0).max(1_000_000).default(10),
});
type Params = z.infer<typeof Params>;

export class ${t.cls} extends ${base}.withParams(Params) {
  static override progressCategories = { ${t.action}: { weight: 1, label: ${JSON.stringify(titleCase(t.action))} } };

  async start(ctx: RunContext<Params>) {
    ctx.logMessage(\`${t.action}: \${ctx.params.count} items\`);
    // Where a retried attempt picks up (the last checkpoint), or 0.
    let done = ctx.resumeState<number>() ?? 0;
    for (; done < ctx.params.count; done++) {
      if (ctx.signal.aborted) break; // cancelled: stop cleanly
      // ... the work for one item ...
      ctx.setProgress(done + 1, ctx.params.count, '${t.action}');
      if ((done + 1) % 100 === 0) await ctx.checkpoint(done + 1);
    }
    ctx.setMetrics({ processed: done }, '${t.action}');
    return { processed: done };
  }
}
`;
}

function exporterTs(t: Template): string {
  return `import { BaseExporter, z, type ExportItem } from '@synapse/sdk';

/** This exporter's \`extra_params\`; the seed's export params (name, storage, target, filter, ...) come from BaseExporter. */
const Extra = z.strictObject({
  include_meta: z.boolean().default(true),
});

/**
 * The export workflow fetches items a page at a time and calls, per item, beforeConvert ->
 * convertData -> afterConvert -> saveAsJson (json/<stem>.json); override what you need.
 */
export class ${t.cls} extends BaseExporter.withExtraParams(Extra) {
  override convertData(item: ExportItem) {
    return {
      id: item.id,
      data_unit: item.dataUnit.uniqueKey,
      ...(this.params.extra_params.include_meta ? { meta: item.dataUnit.meta } : {}),
      annotations: item.data,
    };
  }
}
`;
}

function uploaderTs(t: Template): string {
  return `import { BaseUploader, z, type UploadUnit } from '@synapse/sdk';

/** This uploader's \`extra_params\`; the seed's upload params (path, storage, data_collection, ...) come from BaseUploader. */
const Extra = z.strictObject({
  source: z.string().default('${t.code}'),
});

/**
 * The upload workflow discovers files, groups them into data units (organizeFiles), runs
 * beforeProcess -> processFiles -> afterProcess -> validateFiles, then uploads in batches.
 */
export class ${t.cls} extends BaseUploader.withExtraParams(Extra) {
  override processFiles(units: UploadUnit[]): UploadUnit[] {
    this.ctx.logMessage(\`tagging \${units.length} data units with source \${this.params.extra_params.source}\`);
    return units.map((u) => ({ ...u, meta: { ...u.meta, source: this.params.extra_params.source } }));
  }
}
`;
}

function trainerTs(t: Template): string {
  return `import { BaseHyperparameters, TrainAction, z, type EpochState, type StepContext, type TrainContext, type TrainDataset, type TrainParams } from '@synapse/sdk';

/** Hyperparameters: BaseHyperparameters (epochs, seed) plus this trainer's own. */
const Hyper = BaseHyperparameters.extend({
  smoothing: z.number().min(0).max(10).default(1),
});
type Hyper = z.infer<typeof Hyper>;

/** The model: label counts (predicts the most frequent class). Replace with a real one. */
interface Model {
  counts: Record<string, number>;
}

/**
 * The train workflow downloads the dataset, calls trainEpoch once per epoch (checkpointing
 * the model with save/load in between), evaluates, and registers the model.
 */
export class ${t.cls} extends TrainAction.withHyperparameters(Hyper)<Model> {
  createModel(): Model {
    return { counts: {} };
  }

  async trainEpoch(ctx: TrainContext<TrainParams<Hyper>>, state: EpochState<Model, Hyper>) {
    const items = state.dataset.items.filter((i) => i.split === 'train' && i.label !== null);
    const counts: Record<string, number> = {};
    for (const [i, item] of items.entries()) {
      if (ctx.signal.aborted) break;
      counts[item.label!] = (counts[item.label!] ?? 0) + 1;
      ctx.setProgress(i + 1, items.length); // category \`epoch\`: steps of this epoch
    }
    state.model = { counts };
    ctx.logMessage(\`epoch \${state.epoch}/\${state.epochs}: \${items.length} items\`);
    return { items: items.length };
  }

  async evaluate(_ctx: StepContext, model: Model, dataset: TrainDataset, split: string) {
    const items = dataset.items.filter((i) => i.split === split && i.label !== null);
    const best = Object.entries(model.counts).sort((a, b) => b[1] - a[1])[0]?.[0];
    const correct = items.filter((i) => i.label === best).length;
    return { accuracy: items.length ? correct / items.length : 0 };
  }

  save(model: Model): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(model));
  }

  load(bytes: Uint8Array): Model {
    return JSON.parse(new TextDecoder().decode(bytes)) as Model;
  }
}
`;
}

/** A Python trainer's hyperparameters in config.yaml: JSON Schema, checked before a run starts. */
function pythonHyperparameters(): string {
  return `    # JSON Schema of hyperparameters: unknown keys and bad values are refused before a run
    # starts. \`epochs\` (default 10) and \`seed\` (default 1) come with every trainer.
    hyperparameters:
      type: object
      properties:
        smoothing: { type: number, minimum: 0, maximum: 10, default: 1 }
`;
}

function pythonTrainer(t: Template): string {
  return `"""${t.name}: a trainer run by the engine's Python runtime (runtimes/python/synapse_runtime.py).

The engine calls create_model once, train_epoch once per epoch (checkpointing the model with
save/load in between), then evaluate. The model here counts labels and predicts the most
frequent class; replace it with a real one (list its packages in requirements.txt).
"""

import json

from synapse_runtime import Trainer


class ${t.cls}(Trainer):
    def create_model(self, ctx, dataset):
        return {"counts": {}}

    def train_epoch(self, ctx, state):
        items = [i for i in state.dataset.split("train") if i["label"] is not None]
        counts = {}
        for n, item in enumerate(items):
            ctx.check_cancelled()
            counts[item["label"]] = counts.get(item["label"], 0) + 1
            ctx.set_progress(n + 1, len(items))  # category "epoch": steps of this epoch
        state.model = {"counts": counts}
        ctx.log_message(f"epoch {state.epoch}/{state.epochs}: {len(items)} items")
        return {"items": len(items)}

    def evaluate(self, ctx, model, dataset, split):
        items = [i for i in dataset.split(split) if i["label"] is not None]
        best = max(model["counts"], key=model["counts"].get) if model["counts"] else None
        correct = sum(1 for i in items if i["label"] == best)
        return {"accuracy": correct / len(items) if items else 0.0}

    def save(self, model, path):
        with open(path, "w") as f:
            json.dump(model, f)

    def load(self, path, dataset):
        with open(path) as f:
            return json.load(f)
`;
}
