/**
 * `server start-dev` on a port another Temporal holds (issue 17, problem 5): it says why and
 * exits non-zero (5), writes no dev-server info for its data dir (so `server stop` cannot
 * "stop" the other server), and never reports that server as its own.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { devServerInfoFile } from '../../client/settings.js';
import { runCli, testSettings } from '../helpers.js';

describe('server start-dev on a taken port', () => {
  it('says another Temporal server answers there and exits 5', async () => {
    const taken = Number(inject('temporalAddress').split(':').at(-1));
    const settings = testSettings('dev-port');
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'synapse-dev-port-'));
    // TEMPORAL_ADDRESS unset: the CLI would start its own embedded server.
    const env = { TEMPORAL_ADDRESS: '', SYNAPSE_DATA_DIR: dataDir };
    const result = await runCli(['server', 'start-dev', '--port', String(taken), '--headless', '--detach'], settings, env);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toContain(`port ${taken} is in use (another Temporal server answers there)`);
    expect(result.stderr).toContain('--port');
    expect(result.stderr).not.toContain('ready');
    expect(existsSync(devServerInfoFile(dataDir))).toBe(false);
  }, 60_000);
});
