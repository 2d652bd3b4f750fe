/**
 * Deployment replicas in the platform database (table deployment_replicas, migration 005).
 * The serve activity hosting a replica `registerReplica`s it (an upsert: a replica restarted
 * on another worker replaces its row), `touchReplica`s it every few seconds with its load,
 * and `removeReplica`s it when it stops; a replica whose model failed to load stays as
 * `failed` with the reason. Readers (gateway, CLI) see rows older than a staleness bound as
 * not ready: a worker killed without deregistering leaves a row that goes stale.
 */
import { z } from 'zod';
import { REPLICA_STATUSES, type ReplicaStatus } from '../../contracts/deployment.js';
import { now, parseInput, type Db } from './common.js';

export interface Replica {
  deploymentId: string;
  replica: number;
  status: ReplicaStatus;
  address: string | null;
  worker: string;
  attempt: number;
  inFlight: number;
  served: number;
  error: string | null;
  startedAt: string;
  updatedAt: string;
}

const Register = z.strictObject({
  deploymentId: z.string().min(1).max(200),
  replica: z.number().int().min(0),
  status: z.enum(REPLICA_STATUSES),
  address: z.string().url().nullable(),
  worker: z.string().min(1).max(300),
  attempt: z.number().int().min(1),
  error: z.string().max(4000).nullable().default(null),
});

/** Writes (or replaces) a replica's row: status, address, worker, attempt; load reset to 0. */
export async function registerReplica(db: Db, input: z.input<typeof Register>): Promise<void> {
  const r = parseInput(Register, input, `invalid replica of deployment ${input.deploymentId}`);
  const at = now();
  const row = {
    deployment_id: r.deploymentId,
    replica: r.replica,
    status: r.status,
    address: r.address,
    worker: r.worker,
    attempt: r.attempt,
    in_flight: 0,
    served: 0,
    error: r.error,
    started_at: at,
    updated_at: at,
  };
  await db
    .insertInto('deployment_replicas')
    .values(row)
    .onConflict((oc) =>
      oc.columns(['deployment_id', 'replica']).doUpdateSet({
        status: row.status,
        address: row.address,
        worker: row.worker,
        attempt: row.attempt,
        in_flight: 0,
        served: 0,
        error: row.error,
        started_at: at,
        updated_at: at,
      }),
    )
    .execute();
}

/** Refreshes a replica's load and `updated_at` (its sign of life), and its status when given. */
export async function touchReplica(
  db: Db,
  deploymentId: string,
  replica: number,
  load: { inFlight: number; served: number; status?: ReplicaStatus },
): Promise<void> {
  await db
    .updateTable('deployment_replicas')
    .set({ in_flight: load.inFlight, served: load.served, updated_at: now(), ...(load.status ? { status: load.status } : {}) })
    .where('deployment_id', '=', deploymentId)
    .where('replica', '=', replica)
    .execute();
}

/** Removes a replica's row (it stopped), only when `worker` still owns it (a newer attempt elsewhere keeps its row). */
export async function removeReplica(db: Db, deploymentId: string, replica: number, worker: string): Promise<void> {
  await db.deleteFrom('deployment_replicas').where('deployment_id', '=', deploymentId).where('replica', '=', replica).where('worker', '=', worker).execute();
}

/** Removes every row of a deployment (it ended). */
export async function removeDeployment(db: Db, deploymentId: string): Promise<void> {
  await db.deleteFrom('deployment_replicas').where('deployment_id', '=', deploymentId).execute();
}

/** A deployment's replicas, by slot. */
export async function listReplicas(db: Db, deploymentId: string): Promise<Replica[]> {
  const rows = await db.selectFrom('deployment_replicas').selectAll().where('deployment_id', '=', deploymentId).orderBy('replica').execute();
  return rows.map((r) => ({
    deploymentId: r.deployment_id,
    replica: Number(r.replica),
    status: r.status as ReplicaStatus,
    address: r.address,
    worker: r.worker,
    attempt: Number(r.attempt),
    inFlight: Number(r.in_flight),
    served: Number(r.served),
    error: r.error,
    startedAt: r.started_at,
    updatedAt: r.updated_at,
  }));
}

/** Ids of deployments with rows, newest replica start first. */
export async function listDeploymentIds(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('deployment_replicas').select('deployment_id').groupBy('deployment_id').execute();
  return rows.map((r) => r.deployment_id);
}

/** Ready and refreshed within `staleMs`: what the gateway may route to. */
export function isServing(r: Replica, staleMs: number, at = Date.now()): boolean {
  return r.status === 'ready' && r.address !== null && at - Date.parse(r.updatedAt) <= staleMs;
}
