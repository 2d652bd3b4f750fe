/**
 * The payload codec: every payload that goes to Temporal (workflow input, results, activity
 * input and output, heartbeats, queries, signals) is encrypted with AES-256-GCM before it
 * leaves this process, so what Temporal stores (its history, its database, its Web UI without
 * a codec server) holds no params, no secrets, no results in the clear.
 *
 * Why whole payloads and not only the secret fields: it is the standard Temporal codec
 * (docs.temporal.io "Payload codec"), it needs no knowledge of any action's params in the
 * codec, and the Web UI decodes it through the gateway's `/codec/*` endpoints for people whose
 * token allows it. The secret fields are, besides, redacted where we store things ourselves
 * (run store rows, run events, error messages: sdk/secret.ts, activities/step.ts).
 *
 * Keys come from the configuration of the worker and of every client (CLI, gateway):
 *
 *   SYNAPSE_CODEC_KEY            `<key id>:<base64 of 32 random bytes>` (the id: 1-64 of A-Z a-z 0-9 . _ -),
 *                                 or only the base64 (the id is then the first 8 hex digits of its SHA-256).
 *                                 Encrypts new payloads; decrypts those that name its id.
 *   SYNAPSE_CODEC_PREVIOUS_KEYS  comma-separated older keys in the same form: decrypt only.
 *
 * Each encrypted payload names its key in the metadata `encryption-key-id` (encoding
 * `binary/encrypted`), so rotating is: (1) add the new key to SYNAPSE_CODEC_PREVIOUS_KEYS
 * everywhere, (2) make it SYNAPSE_CODEC_KEY everywhere (the old one moves to the previous
 * keys), (3) drop the old key once no history that needs it is kept (the namespace's
 * retention after the last run that used it closed). Payloads that are not encrypted
 * (written before a key was configured) pass through decode unchanged.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError, SynapseError } from '../contracts/errors.js';

/** The `encoding` metadata of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key naming the key that encrypted a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** The variables keys are read from (named in errors). */
export const CODEC_KEY_VARIABLE = 'SYNAPSE_CODEC_KEY';
export const CODEC_PREVIOUS_KEYS_VARIABLE = 'SYNAPSE_CODEC_PREVIOUS_KEYS';

/** The configured key text, as Settings carries it (client/settings.ts). */
export interface CodecKeyConfig {
  /** SYNAPSE_CODEC_KEY */
  key: string;
  /** SYNAPSE_CODEC_PREVIOUS_KEYS, split on commas. */
  previousKeys: string[];
}

export interface CodecKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/_-]+={0,2}$/;

const utf8 = new TextEncoder();

/** A malformed key in the configuration: names the variable to fix, never the key. */
function keyProblem(variable: string, message: string): ConfigError {
  return new ConfigError('payload codec', [{ path: variable, message }]);
}

/**
 * A payload this process cannot decrypt: encrypted under a key id it lacks, tampered with, or
 * not in the codec's format. The operator's configuration is at fault, not the caller's input:
 * exit 2 (as a configuration error), HTTP 500; the gateway's /codec answers 400 instead, since
 * there the payload is the caller's.
 */
export class PayloadKeyError extends SynapseError {
  override readonly exitCode = 2;
  override readonly httpStatus = 500;
}
const fromUtf8 = new TextDecoder();

/**
 * Parses one key: `<id>:<base64>` or `<base64>`. ConfigError naming `variable` when the text
 * is not 32 bytes of base64 or the id has other characters; the key itself is never echoed.
 */
export function parseCodecKey(text: string, variable: string): CodecKey {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const id = colon >= 0 ? trimmed.slice(0, colon) : undefined;
  const material = colon >= 0 ? trimmed.slice(colon + 1) : trimmed;
  if (id !== undefined && !KEY_ID_PATTERN.test(id)) {
    throw keyProblem(variable, 'the key id before ":" must be 1-64 letters, digits, ".", "_" or "-"');
  }
  const key = BASE64_PATTERN.test(material) ? Buffer.from(material, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw keyProblem(variable, `expected [<key id>:]<base64 of 32 random bytes> (e.g. \`openssl rand -base64 32\`), got ${key.length} bytes`);
  }
  return { id: id ?? createHash('sha256').update(key).digest('hex').slice(0, 8), key };
}

