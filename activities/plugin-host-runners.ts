/**
 * Every host runner by name (plugin-host-runner.ts). One file per run shape, each owning its
 * runners' names (prefixed with the shape: `export-page`, `train-epoch`, ...).
 */
import type { HostRunner } from './plugin-host-runner.js';
import { EXPORT_RUNNERS } from './plugin-host-run-export.js';
import { SERVE_RUNNERS } from './plugin-host-run-serve.js';
import { TRAIN_RUNNERS } from './plugin-host-run-train.js';
import { UPLOAD_RUNNERS } from './plugin-host-run-upload.js';

export const HOST_RUNNERS: Readonly<Record<string, HostRunner>> = Object.freeze({ ...EXPORT_RUNNERS, ...UPLOAD_RUNNERS, ...TRAIN_RUNNERS, ...SERVE_RUNNERS });

/** The runner named `name` (own properties only), or undefined. */
export function hostRunner(name: string): HostRunner | undefined {
  return Object.hasOwn(HOST_RUNNERS, name) ? HOST_RUNNERS[name] : undefined;
}
