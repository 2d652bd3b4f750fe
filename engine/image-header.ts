/**
 * The pixel size of an image from its file header, for exports whose platform record has no
 * size (a converter that divides by width must never see 0 or null). PNG (the IHDR chunk)
 * and JPEG (the first start-of-frame marker, SOF0..SOF15 except DHT/JPG/DAC) are read; any
 * other file, or a truncated one, gives undefined and the caller says the size is unknown.
 * EXIF orientation is not applied: the size is the stored raster's, as COCO and VOC record it.
 */

export interface HeaderSize {
  width: number;
  height: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height in pixels from a PNG or JPEG header, or undefined. */
export function imageHeaderSize(buf: Buffer): HeaderSize | undefined {
  if (buf.length >= 24 && buf.subarray(0, 8).equals(PNG_SIGNATURE) && buf.toString('latin1', 12, 16) === 'IHDR') {
    const width = buf.readUInt32BE(16);
    const height = buf.readUInt32BE(20);
    return width > 0 && height > 0 ? { width, height } : undefined;
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8) {
    let at = 2;
    while (at + 4 <= buf.length) {
      if (buf[at] !== 0xff) return undefined;
      const marker = buf[at + 1] as number;
      if (marker === 0xff) {
        at++;
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        at += 2;
        continue;
      }
      const length = buf.readUInt16BE(at + 2);
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        if (at + 9 > buf.length) return undefined;
        const height = buf.readUInt16BE(at + 5);
        const width = buf.readUInt16BE(at + 7);
        return width > 0 && height > 0 ? { width, height } : undefined;
      }
      at += 2 + length;
    }
  }
  return undefined;
}
