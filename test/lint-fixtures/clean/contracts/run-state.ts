import { z } from 'zod';

export const runState = z.object({ step: z.number().int().min(0) });
export type RunState = z.infer<typeof runState>;
export const WORKFLOW_TYPES = { flow: 'flow' } as const;
