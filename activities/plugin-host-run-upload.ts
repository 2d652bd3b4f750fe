/**
 * The upload shape's host runners (see plugin-host-runner.ts): run inside a plugin host.
 */
import type { HostRunner } from './plugin-host-runner.js';

export const UPLOAD_RUNNERS: Record<string, HostRunner> = {};
