/**
 * Softmax regression on shape features of the generated images: per image the shape's mask
 * (pixels unlike the background), its bounding box, and how the mask fills the box (a square
 * fills all of it, a circle about 79%, a triangle half, bottom-heavy). Plain TypeScript, run
 * in a plugin host (a child process of the worker); deterministic for a given seed (a seeded shuffle, float64 arithmetic).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BaseHyperparameters,
  TrainAction,
  z,
  type EpochState,
  type MetricValues,
  type Prediction,
  type StepContext,
  type TrainContext,
  type TrainDataset,
  type TrainDatasetItem,
  decodePng,
} from '@synapse/sdk';

const Hyperparameters = BaseHyperparameters.extend({
  learning_rate: z.number().positive().max(10).default(0.5),
  batch_size: z.number().int().min(1).max(4096).default(16),
  /** Save the model every this many steps inside an epoch (0: only at the end of an epoch). */
  checkpoint_every: z.number().int().min(0).default(0),
  /** Sleep per step: makes a tiny epoch long enough to watch, cancel or kill (demos and tests). */
  step_delay_ms: z.number().int().min(0).max(60_000).default(0),
});
type Hyper = z.infer<typeof Hyperparameters>;

interface Model {
  classes: string[];
  mean: number[];
  std: number[];
  /** weights[class][feature] */
  weights: number[][];
  bias: number[];
}

const FEATURES = 8;

/** mulberry32: a small seeded PRNG, so an epoch's order is the same in every attempt. */
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

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const rnd = random(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface Analysis {
  features: number[];
  box: { x: number; y: number; width: number; height: number } | null;
  /** The shape's mean colour. */
  color: [number, number, number];
}

/** The generated images' colours (platform/generate.ts), for the predicted `color` attribute. */
const COLORS: Record<string, [number, number, number]> = { red: [220, 40, 40], green: [40, 180, 60], blue: [40, 80, 220], yellow: [230, 200, 30] };

function nearestColor(rgb: [number, number, number]): string {
  let best = 'red';
  let bestD = Infinity;
  for (const [name, c] of Object.entries(COLORS)) {
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bestD) [best, bestD] = [name, d];
  }
  return best;
}

/** The shape features, box and colour of one image file. */
export function analyse(file: string): Analysis {
  const { width, height, rgb } = decodePng(readFileSync(file), file);
  const bg = [rgb[0] as number, rgb[1] as number, rgb[2] as number];
  const mask = new Uint8Array(width * height);
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const diff = Math.abs((rgb[o] as number) - bg[0]!) + Math.abs((rgb[o + 1] as number) - bg[1]!) + Math.abs((rgb[o + 2] as number) - bg[2]!);
      if (diff > 30) {
        mask[y * width + x] = 1;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return { features: new Array<number>(FEATURES).fill(0), box: null, color: [0, 0, 0] };
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const rowFill = (y: number) => {
    let n = 0;
    for (let x = x0; x <= x1; x++) n += mask[y * width + x] as number;
    return n / w;
  };
  const cell = (fx0: number, fx1: number, fy0: number, fy1: number) => {
    let n = 0;
    let all = 0;
    for (let y = y0 + Math.floor(fy0 * h); y < y0 + Math.ceil(fy1 * h); y++) {
      for (let x = x0 + Math.floor(fx0 * w); x < x0 + Math.ceil(fx1 * w); x++) {
        n += mask[y * width + x] as number;
        all++;
      }
    }
    return all ? n / all : 0;
  };
  let area = 0;
  const sum = [0, 0, 0];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!mask[y * width + x]) continue;
      area++;
      for (let k = 0; k < 3; k++) sum[k]! += rgb[(y * width + x) * 3 + k] as number;
    }
  }
  const features = [
    area / (w * h), // fill ratio
    Math.min(4, w / h), // aspect
    rowFill(y0), // top row
    rowFill(y1), // bottom row
    rowFill(y0 + Math.floor(h / 2)), // middle row
    cell(0, 0.2, 0, 0.2), // top-left corner
    cell(0, 0.2, 0.8, 1), // bottom-left corner
    cell(0.4, 0.6, 0, 0.2), // top centre
  ];
  return { features, box: { x: x0, y: y0, width: w, height: h }, color: [sum[0]! / area, sum[1]! / area, sum[2]! / area] };
}

