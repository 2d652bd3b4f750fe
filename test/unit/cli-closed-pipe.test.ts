/**
 * `synapse ... | head` (issue 17, problem 8): when the reader of stdout has gone before the
 * CLI writes, it exits 0 quietly instead of crashing with an EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SYNAPSE_BIN } from '../helpers.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'synapse-pipe-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('a closed stdout', () => {
  it('`platform stats` into a reader that has gone: exit 0, no EPIPE on stderr', async () => {
    const child = spawn(process.execPath, [SYNAPSE_BIN, 'platform', 'stats'], { env: { ...process.env, SYNAPSE_DATA_DIR: dataDir } });
    // The reader goes away before anything is written, as `head -1` does after its line.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  }, 60_000);
});
