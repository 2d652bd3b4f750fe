import { setTimeout as sleep } from 'node:timers/promises';
import { ValidationAction, z, type RunContext } from '@synapse/sdk';

const Params = z.strictObject({
  count: z.number().int().min(0).max(1_000_000).default(200),
  seed: z.number().int().default(42),
  delayMs: z.number().int().min(0).max(60_000).default(20),
  checkpointEvery: z.number().int().min(1).default(20),
});
type Params = z.infer<typeof Params>;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Item {
  index: number;
  width: number;
  height: number;
  boxes: Box[];
}

/** Where a run stands; saved as the checkpoint. */
interface Progress {
  next: number;
  valid: number;
  invalid: number;
  invalidIndices: number[];
}

/** mulberry32: a small deterministic PRNG, so item i is the same in every attempt. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeItem(seed: number, index: number): Item {
  const rnd = random(seed * 1_000_003 + index);
  const width = 64 + Math.floor(rnd() * 960);
  const height = 64 + Math.floor(rnd() * 960);
  // Mostly sane boxes; about one item in ten has a box that spills over the image edge.
  const boxes = Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => {
    const w = 1 + Math.floor(rnd() * width * 0.3);
    const h = 1 + Math.floor(rnd() * height * 0.3);
    const spill = rnd() < 0.04 ? width : 0;
    return { x: Math.floor(rnd() * (width - w)) + spill, y: Math.floor(rnd() * (height - h)), w, h };
  });
  return { index, width, height, boxes };
}

function isValid(item: Item): boolean {
  return item.boxes.every((b) => b.w > 0 && b.h > 0 && b.x + b.w <= item.width && b.y + b.h <= item.height);
}

export class ValidateDataset extends ValidationAction.withParams(Params) {
  static override progressCategories = {
    load: { weight: 1, label: 'Load dataset' },
    validate: { weight: 4, label: 'Validate items' },
  };
  static override metricsCategories = { validation: { label: 'Validation' } };

  async start(ctx: RunContext<Params>) {
    const { count, seed, delayMs, checkpointEvery } = ctx.params;
    const resumed = ctx.resumeState<Progress>();
    const resumedFrom = resumed ? resumed.next : null;
    const state: Progress = resumed ? { ...resumed, invalidIndices: [...resumed.invalidIndices] } : { next: 0, valid: 0, invalid: 0, invalidIndices: [] };
    ctx.logMessage(resumed ? `resuming at item ${state.next} of ${count}` : `validating ${count} items (seed ${seed})`);

    ctx.setProgress(count, count, 'load');
    ctx.setProgress(state.next, count, 'validate');
    while (state.next < count) {
      if (ctx.signal.aborted) {
        ctx.logMessage(`cancelled at item ${state.next}`, 'WARNING');
        break;
      }
      const item = makeItem(seed, state.next);
      if (delayMs > 0) await sleep(delayMs);
      if (isValid(item)) state.valid++;
      else {
        state.invalid++;
        if (state.invalidIndices.length < 20) state.invalidIndices.push(item.index);
      }
      ctx.log('item_checked', { index: item.index });
      state.next++;
      ctx.setProgress(state.next, count, 'validate');
      ctx.setMetrics({ checked: state.next, valid: state.valid, invalid: state.invalid, validRate: state.valid / state.next }, 'validation');
      if (state.next % checkpointEvery === 0 || state.next === count) await ctx.checkpoint(state);
    }
    if (count === 0) ctx.logMessage('nothing to validate');
    else ctx.logMessage(`done: ${state.valid} valid, ${state.invalid} invalid`);
    return {
      checked: state.next,
      valid: state.valid,
      invalid: state.invalid,
      invalidIndices: state.invalidIndices,
      resumedFrom,
    };
  }
}
