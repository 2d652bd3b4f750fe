/**
 * Room rules and the cycle check (issue 11, ../shared/DESIGN.md section 3), run by `npm run lint`:
 *
 *   depcruise --config .dependency-cruiser.cjs <rooms...>
 *
 * Each top folder is a room; rooms import downwards only. ESLint sees one file at a time, so
 * the rules that need the resolved import graph live here: which room may import which, and no
 * cycles. Paths are relative to the current folder, so `test/unit/lint.test.ts` runs the same
 * rules on a small fixture tree (test/lint-fixtures/<case>/) by running there.
 *
 * Type-only imports (`import type`, `export type`) are erased before anything runs, so the rules
 * that protect what gets LOADED (workflow sandbox, client start-up) let them through. The cycle
 * check counts them: a cycle made of types still ties two modules so that neither can be read,
 * moved or tested without the other, and it is how the issue measured the nine-file
 * activities/ <-> workflows/ cycle.
 *
 * Note: `import { type A } from 'x'` is NOT type-only under verbatimModuleSyntax (it still loads
 * 'x'); ESLint's @typescript-eslint/no-import-type-side-effects makes it `import type { A }`.
 */
'use strict';

const path = require('node:path');

/** Rooms below which nothing of the engine may be reached from sdk/ (the plugin author's API). */
const ENGINE_ROOMS = ['engine', 'platform', 'storage', 'activities', 'workflows', 'client', 'workers', 'gateway', 'cli'];

/** Test files are never bundled into the workflow sandbox nor loaded by the CLI. */
const TEST_FILE = '\\.(test|spec)\\.[cm]?[jt]s$';

/**
 * Packages by resolved path. `(^|/)`: run from a fixture tree, node_modules is `../../../node_modules`.
 */
const pkg = (names) => `(^|/)node_modules/(${names.join('|')})/`;
const TEMPORAL_WORKFLOW_PACKAGES = pkg(['@temporalio/workflow', '@temporalio/common']);

/** A regex for paths inside any of these rooms. */
const room = (names) => `^(${names.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycle (type-only imports count too): move what both sides need down into contracts/ or a pure helper.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'workflows-no-node-builtins',
      severity: 'error',
      comment: 'workflows/ runs in the deterministic Temporal sandbox: no Node built-ins. Pass values in the workflow input, or do the I/O in an activity.',
      from: { path: '^workflows/', pathNot: TEST_FILE },
      to: { dependencyTypes: ['core'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workflows-only-contracts-and-temporal',
      severity: 'error',
      comment: 'workflows/ loads only @temporalio/workflow, @temporalio/common, contracts/ and its own files. Types may come from activities/ (`import type`).',
      from: { path: '^workflows/', pathNot: TEST_FILE },
      to: {
        pathNot: [room(['workflows', 'contracts']), TEMPORAL_WORKFLOW_PACKAGES],
        dependencyTypesNot: ['type-only', 'core'],
      },
    },
    {
      name: 'workflows-types-only-from-below',
      severity: 'error',
      comment: 'workflows/ takes types only from contracts/, activities/ (the proxies), @temporalio/* and Node; never from the rooms above it or beside it.',
      from: { path: '^workflows/', pathNot: TEST_FILE },
      to: {
        dependencyTypes: ['type-only'],
        pathNot: [room(['workflows', 'contracts', 'activities']), pkg(['@temporalio/[^/]+'])],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'sdk-no-engine',
      severity: 'error',
      comment: "sdk/ is the plugin author's API only: no engine code, not even its types (shared types live in contracts/).",
      from: { path: '^sdk/', pathNot: TEST_FILE },
      to: { path: room(ENGINE_ROOMS) },
    },
    {
      name: 'contracts-only-contracts',
      severity: 'error',
      comment: 'contracts/ is the lowest room: it imports only contracts/, zod and @temporalio/workflow|common.',
      from: { path: '^contracts/', pathNot: TEST_FILE },
      to: { pathNot: [room(['contracts']), pkg(['zod']), TEMPORAL_WORKFLOW_PACKAGES] },
    },
    {
      name: 'client-no-activity-or-workflow-values',
      severity: 'error',
      comment:
        'client/ starts workflows by WORKFLOW_TYPES name: loading activities/ or workflows/ would pull the whole engine into every CLI command. `import type` is fine.',
      from: { path: '^client/', pathNot: TEST_FILE },
      to: { path: room(['activities', 'workflows']), dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'platform-storage-stay-low',
      severity: 'error',
      comment: 'platform/ and storage/ sit below the engine: they import contracts/ (and sdk/ types), never the rooms above.',
      from: { path: room(['platform', 'storage']), pathNot: TEST_FILE },
      to: { path: room(['activities', 'workflows', 'client', 'engine', 'cli', 'gateway', 'workers']) },
    },
    {
      name: 'only-bin-imports-cli',
      severity: 'error',
      comment: 'cli/ is the top: only bin/ starts it. Share code through client/ (or a lower room) instead.',
      from: { pathNot: ['^(bin|cli)/'] },
      to: { path: '^cli/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)dist/', '(^|/)\\.synapse/', '^test/lint-fixtures/', '^runtimes/python/'] },
    // Type-only imports are part of the graph (see the header); tsc erases them, depcruise must not.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: path.join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
