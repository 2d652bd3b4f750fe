/**
 * Output names of exported items. Every file an exporter writes for an item (its JSON, its
 * label or XML file, the copy of its original image) is named by one stem, and two items of
 * one export never share a stem: the stem is the original file's stem followed by `_<item
 * id>` (the assignment, ground-truth event or task id, unique in the export), so two data
 * units named `a/img.png` and `b/img.png`, or two assignments of one task, get two files.
 * The id is the last `_`-separated part and has no `_`, so distinct ids give distinct stems.
 *
 * A stem also has to be a valid file name on the file systems exports land on (255 bytes a
 * name): a long file stem is cut at a character boundary and a hash of the whole stem added,
 * so it is shortened the same way every time and never fails the item.
 */
import { createHash } from 'node:crypto';

/** Bytes of the stem: leaves room for `.`, an extension of up to 40 bytes and the hash. */
export const MAX_STEM_BYTES = 200;

/** Characters that cannot be in a file name on common file systems, or that read as a folder. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f/\\]/g;

/** `name` cut to at most `bytes` UTF-8 bytes, never inside a character. */
export function cutToBytes(name: string, bytes: number): string {
  if (Buffer.byteLength(name) <= bytes) return name;
  let out = '';
  let used = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out;
}

/**
 * The stem of an item's output files: `<file stem>_<id>`, or `<target>_<id>` when the item
 * has no file. Control characters, `/` and `\` become `_`; a stem over MAX_STEM_BYTES is cut
 * and gets `~<8 hex of sha256 of the full stem>` before the id.
 */
export function itemOutputStem(fileStem: string | undefined, target: string, id: number): string {
  const suffix = `_${id}`;
  if (fileStem === undefined || fileStem === '') return `${target}${suffix}`;
  const safe = fileStem.replace(UNSAFE, '_');
  const room = MAX_STEM_BYTES - Buffer.byteLength(suffix);
  if (Buffer.byteLength(safe) <= room) return `${safe}${suffix}`;
  const hash = createHash('sha256').update(safe).digest('hex').slice(0, 8);
  return `${cutToBytes(safe, room - 9)}~${hash}${suffix}`;
}

/** The extension of a file name, with its dot (`a/b.tar.png` -> `.png`), or '' (at most 40 bytes, else ''). */
export function fileExtension(name: string): string {
  const base = name.split('/').pop() ?? name;
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return '';
  const ext = base.slice(dot).replace(UNSAFE, '_');
  return Buffer.byteLength(ext) <= 40 ? ext : '';
}
