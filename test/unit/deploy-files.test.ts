/**
 * docker-compose.yml and the Dockerfile pass their validators (issue 16 item 6), with no Docker
 * engine: tools/deploy-check loads the compose file with compose-go (the compose-spec JSON
 * schema, interpolation, consistency) and lints the Dockerfile with BuildKit's parser and
 * linter (the rules of `docker build --check`), plus this project's rules (pinned images, no auto-setup, healthchecks behind
 * service_healthy, no literal secrets; multi-stage, non-root, HEALTHCHECK). The bad examples
 * show each rule fires, so a validator that accepts anything fails here.
 * The tool is built from tools/deploy-check with Go (scripts/setup.sh fetches its modules).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

let bin = '';

function check(args: string[]): { code: number; out: string } {
  const r = spawnSync(bin, args, { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-check-'));
  bin = path.join(dir, 'deploy-check');
  try {
    execFileSync('go', ['-C', path.join(ROOT, 'tools', 'deploy-check'), 'build', '-o', bin, '.'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`cannot build tools/deploy-check (needs Go; run scripts/setup.sh): ${(err as { stderr?: Buffer }).stderr?.toString() ?? String(err)}`);
  }
}, 300_000);

describe('the deployment files', () => {
  it('docker-compose.yml is valid against the compose spec and the project rules, with the example env file', () => {
    const r = check(['-env-file', 'deploy/synapse.env.example', '-compose', 'docker-compose.yml']);
    expect(r.out).toBe('deploy-check: ok\n');
    expect(r.code).toBe(0);
  });

  it('docker-compose.yml without an env file names each missing secret', () => {
    const r = check(['-compose', 'docker-compose.yml']);
    expect(r.code).toBe(1);
    for (const v of ['TEMPORAL_DB_PASSWORD', 'PLATFORM_DB_PASSWORD', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']) {
      expect(r.out).toContain(`required variable ${v} is missing a value: set ${v} in deploy/synapse.env`);
    }
  });

  it('the Dockerfile passes BuildKit lint and the project rules', () => {
    const r = check(['-dockerfile', 'Dockerfile']);
    expect(r.out).toBe('deploy-check: ok\n');
    expect(r.code).toBe(0);
  });

  it('a bad compose file fails each rule, naming the service', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-bad-'));
    const file = path.join(dir, 'compose.yml');
    writeFileSync(
      file,
      [
        'services:',
        '  temporal:',
        '    image: temporalio/auto-setup:1.29.1',
        '    environment:',
        '      POSTGRES_PWD: temporal',
        '    depends_on:',
        '      db:',
        '        condition: service_healthy',
        '  db:',
        '    image: postgres',
        '',
      ].join('\n'),
    );
    const r = check(['-compose', file]);
    expect(r.code).toBe(1);
    expect(r.out.trim().split('\n')).toEqual([
      `${file}: service db: image "postgres" is not pinned to a tag or digest`,
      `${file}: service temporal waits for db to be healthy, but db has no healthcheck`,
      `${file}: service temporal: POSTGRES_PWD is written in the file: take it from an env file (\${POSTGRES_PWD})`,
      `${file}: service temporal: temporalio/auto-setup is deprecated: run temporalio/server with a one-shot schema job (temporalio/admin-tools)`,
    ]);
    // A key the compose spec does not have: the JSON schema rejects it.
    writeFileSync(file, 'services:\n  db:\n    image: postgres:16.10\n    restart_policy: always\n');
    const schema = check(['-compose', file]);
    expect(schema.code).toBe(1);
    expect(schema.out).toMatch(/services\.db.*restart_policy/);
  });

  it('a bad Dockerfile fails BuildKit lint and each project rule, with line numbers', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'deploy-bad-'));
    const file = path.join(dir, 'Dockerfile');
    writeFileSync(file, 'FROM node:latest as build\nRUN echo hi\nfrom node:20.19.5-bookworm-slim\nCMD node server.js\n');
    const r = check(['-dockerfile', file]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${file}:1: base image "node:latest" is not pinned to a tag or digest`);
    expect(r.out).toContain(`${file}:1: FromAsCasing:`);
    expect(r.out).toContain(`${file}:3: ConsistentInstructionCasing:`);
    expect(r.out).toContain(`${file}:4: JSONArgsRecommended:`);
    expect(r.out).toContain(`${file}:3: the final stage runs as root: add a USER that is not root`);
    expect(r.out).toContain(`${file}:3: the final stage has no HEALTHCHECK`);
  });
});
