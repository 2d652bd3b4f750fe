#!/usr/bin/env node
/**
 * Lints workflow code: what runs inside Temporal's deterministic workflow sandbox must not
 * reach Node, other packages or the rest of this project at run time.
 *
 *   node scripts/lint-workflows.mjs [dir]      (default: the project's workflows/)
 *
 * Every .ts/.mts/.cts/.js/.mjs/.cjs file under dir (test files excepted: they are never
 * bundled) may import values only from
 *   - @temporalio/workflow and @temporalio/common,
 *   - relative files inside dir.
 * `import type` / `export type` may come from anywhere. `import { type A } from 'x'` does NOT
 * count as type-only: under verbatimModuleSyntax it still loads 'x' (`import {} from 'x'`).
 * Also forbidden: `process.`, `require(`, `setTimeout(`, `setInterval(`, `Math.random(`.
 *
 * Prints `file:line: message` per violation and exits 1, or `<dir>/ lint: N files OK` and
 * exits 0. Exits 2 when dir cannot be read. No dependencies: a small scanner blanks comments
 * and string contents so neither causes false alarms.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ALLOWED_PACKAGES = new Set(['@temporalio/workflow', '@temporalio/common']);
const SOURCE_EXT = /\.(?:[mc]?ts|[mc]?js)$/;
const TEST_FILE = /\.(?:test|spec)\.[mc]?[jt]s$/;
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, m.split('/')[0]]));

/** Calls that are non-deterministic or unavailable in workflow code, with what to use instead. */
const FORBIDDEN_USES = [
  { re: /(?<![\w$])process\s*\./g, message: '`process.` is not available in workflow code (pass values in the workflow input)' },
  { re: /(?<![\w$.])require\s*\(/g, message: '`require(` is not allowed in workflow code' },
  { re: /(?<![\w$])setTimeout\s*\(/g, message: '`setTimeout(` is not allowed in workflow code (use sleep() from @temporalio/workflow)' },
  { re: /(?<![\w$])setInterval\s*\(/g, message: '`setInterval(` is not allowed in workflow code (loop over sleep() from @temporalio/workflow)' },
  { re: /(?<![\w$])Math\s*\.\s*random\s*\(/g, message: '`Math.random(` is non-deterministic (use uuid4() from @temporalio/workflow, or pass a seed in)' },
];

// ----- scanning ---------------------------------------------------------------------------

const REGEX_AFTER_WORDS = new Set([
  'return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await',
]);

/**
 * Returns two copies of `src`, the same length and with the same newlines:
 * `code` has comments blanked; `bare` also has the contents of strings, template text and
 * regex literals blanked (code inside `${}` is kept).
 */
export function scan(src) {
  const code = src.split('');
  const bare = src.split('');
  const blank = (arr, from, to) => {
    for (let k = from; k < to; k++) if (arr[k] !== '\n' && arr[k] !== '\r') arr[k] = ' ';
  };
  // A stack of open `${` contexts: each entry counts nested braces inside it.
  const templates = [];
  let lastSignificant = ''; // last non-space code character or word, to tell regex from division
  let i = 0;
  const n = src.length;

  const readTemplate = (start) => {
    // `start` is just after a backtick or the `}` closing a substitution.
    let j = start;
    while (j < n) {
      const c = src[j];
      if (c === '\\') {
        j += 2;
        continue;
      }
      if (c === '`') {
        blank(bare, start, j);
        return { end: j + 1, substitution: false };
      }
      if (c === '$' && src[j + 1] === '{') {
        blank(bare, start, j);
        return { end: j + 2, substitution: true };
      }
      j++;
    }
    blank(bare, start, n);
    return { end: n, substitution: false };
  };

  while (i < n) {
    const c = src[i];
    const next = src[i + 1];
    if (c === '/' && next === '/') {
      let j = src.indexOf('\n', i);
      if (j === -1) j = n;
      blank(code, i, j);
      blank(bare, i, j);
      i = j;
      continue;
    }
    if (c === '/' && next === '*') {
      let j = src.indexOf('*/', i + 2);
      j = j === -1 ? n : j + 2;
      blank(code, i, j);
      blank(bare, i, j);
      i = j;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      blank(bare, i + 1, Math.min(j, n));
      i = j + 1;
      lastSignificant = 'string';
      continue;
    }
    if (c === '`') {
      const t = readTemplate(i + 1);
      if (t.substitution) templates.push(0);
      i = t.end;
      lastSignificant = t.substitution ? '{' : 'string';
      continue;
    }
    if (templates.length > 0 && (c === '{' || c === '}')) {
      const depth = templates.length - 1;
      if (c === '{') templates[depth]++;
      else if (templates[depth] === 0) {
        templates.pop();
        const t = readTemplate(i + 1);
        if (t.substitution) templates.push(0);
        i = t.end;
        lastSignificant = t.substitution ? '{' : 'string';
        continue;
      } else templates[depth]--;
    }
    if (c === '/') {
      const regexAllowed =
        lastSignificant === '' || REGEX_AFTER_WORDS.has(lastSignificant) || /^[(,=:[!&|?{};+\-*%<>~^]$/.test(lastSignificant);
      if (regexAllowed) {
        let j = i + 1;
        let inClass = false;
        while (j < n && src[j] !== '\n') {
          if (src[j] === '\\') {
            j += 2;
            continue;
          }
          if (src[j] === '[') inClass = true;
          else if (src[j] === ']') inClass = false;
          else if (src[j] === '/' && !inClass) break;
          j++;
        }
        blank(bare, i + 1, Math.min(j, n));
        i = j + 1;
        while (i < n && /[a-z]/i.test(src[i])) i++;
        lastSignificant = 'regex';
        continue;
      }
    }
    if (/[\w$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(src[j])) j++;
      lastSignificant = src.slice(i, j);
      i = j;
      continue;
    }
    if (!/\s/.test(c)) lastSignificant = c;
    i++;
  }
  return { code: code.join(''), bare: bare.join('') };
}

// ----- imports ----------------------------------------------------------------------------

const CLAUSE = String.raw`(?:[\w$]+\s*,\s*)?(?:\*\s*as\s+[\w$]+|\{[^}]*\}|[\w$]+)`;
const STATIC_IMPORT = new RegExp(String.raw`import\s+(type\s+)?(${CLAUSE})\s*from\s*(['"])([^'"\n]*)\3`, 'y');
const SIDE_EFFECT_IMPORT = /import\s*(['"])([^'"\n]*)\1/y;
const DYNAMIC_IMPORT = /import\s*\(\s*(?:(['"`])([^'"`\n]*)\1)?/y;
const REEXPORT = /export\s+(type\s+)?(\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from\s*(['"])([^'"\n]*)\3/y;

/** Every import or re-export of `src`: offset, specifier, whether it is type-only, and how it was written. */
export function findImports(src) {
  const { code, bare } = scan(src);
  const found = [];
  const keyword = /(?<![\w$.])(import|export)(?![\w$])/g;
  for (const m of bare.matchAll(keyword)) {
    const at = m.index;
    const match = (re) => {
      re.lastIndex = at;
      return re.exec(code);
    };
    if (m[1] === 'export') {
      const r = match(REEXPORT);
      if (r) found.push({ at, spec: r[4], typeOnly: Boolean(r[1]), namedTypesOnly: namedTypesOnly(r[2]), kind: 'export' });
      continue;
    }
    if (bare.slice(at + 6).trimStart().startsWith('.')) continue; // import.meta
    const s = match(STATIC_IMPORT);
    if (s) {
      found.push({ at, spec: s[4], typeOnly: Boolean(s[1]), namedTypesOnly: namedTypesOnly(s[2]), kind: 'import' });
      continue;
    }
    const e = match(SIDE_EFFECT_IMPORT);
    if (e) {
      found.push({ at, spec: e[2], typeOnly: false, namedTypesOnly: false, kind: 'import' });
      continue;
    }
    const d = match(DYNAMIC_IMPORT);
    if (d) {
      // `typeof import('x')` is a type, not a load.
      const typeOnly = /(?<![\w$])typeof\s*$/.test(bare.slice(Math.max(0, at - 20), at));
      found.push({ at, spec: d[2], typeOnly, namedTypesOnly: false, kind: 'dynamic' });
    }
  }
  return found;
}

/** `{ type A, type B }`: every named specifier is a type (the module is still loaded). */
function namedTypesOnly(clause) {
  const braces = /^\{([^}]*)\}$/.exec(clause.trim());
  if (!braces) return false;
  const names = braces[1].split(',').map((s) => s.trim()).filter(Boolean);
  return names.length > 0 && names.every((s) => /^type\s+/.test(s));
}

// ----- checks -----------------------------------------------------------------------------

function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function isInside(root, file) {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Why an import of `spec` from `file` is not allowed, or null when it is. */
function importProblem(imp, file, root) {
  if (imp.typeOnly) return null;
  const { spec } = imp;
  if (spec === undefined) return 'dynamic import() with a computed specifier is not allowed in workflow code';
  const hint = imp.namedTypesOnly ? ' (`import { type X }` still loads the module under verbatimModuleSyntax: write `import type { X }`)' : '';
  if (spec.startsWith('.')) {
    const target = path.resolve(path.dirname(file), spec);
    if (isInside(root, target)) return null;
    return `value import of "${spec}" reaches outside ${path.basename(root)}/; only \`import type\` may${hint}`;
  }
  if (spec.startsWith('/') || /^[a-z]+:/i.test(spec)) {
    if (spec.startsWith('node:')) return `Node built-in "${spec}" cannot be used in workflow code${hint}`;
    return `import of "${spec}" is not allowed in workflow code${hint}`;
  }
  if (BUILTINS.has(spec) || BUILTINS.has(packageName(spec))) return `Node built-in "${spec}" cannot be used in workflow code${hint}`;
  if (ALLOWED_PACKAGES.has(spec)) return null;
  return `package "${spec}" is not allowed in workflow code (only ${[...ALLOWED_PACKAGES].join(', ')})${hint}`;
}

function lineOf(src, offset) {
  let line = 1;
  for (let k = 0; k < offset; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

/** Violations of one file: `{ line, message }`, in source order. */
export function lintSource(src, file, root) {
  const problems = [];
  for (const imp of findImports(src)) {
    const message = importProblem(imp, file, root);
    if (message) problems.push({ offset: imp.at, message });
  }
  const { bare } = scan(src);
  for (const { re, message } of FORBIDDEN_USES) {
    for (const m of bare.matchAll(re)) problems.push({ offset: m.index, message });
  }
  return problems.sort((a, b) => a.offset - b.offset).map((p) => ({ line: lineOf(src, p.offset), message: p.message }));
}

function listFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(full));
    else if (entry.isFile() && SOURCE_EXT.test(entry.name) && !TEST_FILE.test(entry.name)) files.push(full);
  }
  return files;
}

/** Shown paths: relative to the current folder when inside it, else absolute. */
function shown(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function main(argv) {
  const defaultDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'workflows');
  const root = path.resolve(argv[0] ?? defaultDir);
  let files;
  try {
    if (!statSync(root).isDirectory()) throw new Error('not a folder');
    files = listFiles(root);
  } catch (err) {
    console.error(`lint-workflows: cannot read ${root}: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  let count = 0;
  for (const file of files) {
    for (const p of lintSource(readFileSync(file, 'utf8'), file, root)) {
      console.log(`${shown(file)}:${p.line}: ${p.message}`);
      count++;
    }
  }
  if (count > 0) {
    console.log(`${shown(root) || '.'}/ lint: ${count} problem${count === 1 ? '' : 's'} in workflow code`);
    return 1;
  }
  console.log(`${shown(root) || '.'}/ lint: ${files.length} files OK`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
