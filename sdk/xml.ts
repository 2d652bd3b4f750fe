/**
 * A small XML serializer for the files exporters write (Pascal VOC annotations): elements
 * are built as a tree and written with every text escaped, so the output is well-formed by
 * construction, not by care at each string concatenation. Text holding a character XML 1.0
 * cannot carry at all (control characters other than tab, newline and carriage return; U+FFFE,
 * U+FFFF; lone surrogates) is refused with an XmlCharacterError naming the element and the
 * code point: no escape makes it legal, and dropping it silently would change the value.
 */

/** An element: a name, children in order, and text (text and children are not mixed). */
export interface XmlElement {
  name: string;
  children?: readonly XmlElement[];
  text?: string | number;
}

export class XmlCharacterError extends Error {
  constructor(
    readonly element: string,
    readonly codePoint: number,
  ) {
    super(`<${element}> holds U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}, a character XML 1.0 cannot hold`);
    this.name = 'XmlCharacterError';
  }
}

// eslint-disable-next-line no-control-regex
const ILLEGAL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/u;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** `text` escaped for element content; throws XmlCharacterError for a character XML cannot hold. */
export function xmlText(text: string, element: string): string {
  const bad = ILLEGAL.exec(text);
  if (bad) throw new XmlCharacterError(element, bad[0].codePointAt(0) as number);
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;')).replace(/\r/g, '&#13;');
}

function write(el: XmlElement, depth: number, out: string[]): void {
  if (!NAME.test(el.name)) throw new Error(`"${el.name}" is not an XML element name`);
  const pad = '  '.repeat(depth);
  if (el.children && el.children.length > 0) {
    out.push(`${pad}<${el.name}>`);
    for (const child of el.children) write(child, depth + 1, out);
    out.push(`${pad}</${el.name}>`);
  } else if (el.text !== undefined) {
    out.push(`${pad}<${el.name}>${xmlText(String(el.text), el.name)}</${el.name}>`);
  } else {
    out.push(`${pad}<${el.name}/>`);
  }
}

/** The document: the UTF-8 declaration, `root` indented by two spaces, and a final newline. */
export function xmlDocument(root: XmlElement): string {
  const out = ['<?xml version="1.0" encoding="utf-8"?>'];
  write(root, 0, out);
  out.push('');
  return out.join('\n');
}
