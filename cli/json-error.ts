/**
 * Where JSON text stops being JSON, without quoting it. V8's JSON.parse errors quote a piece
 * of the text (`Unexpected token 'r', "root:$y$j9T"... is not valid JSON`), which is fine
 * for params typed on the command line but leaks a file's contents when params come from
 * `@file` (`@/etc/shadow` printed its first bytes). This scanner is called only after
 * JSON.parse has refused the text, and says where and what kind of mistake, in its own words.
 */

export interface JsonErrorSpot {
  /** 1-based line and column (in UTF-16 code units, as editors count them). */
  line: number;
  column: number;
  /** What was wrong, never quoting the text: `unexpected character`, `unexpected end of the text`, ... */
  reason: string;
}

/** The first place `text` is not JSON (RFC 8259), or undefined when it is JSON. No recursion. */
export function findJsonError(text: string): JsonErrorSpot | undefined {
  let i = 0;
  const n = text.length;
  const fail = (reason: string, at = i): JsonErrorSpot => {
    let line = 1;
    let last = -1;
    for (let k = 0; k < at && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        last = k;
      }
    }
    return { line, column: at - last, reason };
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const end = () => (i >= n ? fail('unexpected end of the text') : undefined);
  /** Scans one scalar at i; returns an error or undefined. */
  const scalar = (): JsonErrorSpot | undefined => {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') {
        const code = text.charCodeAt(i);
        if (code < 0x20) return fail('a control character inside a string');
        if (text[i] === '\\') {
          i++;
          if (i >= n) break;
          if (text[i] === 'u') {
            if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) return fail('a bad \\u escape');
            i += 4;
          } else if (!'"\\/bfnrt'.includes(text[i] as string)) return fail('a bad escape');
        }
        i++;
      }
      if (i >= n) return fail('an unterminated string');
      i++;
      return undefined;
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if ((c === '-' || (c !== undefined && c >= '0' && c <= '9')) && m) {
      i += m[0].length;
      return undefined;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return undefined;
      }
    }
    return fail('unexpected character');
  };
  // Containers on a stack: '{' expecting a key, ':' or a value; '[' expecting values.
  const stack: ('{' | '[')[] = [];
  ws();
  for (;;) {
    const e = end();
    if (e) return e;
    // A value.
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      ws();
      if (i < n && text[i] === (c === '{' ? '}' : ']')) {
        i++;
        stack.pop();
      } else if (c === '{') {
        const e2 = end() ?? (text[i] === '"' ? scalar() : fail('expected a property name'));
        if (e2) return e2;
        ws();
        if (i >= n) return fail('unexpected end of the text');
        if (text[i] !== ':') return fail("expected ':' after a property name");
        i++;
        ws();
        continue;
      } else continue;
    } else {
      const e2 = scalar();
      if (e2) return e2;
    }
    // After a value: close containers or go on with the next member.
    for (;;) {
      ws();
      const top = stack.at(-1);
      if (top === undefined) return i < n ? fail('unexpected text after the JSON value') : undefined;
      if (i >= n) return fail('unexpected end of the text');
      if (text[i] === (top === '{' ? '}' : ']')) {
        i++;
        stack.pop();
        continue;
      }
      if (text[i] !== ',') return fail(top === '{' ? "expected ',' or '}'" : "expected ',' or ']'");
      i++;
      ws();
      if (top === '{') {
        const e2 = end() ?? (text[i] === '"' ? scalar() : fail('expected a property name'));
        if (e2) return e2;
        ws();
        if (i >= n) return fail('unexpected end of the text');
        if (text[i] !== ':') return fail("expected ':' after a property name");
        i++;
        ws();
      }
      break;
    }
  }
}
