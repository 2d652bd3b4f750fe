/**
 * /v1 platform resources, what `synapse collection | project | gt-version | model | release`
 * show: data collections (list, read, create with file specifications), projects (list,
 * read, create), ground-truth datasets (with their versions, linked) and versions, models
 * (and their file), and published releases.
 * Reads need the scope runs:read, creates runs:write (the gateway's two scopes). Bodies and
 * queries are checked with gateway/resource-schemas.ts, then by the repositories; every
 * problem comes back as a 400 naming its field, an unknown id or name as a 404.
 */
import { Router, type Response } from 'express';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import { InvalidInputError, NotFoundError } from '../../contracts/errors.js';
import { openModelFile } from '../../engine/run-artifacts.js';
import * as repo from '../../platform/repositories/index.js';
import { requireScope } from '../auth.js';
import type { PlatformHandle } from '../platform-handle.js';
import { publishHandlers, type PublishRouterOptions } from './publish.js';
import { zodIssues } from '../problem.js';
import { CreateCollectionBody, CreateProjectBody, IdParam, ModelsQuery, RefParam, ReleasesQuery, VersionsQuery } from '../resource-schemas.js';

/** Parses `value` with `schema` or throws a 400 listing every problem (paths prefixed with `prefix`). */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, subject: string, prefix = ''): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidInputError(subject, zodIssues(parsed.error, prefix));
}

/**
 * Sends a stored file: Content-Length, a download file name, the bytes. A storage error
 * after the headers went out can only cut the response (the client sees a short body).
 */
export async function sendFile(res: Response, file: { fileName: string; size: number; body: Readable; close(): Promise<void> }): Promise<void> {
  try {
    res.status(200).set({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(file.size),
      'Content-Disposition': `attachment; filename="${file.fileName.replace(/["\\\r\n]/g, '_')}"`,
    });
    await pipeline(file.body, res).catch((err: unknown) => {
      if (!res.headersSent) throw err;
      res.destroy();
    });
  } finally {
    await file.close();
  }
}

export function resourcesRouter({ platform, publish }: { platform: PlatformHandle; publish?: PublishRouterOptions }): Router {
  const router = Router();
  const read = requireScope('runs:read');
  const write = requireScope('runs:write');

  router.get('/collections', read, async (_req, res) => {
    res.json({ collections: await repo.listDataCollectionSummaries(await platform.db()) });
  });
  router.get('/collections/:ref', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid collection', 'collection');
    res.json(await repo.dataCollectionSummary(await platform.db(), ref));
  });
  router.post('/collections', write, async (req, res) => {
    const body = parseOr400(CreateCollectionBody, req.body ?? {}, 'invalid request body');
    const db = await platform.db();
    // 201 when made now; 200 when the same collection existed (creating is idempotent); 409 when the name holds another.
    const { value: created, existed } = await repo.createNamed(
      () => repo.getDataCollection(db, body.name),
      () =>
        repo.createDataCollection(db, {
          name: body.name,
          files: body.files.map((f) => ({
            name: f.name,
            ...(f.required !== undefined ? { required: f.required } : {}),
            ...(f.extensions ? { extensions: f.extensions } : {}),
          })),
          ...(body.description !== undefined ? { description: body.description } : {}),
        }),
    );
    res
      .status(existed ? 200 : 201)
      .location(`/v1/collections/${created.id}`)
      .json(await repo.dataCollectionSummary(db, created.id));
  });

  router.get('/projects', read, async (_req, res) => {
    res.json({ projects: await repo.listProjectSummaries(await platform.db()) });
  });
  router.get('/projects/:ref', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid project', 'project');
    res.json(await repo.projectSummary(await platform.db(), ref));
  });
  router.post('/projects', write, async (req, res) => {
    const body = parseOr400(CreateProjectBody, req.body ?? {}, 'invalid request body');
    const db = await platform.db();
    const { value: created, existed } = await repo.createNamed(
      () => repo.getProject(db, body.name),
      () => repo.createProject(db, body),
    );
    res
      .status(existed ? 200 : 201)
      .location(`/v1/projects/${created.id}`)
      .json(await repo.projectSummary(db, created.id));
  });

  // Datasets, each linking its versions (GET /v1/ground-truth-versions?dataset=<id>: with their data unit counts).
  const datasetView = (d: repo.GroundTruthDatasetSummary) => ({
    ...d,
    links: { self: `/v1/ground-truth-datasets/${d.id}`, versions: `/v1/ground-truth-versions?dataset=${d.id}` },
  });
  router.get('/ground-truth-datasets', read, async (_req, res) => {
    res.json({ datasets: (await repo.listGroundTruthDatasetSummaries(await platform.db())).map(datasetView) });
  });
  router.get('/ground-truth-datasets/:ref', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid dataset', 'dataset');
    const [dataset] = await repo.listGroundTruthDatasetSummaries(await platform.db(), ref);
    res.json(datasetView(dataset as repo.GroundTruthDatasetSummary));
  });

  router.get('/ground-truth-versions', read, async (req, res) => {
    const q = parseOr400(VersionsQuery, req.query, 'invalid query');
    res.json({ versions: await repo.listGroundTruthVersionSummaries(await platform.db(), q.dataset !== undefined ? { dataset: q.dataset } : {}) });
  });
  router.get('/ground-truth-versions/:id', read, async (req, res) => {
    const id = parseOr400(IdParam, req.params.id, 'invalid version id', 'id');
    res.json(await repo.groundTruthVersionSummary(await platform.db(), Number(id)));
  });

  router.get('/models', read, async (req, res) => {
    const q = parseOr400(ModelsQuery, req.query, 'invalid query');
    res.json({ models: await repo.listModels(await platform.db(), q.plugin ? { pluginCode: q.plugin } : {}) });
  });
  router.get('/models/:ref', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid model', 'model');
    res.json(await repo.findModel(await platform.db(), ref));
  });
  router.get('/models/:ref/file', read, async (req, res) => {
    const ref = parseOr400(RefParam, req.params.ref, 'invalid model', 'model');
    const db = await platform.db();
    await sendFile(res, await openModelFile({ db, dataDir: platform.dataDir }, await repo.findModel(db, ref)));
  });

  router.get('/releases', read, async (req, res) => {
    const q = parseOr400(ReleasesQuery, req.query, 'invalid query');
    const list = await repo.listPluginReleases(await platform.db(), q.code);
    res.json({ releases: list.sort((a, b) => a.code.localeCompare(b.code) || repo.compareVersions(b.version, a.version)) });
  });
  // Publishing a .tar.gz (gateway/routes/publish.ts): scope plugins:publish.
  router.post('/releases', ...publishHandlers(publish ?? { platform }));
  router.get('/releases/:code/:version', read, async (req, res) => {
    const code = parseOr400(RefParam, req.params.code, 'invalid release', 'code');
    const version = parseOr400(RefParam, req.params.version, 'invalid release', 'version');
    const db = await platform.db();
    if (version === 'newest') {
      const newest = await repo.newestPluginRelease(db, code);
      if (!newest) throw new NotFoundError(`plugin ${code} has no published release`);
      return void res.json(newest);
    }
    res.json(await repo.getPluginRelease(db, code, version));
  });

  return router;
}
