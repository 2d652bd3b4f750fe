/**
 * The cluster's written config (workers/cluster.ts): what each of the four service processes
 * reads. The cluster itself is exercised for real by test/production/.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InvalidInputError } from '../../contracts/errors.js';
import { CLUSTER_SERVICES, DYNAMIC_CONFIG_YAML, parseDatabaseUrl, serverConfigYaml } from '../../workers/cluster.js';
import { parseWorkerDeployment } from '../../workers/versioning.js';

const ports = {
  frontend: { grpc: 7233, membership: 6933 },
  history: { grpc: 7234, membership: 6934 },
  matching: { grpc: 7235, membership: 6935 },
  worker: { grpc: 7239, membership: 6939 },
};

describe('the cluster config', () => {
  it('puts both stores on the PostgreSQL given, each service on its own loopback ports', () => {
    const db = parseDatabaseUrl('postgres://temporal:s3cr%3At@db.internal:6543/ignored');
    expect(db).toEqual({ host: 'db.internal', port: 6543, user: 'temporal', password: 's3cr:t' });
    const config = parse(serverConfigYaml({ ports, db, dir: '/srv/cluster' })) as {
      persistence: { numHistoryShards: number; datastores: Record<string, { sql: Record<string, unknown> }> };
      services: Record<string, { rpc: Record<string, unknown> }>;
      clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
      dynamicConfigClient: { filepath: string };
    };
    expect(config.persistence.datastores['postgres-default']!.sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal',
      connectAddr: 'db.internal:6543',
      user: 'temporal',
      password: 's3cr:t',
    });
    expect(config.persistence.datastores['postgres-visibility']!.sql).toMatchObject({ databaseName: 'temporal_visibility' });
    expect(Object.keys(config.services).sort()).toEqual([...CLUSTER_SERVICES].sort());
    expect(config.services.history!.rpc).toEqual({ grpcPort: 7234, membershipPort: 6934, bindOnIP: '127.0.0.1' });
    expect(config.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7233');
    expect(config.dynamicConfigClient.filepath).toBe('/srv/cluster/config/dynamicconfig.yaml');
  });

  it('turns worker deployment versions on in the dynamic config', () => {
    const dynamic = parse(DYNAMIC_CONFIG_YAML) as Record<string, { value: unknown }[]>;
    expect(dynamic['system.enableDeploymentVersions']).toEqual([{ value: true }]);
    expect(dynamic['frontend.workerVersioningWorkflowAPIs']).toEqual([{ value: true }]);
  });

  it('refuses a database URL that is not postgres://, naming the option', () => {
    for (const bad of ['not a url', 'mysql://u@h:3306/x']) {
      const err = (() => {
        try {
          parseDatabaseUrl(bad);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).problems.map((p) => p.path)).toEqual(['database-url']);
    }
  });
});

describe('worker deployment options', () => {
  it('accepts a name and build id, refuses a dotted name or an empty build id, naming the option', () => {
    expect(parseWorkerDeployment({ name: 'synapse', buildId: 'v1.2.3' })).toEqual({ name: 'synapse', buildId: 'v1.2.3' });
    expect(() => parseWorkerDeployment({ name: 'a.b' })).toThrow(InvalidInputError);
    const err = (() => {
      try {
        parseWorkerDeployment({ name: 'ok', buildId: '' });
      } catch (e) {
        return e as InvalidInputError;
      }
    })();
    expect(err?.problems.map((p) => p.path)).toEqual(['build-id']);
  });
});
