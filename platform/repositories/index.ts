/** Typed access to the platform, one module per entity; every function takes a Db (or a transaction). */
export * from './collections.js';
export { inTransaction, type Db } from './common.js';
export * from './ground-truth.js';
export * from './models.js';
export * from './projects.js';
export * from './stats.js';
export * from './storages.js';
export * from './task-queries.js';
export * from './item-results.js';
export * from './deployments.js';
export * from './summaries.js';
export * from './create-named.js';
