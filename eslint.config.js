/**
 * ESLint for the whole tree (flat config), run by `npm run lint` beside `prettier --check .` and
 * dependency-cruiser (.dependency-cruiser.cjs: room rules and import cycles).
 *
 * - Everything: @eslint/js and typescript-eslint recommended, with the choices below made so
 *   that type safety is not weakened (no `any` at boundaries; unused names only with a `_`).
 * - workflows/: what runs inside Temporal's deterministic workflow sandbox must not reach Node,
 *   other packages or the rest of the project at run time, nor use non-deterministic or
 *   sandbox-unsafe globals. This replaces the hand-made scripts/lint-workflows.mjs scanner; its
 *   test cases are fixtures under test/lint-fixtures/ (see test/unit/lint.test.ts). Imports that
 *   need the resolved graph (which room a `../x` lands in) are also checked, room by room, by
 *   dependency-cruiser.
 * - eslint-config-prettier last: formatting is Prettier's job, not ESLint's.
 *
 * File patterns are relative to the current folder, so the fixtures' mini trees
 * (test/lint-fixtures/<case>/workflows/...) get the workflow rules when the test lints from there.
 */
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Node built-ins by bare name (`fs`, `fs/promises`, `path`) as a regex alternation. */
const BUILTIN_NAMES = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '')))].map((m) => m.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|');

/** The only packages workflow code may load. */
const WORKFLOW_PACKAGES = '@temporalio/workflow|@temporalio/common';

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const WORKFLOW_FILES = ['workflows/**/*.ts', 'workflows/**/*.mts', 'workflows/**/*.cts', 'workflows/**/*.js', 'workflows/**/*.mjs'];
/** Test files are never bundled into the workflow sandbox. */
const TEST_FILES = ['**/*.test.*', '**/*.spec.*'];

/** Rules for code that runs in the Temporal workflow sandbox. */
const workflowRules = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          regex: `^(node:.*|(${BUILTIN_NAMES})(/.*)?)$`,
          message: 'Node built-ins cannot be used in workflow code (pass values in the workflow input, or do the I/O in an activity).',
          allowTypeImports: true,
        },
        {
          // Any package but the two Temporal ones (Node built-ins are the pattern above).
          regex: `^(?![./])(?!(${WORKFLOW_PACKAGES})$)(?!node:)(?!(${BUILTIN_NAMES})(/|$))`,
          message: `Workflow code loads only ${WORKFLOW_PACKAGES.replace('|', ' and ')}; \`import type\` may come from elsewhere.`,
          allowTypeImports: true,
        },
        {
          // workflows/ is flat: `../` leaves it. contracts/ is the one room below it.
          regex: '^\\.\\./(?!contracts/)',
          message: 'Workflow code loads only its own files and contracts/; only `import type` may reach other rooms (e.g. activities/).',
          allowTypeImports: true,
        },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'process', message: '`process` is not available in workflow code: pass values in the workflow input.' },
    { name: 'require', message: '`require` is not allowed in workflow code: import from @temporalio/workflow, contracts/ or ./ files.' },
    { name: 'setTimeout', message: '`setTimeout` is not allowed in workflow code: use sleep() from @temporalio/workflow.' },
    { name: 'setInterval', message: '`setInterval` is not allowed in workflow code: loop over sleep() from @temporalio/workflow.' },
    { name: 'setImmediate', message: '`setImmediate` is not allowed in workflow code: use sleep() or condition() from @temporalio/workflow.' },
  ],
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: '`Math.random` is non-deterministic: use uuid4() from @temporalio/workflow, or pass a seed in.' },
    { object: 'globalThis', property: 'process', message: '`process` is not available in workflow code: pass values in the workflow input.' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: 'ImportExpression', message: 'No dynamic import() in workflow code: the workflow bundle is built ahead of time.' },
  ],
};

export default tseslint.config(
  {
    // Global ignores. test/lint-fixtures/ holds code that is meant to break the rules;
    // test/unit/lint.test.ts lints it on purpose.
    ignores: ['**/node_modules/', '**/dist/', '**/.synapse/', '.cache/', 'coverage/', 'test/lint-fixtures/', 'runtimes/python/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Under verbatimModuleSyntax `import { type A } from 'x'` still loads 'x': write `import type { A }`.
      '@typescript-eslint/no-import-type-side-effects': 'error',
    },
  },
  {
    files: TS_FILES,
    rules: {
      // tsc (strict) already reports undefined names, with the types' knowledge of globals.
      'no-undef': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The author API's generic defaults (`class Action<P = any>`) let a plugin write
    // `extends TrainAction` without naming its params type; `unknown` there would make every
    // subclass's `params` unusable. Only that position may say `any` in sdk/.
    files: ['sdk/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TSAnyKeyword:not(TSTypeParameter > TSAnyKeyword.default)',
          message: 'No `any` in sdk/ outside a type parameter default (`<P = any>`): use `unknown` or a real type.',
        },
      ],
    },
  },
  {
    files: WORKFLOW_FILES,
    ignores: TEST_FILES,
    rules: workflowRules,
  },
  prettier,
);
