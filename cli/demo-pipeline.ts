/**
 * `synapse demo --pipeline` (README "The annotation pipeline"): the annotation categories end
 * to end on the embedded defaults, each step a real run of a built-in plugin (durable, in the
 * Web UI), in the order an annotation platform works:
 *
 *  1. upload images, 60% of them with an annotation file (the platform's JSON)  upload-files
 *  2. a task per data unit                                                       create-tasks
 *  3. the annotation files into their tasks (method file)                        to-task
 *  4. check the imported annotations                                             validate-annotations
 *  5. merge them into a ground-truth version ("imported")                        merge-annotations
 *  6. train a first model on it and deploy it                                    train-image-classifier
 *  7. auto_label the rest of the tasks through the deployed model: the
 *     auto-label deployment's suggestions, accepted as those tasks' annotations  auto-label
 *  8. merge every task into ground-truth version "all"                           merge-annotations
 *  9. export it to COCO                                                          export-coco
 * 10. train the final model on it                                                train-image-classifier
 *
 * Why it exists: each step is tested alone; this shows them composing on one project, and
 * prints each step's time so its cost is known.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runUiUrl, type Settings } from '../client/settings.js';
import type { TrainResult } from '../contracts/train.js';

/** Share of the uploaded images that come with an annotation file. */
const ANNOTATED_SHARE = 0.6;
/** How long a replica may take to start (Python process, torch import, model load). */
const READY_TIMEOUT_MS = 120_000;

export interface PipelineOptions {
  /** Images uploaded (the model trains on them). */
  count: number;
  /** Epochs of each of the two trainings (batch 16, width 16: what deployment-python.test.ts found learns the shapes). */
  epochs: number;
  terminal: boolean;
  say: (line: string) => void;
}

