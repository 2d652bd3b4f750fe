/** The secret marker (sdk/secret.ts), the scrubbing of stored text, and the payload codec's round trip and key rotation. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AesGcmCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA, newCodecKey, parseCodecKey } from '../../client/codec.js';
import { scrubbingStore, scrubError } from '../../activities/secret-scrub.js';
import type { RunEventInput, RunStore } from '../../platform/run-store.js';
import { REDACTED, redactParams, secret, secretFieldPaths } from '../../sdk/secret.js';

const Params = z.object({
  url: z.string(),
  password: secret(z.string()).describe('the database password'),
  token: secret(z.string()).optional(),
  nested: z.object({ apiKey: secret(z.string()), region: z.string() }).optional(),
  keys: z.array(secret(z.string())).default([]),
});

describe('secret params', () => {
  it('finds every marked field, through describe, optional, default, objects and arrays', () => {
    expect(secretFieldPaths(Params).sort()).toEqual(['keys.[]', 'nested.apiKey', 'password', 'token']);
    expect(secretFieldPaths(z.object({ a: z.string() }))).toEqual([]);
  });

  it('redacts their values and collects them for scrubbing, leaving the rest', () => {
    const params = Params.parse({ url: 'db://h', password: 'hunter22', nested: { apiKey: 'AKIA-123456', region: 'eu' }, keys: ['k-one', 'k-two'] });
    const { params: redacted, secrets } = redactParams(Params, params);
    expect(redacted).toEqual({ url: 'db://h', password: REDACTED, nested: { apiKey: REDACTED, region: 'eu' }, keys: [REDACTED, REDACTED] });
    expect(secrets).toEqual(['AKIA-123456', 'hunter22', 'k-one', 'k-two']);
    // The input is not changed: the action still gets the values.
    expect(params.password).toBe('hunter22');
  });

  it('shows the mark in the JSON Schema', () => {
    const schema = z.toJSONSchema(Params) as { properties: Record<string, Record<string, unknown>> };
    expect(schema.properties.password).toMatchObject({ type: 'string', secret: true, writeOnly: true });
  });

  it('scrubs events, run errors and thrown errors', async () => {
    const appended: RunEventInput[] = [];
    const patches: unknown[] = [];
    const base = { appendEvents: async (e: RunEventInput[]) => void appended.push(...e), updateRun: async (_id: string, p: unknown) => void patches.push(p) };
    const store = scrubbingStore(base as unknown as RunStore, ['hunter22']);
    await store.appendEvents([{ runId: 'r', attempt: 1, at: 'now', data: { kind: 'log', level: 'INFO', message: 'login with hunter22 ok' } }]);
    await store.appendEvents([{ runId: 'r', attempt: 1, at: 'now', data: { kind: 'event', event: 'x', data: { deep: ['pw=hunter22'] } } }]);
    await store.updateRun('r', { error: 'failed: hunter22' });
    expect(JSON.stringify(appended)).not.toContain('hunter22');
    expect(appended[0]!.data).toEqual({ kind: 'log', level: 'INFO', message: `login with ${REDACTED} ok` });
    expect(patches).toEqual([{ error: `failed: ${REDACTED}` }]);
    const err = scrubError(new Error('bad password hunter22'), ['hunter22']) as Error;
    expect(err.message).toBe(`bad password ${REDACTED}`);
    expect(err.stack).not.toContain('hunter22');
  });
});

describe('payload codec', () => {
  const payload = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('{"password":"hunter22"}') };

  it('encrypts whole payloads under the current key id and decrypts them back', async () => {
    const codec = new AesGcmCodec({ key: newCodecKey('k1'), previousKeys: [] });
    const [encrypted] = await codec.encode([payload]);
    expect(new TextDecoder().decode(encrypted!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(new TextDecoder().decode(encrypted!.metadata![KEY_ID_METADATA])).toBe('k1');
    expect(Buffer.from(encrypted!.data!).includes('hunter22')).toBe(false);
    const [decoded] = await codec.decode([encrypted!]);
    expect(new TextDecoder().decode(decoded!.data)).toBe('{"password":"hunter22"}');
    expect(new TextDecoder().decode(decoded!.metadata!.encoding)).toBe('json/plain');
  });

  it('rotates: a previous key still decrypts, an unknown key id is named, a tampered payload refused', async () => {
    const oldKey = newCodecKey('old');
    const [byOld] = await new AesGcmCodec({ key: oldKey, previousKeys: [] }).encode([payload]);
    const rotated = new AesGcmCodec({ key: newCodecKey('new'), previousKeys: [oldKey] });
    expect(new TextDecoder().decode((await rotated.decode([byOld!]))[0]!.data)).toContain('hunter22');
    await expect(new AesGcmCodec({ key: newCodecKey('other'), previousKeys: [] }).decode([byOld!])).rejects.toThrow(/encrypted with key "old"/);
    const tampered = { ...byOld!, data: Uint8Array.from(byOld!.data!, (b, i) => (i === 40 ? b ^ 1 : b)) };
    await expect(rotated.decode([tampered])).rejects.toThrow(/does not decrypt/);
    // Payloads written before a key was configured pass through.
    expect(await rotated.decode([payload])).toEqual([payload]);
  });

  it('names the variable for a malformed key and never echoes it', () => {
    expect(() => parseCodecKey('short-secret-text', 'SYNAPSE_CODEC_KEY')).toThrow(/SYNAPSE_CODEC_KEY.*32 random bytes/s);
    expect(() => parseCodecKey('short-secret-text', 'SYNAPSE_CODEC_KEY')).not.toThrow(/short-secret-text/);
    expect(() => parseCodecKey('bad id!:' + Buffer.alloc(32).toString('base64'), 'SYNAPSE_CODEC_KEY')).toThrow(/key id/);
    expect(() => new AesGcmCodec({ key: '', previousKeys: [newCodecKey()] })).toThrow(/SYNAPSE_CODEC_PREVIOUS_KEYS is/);
    expect(parseCodecKey(Buffer.alloc(32, 7).toString('base64'), 'X').id).toMatch(/^[0-9a-f]{8}$/);
  });
});