/** A new random key in the form SYNAPSE_CODEC_KEY takes. */
export function newCodecKey(id?: string): string {
  const material = randomBytes(32).toString('base64');
  return id ? `${id}:${material}` : material;
}

/** Every key of a configuration: the current one first. ConfigError on a bad key or a repeated id. */
export function codecKeys(config: CodecKeyConfig): { current: CodecKey; all: Map<string, CodecKey> } {
  if (config.key.trim() === '') throw keyProblem(CODEC_KEY_VARIABLE, `not set, but ${CODEC_PREVIOUS_KEYS_VARIABLE} is: set the current key too`);
  const current = parseCodecKey(config.key, CODEC_KEY_VARIABLE);
  const all = new Map<string, CodecKey>([[current.id, current]]);
  for (const text of config.previousKeys) {
    const key = parseCodecKey(text, CODEC_PREVIOUS_KEYS_VARIABLE);
    const seen = all.get(key.id);
    if (seen && !seen.key.equals(key.key)) throw keyProblem(CODEC_PREVIOUS_KEYS_VARIABLE, `two different keys share the id "${key.id}"`);
    all.set(key.id, key);
  }
  return { current, all };
}

/** A payload as bytes: metadata and data, base64 in JSON (no protobuf dependency needed). */
function serialize(payload: Payload): Uint8Array {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return utf8.encode(JSON.stringify({ m: metadata, d: Buffer.from(payload.data ?? new Uint8Array()).toString('base64') }));
}

function deserialize(bytes: Uint8Array): Payload {
  const parsed = JSON.parse(fromUtf8.decode(bytes)) as { m: Record<string, string>; d: string };
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(parsed.m)) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(parsed.d, 'base64')) };
}

/**
 * AES-256-GCM over whole payloads. `data` of an encrypted payload: version (1 byte), IV (12),
 * GCM tag (16), ciphertext; the key id is authenticated as additional data, so a payload
 * cannot be passed off under another key's id.
 */
export class AesGcmCodec implements PayloadCodec {
  private readonly current: CodecKey;
  private readonly keys: Map<string, CodecKey>;

  constructor(config: CodecKeyConfig) {
    const { current, all } = codecKeys(config);
    this.current = current;
    this.keys = all;
  }

  /** The id new payloads are encrypted under. */
  get keyId(): string {
    return this.current.id;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.encrypt(p))));
  }

  /** Decrypts encrypted payloads; others pass unchanged. Throws naming the key id it lacks. */
  decode(payloads: Payload[]): Promise<Payload[]> {
    return new Promise((resolve) => resolve(payloads.map((p) => this.decrypt(p))));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(utf8.encode(id));
    const ciphertext = Buffer.concat([cipher.update(serialize(payload)), cipher.final()]);
    return {
      metadata: { encoding: utf8.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: utf8.encode(id) },
      data: new Uint8Array(Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext])),
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    const id = rawId ? fromUtf8.decode(rawId) : '';
    const entry = this.keys.get(id);
    if (!entry) {
      throw new PayloadKeyError(
        `a payload is encrypted with key "${id}", which is neither ${CODEC_KEY_VARIABLE} nor in ${CODEC_PREVIOUS_KEYS_VARIABLE} here (keys known: ${[...this.keys.keys()].join(', ')})`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < 1 + IV_BYTES + TAG_BYTES || data[0] !== VERSION)
      throw new PayloadKeyError(`a payload under key "${id}" is not in codec format ${VERSION}`);
    const decipher = createDecipheriv('aes-256-gcm', entry.key, data.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(utf8.encode(id));
    decipher.setAuthTag(data.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadKeyError(`a payload under key "${id}" does not decrypt with the configured key of that id (tampered, or another key with the same id)`);
    }
    return deserialize(plain);
  }
}

/** The codec of a configuration, or none when no key is configured. */
export function payloadCodecFor(config: CodecKeyConfig | undefined): AesGcmCodec | undefined {
  return config ? new AesGcmCodec(config) : undefined;
}