function scores(model: Model, x: number[]): number[] {
  const z = model.weights.map((row, c) => row.reduce((s, wi, i) => s + wi * (((x[i] as number) - model.mean[i]!) / model.std[i]!), model.bias[c] as number));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export class ShapeFeaturesTrainer extends TrainAction.withHyperparameters(Hyperparameters)<Model> {
  /** Per image file, computed once per plugin host process. */
  private cache = new Map<string, Analysis>();

  private analysis(item: TrainDatasetItem): Analysis {
    const file = item.files.image;
    if (!file) throw new Error(`item ${item.id} has no image file`);
    let a = this.cache.get(file);
    if (!a) {
      a = analyse(file);
      this.cache.set(file, a);
    }
    return a;
  }

  private x(item: TrainDatasetItem): number[] {
    return this.analysis(item).features;
  }

  private labelled(dataset: TrainDataset, split: string): { x: number[]; y: number; item: TrainDatasetItem }[] {
    return dataset.items
      .filter((i) => (split === 'all' || i.split === split) && i.label !== null && dataset.classes.includes(i.label))
      .map((item) => ({ x: this.x(item), y: dataset.classes.indexOf(item.label as string), item }));
  }

  override prepare(ctx: TrainContext, dataset: TrainDataset): void {
    for (const item of dataset.items) this.x(item);
    ctx.logMessage(`features of ${dataset.items.length} images computed`);
  }

  createModel(_ctx: TrainContext, dataset: TrainDataset): Model {
    const train = this.labelled(dataset, 'train');
    const mean = Array.from({ length: FEATURES }, (_, i) => train.reduce((s, r) => s + (r.x[i] as number), 0) / Math.max(1, train.length));
    const std = mean.map((m, i) => Math.sqrt(train.reduce((s, r) => s + ((r.x[i] as number) - m) ** 2, 0) / Math.max(1, train.length)) || 1);
    return {
      classes: [...dataset.classes],
      mean,
      std,
      weights: dataset.classes.map(() => new Array<number>(FEATURES).fill(0)),
      bias: dataset.classes.map(() => 0),
    };
  }

  async trainEpoch(ctx: TrainContext, state: EpochState<Model, Hyper>): Promise<MetricValues> {
    const h = state.hyperparameters;
    const model = state.model;
    const rows = shuffled(this.labelled(state.dataset, 'train'), state.seed);
    const steps = Math.ceil(rows.length / h.batch_size);
    // Running sums over the epoch's steps; a resumed epoch starts from those of its checkpoint.
    let loss = state.totals.loss_sum ?? 0;
    let correct = state.totals.correct ?? 0;
    let seen = state.totals.seen ?? 0;
    for (let step = state.startStep; step < steps; step++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const batch = rows.slice(step * h.batch_size, (step + 1) * h.batch_size);
      const gradW = model.weights.map((r) => r.map(() => 0));
      const gradB = model.bias.map(() => 0);
      for (const r of batch) {
        const p = scores(model, r.x);
        loss -= Math.log(Math.max(1e-12, p[r.y] as number));
        if (p.indexOf(Math.max(...p)) === r.y) correct++;
        p.forEach((pc, c) => {
          const g = pc - (c === r.y ? 1 : 0);
          gradB[c]! += g;
          r.x.forEach((xi, i) => (gradW[c]![i]! += g * ((xi - model.mean[i]!) / model.std[i]!)));
        });
      }
      seen += batch.length;
      const lr = h.learning_rate / batch.length;
      model.weights.forEach((row, c) => row.forEach((_, i) => (row[i]! -= lr * gradW[c]![i]!)));
      model.bias.forEach((_, c) => (model.bias[c]! -= lr * gradB[c]!));
      ctx.setProgress(step + 1, steps); // the `epoch` category: steps of this epoch
      if (h.step_delay_ms > 0) await sleep(h.step_delay_ms);
      if (h.checkpoint_every > 0 && (step + 1) % h.checkpoint_every === 0 && step + 1 < steps)
        await ctx.checkpointStep(step + 1, { loss_sum: loss, correct, seen });
    }
    const val = await this.evaluate(ctx, model, state.dataset, 'val');
    // Loss and accuracy over every step of the epoch, those before a resume included.
    return { loss: seen ? loss / seen : 0, accuracy: seen ? correct / seen : 0, val_accuracy: val.accuracy ?? null };
  }

  async evaluate(_ctx: StepContext, model: Model, dataset: TrainDataset, split: string): Promise<MetricValues> {
    const rows = this.labelled(dataset, split);
    let correct = 0;
    let loss = 0;
    for (const r of rows) {
      const p = scores(model, r.x);
      loss -= Math.log(Math.max(1e-12, p[r.y] as number));
      if (p.indexOf(Math.max(...p)) === r.y) correct++;
    }
    return { accuracy: rows.length ? correct / rows.length : 0, loss: rows.length ? loss / rows.length : 0, items: rows.length };
  }

  save(model: Model): Uint8Array {
    return Buffer.from(JSON.stringify(model));
  }

  load(bytes: Uint8Array): Model {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as Model;
  }

  /** A box of the predicted class around the shape, with its colour: the project's bbox classes. */
  override async predict(_ctx: StepContext, model: Model, items: TrainDatasetItem[], _classes: string[]): Promise<Prediction[]> {
    return items.map((item): Prediction => {
      const a = this.analysis(item);
      const p = scores(model, a.features);
      const best = p.indexOf(Math.max(...p));
      const box = a.box ?? { x: 0, y: 0, width: 1, height: 1 };
      return {
        itemId: item.id,
        annotations: {
          version: 1,
          data_type: 'image',
          ...(item.annotations.size ? { size: item.annotations.size } : {}),
          annotations: [
            {
              id: `pred-${item.id}`,
              type: 'bbox',
              class_name: model.classes[best] as string,
              ...box,
              attributes: { color: nearestColor(a.color) },
              confidence: Number((p[best] as number).toFixed(6)),
            },
          ],
        },
      };
    });
  }
}
