/**
 * Clients start workflows by type name (contracts/run-input.ts WORKFLOW_TYPES), never by
 * importing workflow code; the worker registers what workflows/index.ts exports. A name on
 * one side that is missing on the other would only show when a run of that kind is started.
 */
import { describe, expect, it } from 'vitest';
import { WORKFLOW_TYPES } from '../../contracts/run-input.js';
import * as workflows from '../../workflows/index.js';

describe('workflow type names', () => {
  it('every WORKFLOW_TYPES value is a workflow function exported by workflows/index.ts under that name', () => {
    const exported = workflows as Record<string, unknown>;
    for (const [kind, name] of Object.entries(WORKFLOW_TYPES)) {
      expect(typeof exported[name], `${kind}: ${name}`).toBe('function');
      expect((exported[name] as { name: string }).name, kind).toBe(name);
    }
  });
});
