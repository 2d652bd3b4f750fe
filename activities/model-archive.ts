/**
 * A registered model's archive: a gzipped tar (ustar) holding `model.bin` (the trainer's
 * saved bytes) and `model.json` (plugin, hyperparameters, classes, metrics). Small writer and
 * reader over node:zlib, so `tar xzf` opens what the engine wrote and no package is needed.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { NonRetriableError } from '../contracts/errors.js';

const BLOCK = 512;

function header(name: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar entry name too long: ${name}`);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100, 'ascii'); // mode
  h.write('0000000\0', 108, 'ascii'); // uid
  h.write('0000000\0', 116, 'ascii'); // gid
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  // A fixed mtime keeps the archive of the same model byte-identical across retries.
  h.write('00000000000\0', 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder: spaces while summing
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** Packs files (in the given order) into a .tar.gz. */
export function packTarGz(files: { name: string; data: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(header(f.name, f.data.length), Buffer.from(f.data));
    const pad = (BLOCK - (f.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts));
}

/** Unpacks the regular files of a .tar.gz; `what` names the archive in errors. */
export function unpackTarGz(archive: Uint8Array, what: string): Map<string, Buffer> {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive);
  } catch (err) {
    throw new NonRetriableError(`${what} is not a gzip archive: ${(err as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  for (let at = 0; at + BLOCK <= tar.length;) {
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
    if (!Number.isFinite(size) || at + BLOCK + size > tar.length)
      throw new NonRetriableError(`${what} is a damaged tar archive (entry ${JSON.stringify(name)})`);
    const type = String.fromCharCode(h[156] ?? 48);
    if (type === '0' || type === '\0') files.set(name, Buffer.from(tar.subarray(at + BLOCK, at + BLOCK + size)));
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}