/** Runs the pipeline with a worker in this process; 0 when every step completed, else the failing step's exit code. */
export async function runPipelineDemo(settings: Settings, options: PipelineOptions): Promise<number> {
  const { count, epochs, terminal, say } = options;
  const [{ openDatabase }, repos, { sampleItem, renderItem, COLORS }, { startWorker }, { RunsClient }, { followToEnd }, { Deployments }] = await Promise.all([
    import('../platform/db.js'),
    import('../platform/repositories/index.js'),
    import('../platform/generate.js'),
    import('../workers/worker.js'),
    import('../client/runs.js'),
    import('./follow.js'),
    import('../client/deployments.js'),
  ]);
  const started = Date.now();
  const tag = Date.now().toString(36);
  const name = `pipeline-${tag}`;
  const timings: [string, number][] = [];

  // The files a person would upload: image/<key>.png for every item, annotation/<key>.json for the first 60%.
  const folder = mkdtempSync(path.join(os.tmpdir(), 'synapse-pipeline-'));
  mkdirSync(path.join(folder, 'image'));
  mkdirSync(path.join(folder, 'annotation'));
  const items = Array.from({ length: count }, (_, i) => sampleItem(7, i, name));
  const annotated = new Set(items.slice(0, Math.round(count * ANNOTATED_SHARE)).map((i) => i.uniqueKey));
  const truth = new Map(items.map((i) => [i.uniqueKey, i.className]));
  for (const item of items) {
    writeFileSync(path.join(folder, 'image', `${item.uniqueKey}.png`), renderItem(item));
    if (annotated.has(item.uniqueKey)) writeFileSync(path.join(folder, 'annotation', `${item.uniqueKey}.json`), JSON.stringify(item.annotations));
  }

  const platform = await openDatabase({ dataDir: settings.dataDir });
  const worker = await startWorker({ settings, log: () => {} });
  const runs = await RunsClient.connect(settings);
  const deployments = new Deployments(runs);
  const live: string[] = [];
  try {
    await repos.ensureDefaultStorage(platform.db);
    const collection = await repos.createDataCollection(platform.db, {
      name,
      files: [
        { name: 'image', required: true, extensions: ['.png'] },
        { name: 'annotation', required: false, extensions: ['.json'] },
      ],
    });
    const project = await repos.createProject(platform.db, {
      name,
      collection: collection.id,
      configuration: {
        data_type: 'image',
        classes: ['circle', 'square', 'triangle'].map((c) => ({
          name: c,
          type: 'bbox' as const,
          attributes: [{ name: 'color', type: 'select' as const, options: [...COLORS], required: false }],
        })),
      },
    });
    say(`project "${name}": ${count} images in ${folder}, ${annotated.size} with an annotation file`);

    /** One step: a run of a built-in plugin, followed to its end; its final state. */
    const step = async (title: string, plugin: string, action: string, params: unknown) => {
      say(`\n== ${plugin}: ${title}`);
      const at = Date.now();
      const { runId } = await runs.start({ plugin, action, params });
      say(`run ${runId} started`);
      const code = await followToEnd(runs, runId, { terminal });
      if (!terminal) say(`Web UI: ${runUiUrl(settings, runId) ?? '(not known for this server)'}`);
      timings.push([`${plugin} ${action}`, Date.now() - at]);
      if (code !== 0) throw Object.assign(new Error(`${plugin} ${action} ended with exit code ${code}`), { exitCode: code });
      return runs.state(runId);
    };
    /** Starts a deployment and waits until a replica is ready; its id. */
    const deploy = async (plugin: string, action: string, params: unknown): Promise<string> => {
      const at = Date.now();
      const { runId } = await runs.start({ plugin, action, params });
      live.push(runId);
      for (;;) {
        const status = await deployments.status(runId);
        if (status.ready > 0) break;
        if ((status.status !== 'pending' && status.status !== 'running') || Date.now() - at > READY_TIMEOUT_MS)
          throw new Error(`deployment ${runId} did not become ready: ${status.status}${status.error ? `: ${status.error}` : ''}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      timings.push([`deploy ${plugin} ${action}`, Date.now() - at]);
      say(`deployment ${runId} ready (synapse deployment status ${runId})`);
      return runId;
    };

    await step('upload the images and their annotation files', 'upload-files', 'upload', {
      name,
      path: folder,
      storage: 'default',
      data_collection: collection.id,
    });
    await step('a task per data unit', 'create-tasks', 'pre_annotation', { project: project.id });
    const tasks = await repos.listTasks(platform.db, { projectId: project.id });
    const withFile = tasks.filter((t) => t.dataUnit.files.annotation !== undefined).map((t) => t.id);
    const rest = tasks.filter((t) => t.dataUnit.files.annotation === undefined);
    await step(`import the annotation files of ${withFile.length} tasks (method file)`, 'to-task', 'to_task', {
      project: project.id,
      method: 'file',
      target_specification_name: 'annotation',
      task_filters: { id__in: withFile },
    });
    await step('check the imported annotations', 'validate-annotations', 'validation', { project: project.id, task_filters: { id__in: withFile } });
    const imported = await step('merge them into ground-truth version "imported"', 'merge-annotations', 'post_annotation', {
      project: project.id,
      dataset: name,
      version: 'imported',
      task_filters: { id__in: withFile },
    });
    const importedVersion = (imported.result as { ground_truth_version: number }).ground_truth_version;
    const first = await step(`train a first model on it (${epochs} epochs)`, 'train-image-classifier', 'train', {
      name: `${name}-first`,
      dataset: importedVersion,
      hyperparameters: { epochs, seed: 2, batch_size: 16, width: 16 },
    });
    const model = (first.result as TrainResult).model.id;

    say(`\n== auto-label: suggestions for the other ${rest.length} tasks from the deployed model`);
    const modelDeployment = await deploy('train-image-classifier', 'deployment', { replicas: 1, model });
    const autoLabel = await deploy('auto-label', 'auto_label', { model_deployment: modelDeployment, project: project.id, confidence_threshold: 0.5 });
    const at = Date.now();
    let right = 0;
    let none = 0;
    for (const task of rest) {
      const answer = await deployments.predict(autoLabel, { task: task.id });
      if (answer.status !== 200) throw new Error(`auto_label of task ${task.id} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      const { suggestions } = answer.body as { suggestions: { class_name: string }[] };
      if (suggestions.length === 0) {
        none++;
        continue; // left for a person: nothing over the threshold
      }
      // The upload names units <upload name>/<file stem>.
      if (suggestions[0]!.class_name === truth.get(task.dataUnit.uniqueKey.split('/').pop() ?? '')) right++;
      // Accepted as the task's annotations, as a person in the annotation tool would.
      await repos.upsertAssignments(platform.db, project.id, [
        { taskId: task.id, annotator: 'plugin:auto-label', status: 'completed', annotations: { data_type: 'image', annotations: suggestions } },
      ]);
    }
    const ms = Date.now() - at;
    timings.push([`auto_label ${rest.length} tasks`, ms]);
    say(
      `${rest.length} tasks auto-labelled in ${(ms / 1000).toFixed(1)} s (${(ms / Math.max(1, rest.length)).toFixed(1)} ms each): ` +
        `${right} suggested the true shape, ${none} had no suggestion over the threshold (left unannotated)`,
    );
    for (const id of live.splice(0).reverse()) await deployments.stop(id);
    say('both deployments stopped');

    const all = await step('merge every task into ground-truth version "all"', 'merge-annotations', 'post_annotation', {
      project: project.id,
      dataset: name,
      version: 'all',
    });
    const allVersion = (all.result as { ground_truth_version: number }).ground_truth_version;
    await step('export it to COCO', 'export-coco', 'export', {
      name: `${name}-coco`,
      storage: 'default',
      target: 'ground_truth',
      filter: { ground_truth_dataset_version: allVersion },
      path: 'exports',
    });
    await step(`train the final model on every task (${epochs} epochs)`, 'train-image-classifier', 'train', {
      name: `${name}-final`,
      dataset: allVersion,
      hyperparameters: { epochs, seed: 2, batch_size: 16, width: 16 },
    });
    say(`\nThe pipeline took ${((Date.now() - started) / 1000).toFixed(0)} s:`);
    for (const [what, took] of timings) say(`  ${(took / 1000).toFixed(1).padStart(7)} s  ${what}`);
    say(`The COCO export is under ${path.join(settings.dataDir, 'storage', 'default', 'exports', `${name}-coco`)}/.`);
    return 0;
  } catch (err) {
    say(`the pipeline stopped: ${err instanceof Error ? err.message : String(err)}`);
    return (err as { exitCode?: number }).exitCode ?? 1;
  } finally {
    for (const id of live) await deployments.stop(id).catch(() => {});
    await deployments.close();
    await runs.close();
    await worker.stop().catch(() => {});
    await platform.close();
    rmSync(folder, { recursive: true, force: true });
  }
}
