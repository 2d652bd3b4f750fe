/**
 * The pieces exports name and write files with (issue 12): output stems unique per item and
 * short enough for any file system, the XML serializer that refuses what XML cannot hold, the
 * PNG/JPEG header reader behind unknown image sizes, and the one border policy for boxes.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { imageHeaderSize } from '../../engine/image-header.js';
import { encodePng } from '../../platform/png.js';
import { classNameProblem } from '../../platform/repositories/projects.js';
import { clippedBoxes, exportImageSize } from '../../sdk/export-boxes.js';
import { fileExtension, itemOutputStem } from '../../sdk/export-names.js';
import type { ExportItem } from '../../sdk/exporter.js';
import { XmlCharacterError, xmlDocument } from '../../sdk/xml.js';

describe('output stems', () => {
  it('keep the file stem and add the item id, so same names and same units never collide', () => {
    expect(itemOutputStem('000001', 'ground_truth', 7)).toBe('000001_7');
    expect(itemOutputStem('000001', 'ground_truth', 8)).toBe('000001_8');
    expect(itemOutputStem(undefined, 'task', 3)).toBe('task_3');
    // "img_1" + id 2 and "img" + id 12 stay apart: the id is after the last "_".
    expect(itemOutputStem('img_1', 'assignment', 2)).not.toBe(itemOutputStem('img', 'assignment', 12));
    expect(itemOutputStem('a\u000bb/c\\d', 'task', 1)).toBe('a_b_c_d_1');
  });

  it('cut a long stem at a character boundary with a hash, deterministically, under 255 bytes with any extension', () => {
    const cjk = '漢'.repeat(85);
    const a = itemOutputStem(cjk, 'ground_truth', 123456789);
    expect(a).toBe(itemOutputStem(cjk, 'ground_truth', 123456789));
    expect(a).toMatch(/^漢+~[0-9a-f]{8}_123456789$/);
    expect(Buffer.byteLength(`${a}.json`)).toBeLessThanOrEqual(255);
    expect(Buffer.byteLength(`${a}.${'x'.repeat(39)}`)).toBeLessThanOrEqual(255);
    // Two long stems that differ only past the cut get different hashes.
    expect(itemOutputStem(`${cjk}a`, 'task', 1)).not.toBe(itemOutputStem(`${cjk}b`, 'task', 1));
    expect(fileExtension('x/y/a.tar.PNG')).toBe('.PNG');
    expect(fileExtension('noext')).toBe('');
  });
});

describe('XML serializer', () => {
  it('escapes text so Python parses the same values back', () => {
    const xml = xmlDocument({ name: 'a', children: [{ name: 'b', text: `x & <y> "z" 'w'\r\n` }, { name: 'c', text: 3 }, { name: 'd' }] });
    const back = execFileSync(
      'python3',
      [
        '-c',
        'import sys, json, xml.etree.ElementTree as ET; r = ET.fromstring(sys.stdin.read()); print(json.dumps([r.findtext("b"), r.findtext("c"), r.findtext("d")]))',
      ],
      {
        input: xml,
        encoding: 'utf8',
      },
    );
    expect(JSON.parse(back)).toEqual([`x & <y> "z" 'w'\r\n`, '3', '']);
  });

  it('refuses a character XML 1.0 cannot hold, naming the element and the code point', () => {
    expect(() => xmlDocument({ name: 'name', text: 'ca\u000br' })).toThrow(XmlCharacterError);
    expect(() => xmlDocument({ name: 'name', text: 'ca\u000br' })).toThrow('<name> holds U+000B');
    expect(() => xmlDocument({ name: 'name', text: '\ud800' })).toThrow('U+D800');
    expect(() => xmlDocument({ name: 'name', text: '😀 ok\t' })).not.toThrow();
  });

  it('class names: control characters and surrounding spaces refused with the reason', () => {
    expect(classNameProblem('ca\u000br')).toBe('holds the control character U+000B');
    expect(classNameProblem('a\u0085')).toBe('holds the control character U+0085');
    expect(classNameProblem(' cat')).toBe('starts or ends with white space');
    expect(classNameProblem('dog: big 😀')).toBeUndefined();
  });
});

describe('image header sizes', () => {
  it('reads PNG and baseline/progressive JPEG sizes; anything else is unknown', () => {
    expect(imageHeaderSize(encodePng(7, 5, new Uint8Array(7 * 5 * 3)))).toEqual({ width: 7, height: 5 });
    const jpeg = (sof: number) =>
      Buffer.from([
        0xff,
        0xd8,
        0xff,
        0xe0,
        0x00,
        0x04,
        0x00,
        0x00,
        0xff,
        0xdb,
        0x00,
        0x03,
        0x00,
        0xff,
        sof,
        0x00,
        0x0b,
        0x08,
        0x01,
        0x2c,
        0x02,
        0x58,
        0x03,
        0x01,
        0x11,
        0x00,
      ]);
    expect(imageHeaderSize(jpeg(0xc0))).toEqual({ width: 600, height: 300 });
    expect(imageHeaderSize(jpeg(0xc2))).toEqual({ width: 600, height: 300 });
    expect(imageHeaderSize(jpeg(0xc4))).toBeUndefined(); // DHT is not a frame: runs off the end
    expect(imageHeaderSize(Buffer.from('GIF89a'))).toBeUndefined();
    expect(imageHeaderSize(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('border policy', () => {
  const item = (data: unknown, meta: Record<string, unknown> = {}, imageSize?: { width: number; height: number }): ExportItem => ({
    id: 1,
    target: 'ground_truth',
    data,
    files: {},
    dataUnit: { id: 1, uniqueKey: 'u', meta },
    extra: {},
    ...(imageSize ? { imageSize } : {}),
  });

  it('size from the document, else meta, else the header', () => {
    expect(exportImageSize(item({ size: { width: 5, height: 6 } }, { width: 1, height: 1 }))).toEqual({ width: 5, height: 6 });
    expect(exportImageSize(item({}, { width: 3, height: 4 }, { width: 9, height: 9 }))).toEqual({ width: 3, height: 4 });
    expect(exportImageSize(item({}, { width: 0 }, { width: 9, height: 8 }))).toEqual({ width: 9, height: 8 });
    expect(exportImageSize(item({}))).toBeUndefined();
  });

  it('clips, drops what has no area inside, and gives the clipped area', () => {
    const boxes = clippedBoxes(
      item({
        annotations: [
          { type: 'bbox', class_name: 'a', x: -10, y: 5, width: 30, height: 20 },
          { type: 'bbox', class_name: 'b', x: 150, y: 10, width: 10, height: 10 },
          { type: 'bbox', class_name: 'c', x: 10, y: 10, width: 0, height: 10 },
          { type: 'bbox', class_name: 'd', x: 90, y: 70, width: 40, height: 40 },
          { type: 'classification', class_name: 'e' },
        ],
      }),
      { width: 100, height: 80 },
    );
    expect(boxes.map((b) => [b.class_name, b.x0, b.y0, b.x1, b.y1, b.area, b.clipped])).toEqual([
      ['a', 0, 5, 20, 25, 400, true],
      ['d', 90, 70, 100, 80, 100, true],
    ]);
  });
});
