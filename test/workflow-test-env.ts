/**
 * Fast workflow tests: the real workflows (workflows/index.ts, bundled once per test file) run
 * by an in-process worker whose activities are stubs the test writes, so a test sees exactly
 * which steps a run shape starts, how many at once, what it carries over a continue-as-new and
 * what it records, in seconds and without a database, storage or plugin.
 *
 * The server is Temporal's time-skipping test server (the Java one from Maven Central, fetched
 * by scripts/test-server.sh; the SDK's own download needs temporal.download, which this
 * project's machines cannot reach). Where it is not installed, the tests run against the dev
 * server that test/global-setup.ts starts for every test file, and say so once: the tests here
 * never depend on skipped time (no timers, no retry backoff), only on the commands the
 * workflows issue, which both servers run alike.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { inject } from 'vitest';
import type { RunActionInput } from '../contracts/run-input.js';
import type { Activities } from '../workflows/steps.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Stub activities by name; a test writes only the ones its workflow calls. */
export type StubActivities = { [K in keyof Activities]?: (input: Parameters<Activities[K]>[0]) => Promise<Awaited<ReturnType<Activities[K]>>> };

export interface WorkflowTestEnv {
  readonly env: TestWorkflowEnvironment;
  /** True on the time-skipping test server, false on the shared dev server. */
  readonly timeSkipping: boolean;
  /**
   * Runs `fn` while a worker with the bundled workflows and `activities` polls a task queue
   * of its own (passed to `fn`); the worker stops when `fn` settles.
   */
  withWorker<T>(activities: StubActivities, fn: (taskQueue: string) => Promise<T>): Promise<T>;
  teardown(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
let queues = 0;

/** The path of the time-skipping test server's executable, or undefined when it is not installed. */
export function findTestServer(): string | undefined {
  const found = spawnSync('bash', [path.join(ROOT, 'scripts', 'test-server.sh'), '--find'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : undefined;
}

/** Starts the environment: the test server (a fresh one per call), or the shared dev server. */
export async function startWorkflowTestEnv(): Promise<WorkflowTestEnv> {
  try {
    // Workers log every state change at INFO; the tests' output is what failed.
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process.
  }
  const server = findTestServer();
  if (!server) console.log('workflow tests: no time-skipping test server (bash scripts/test-server.sh); using the shared dev server');
  const env = server
    ? await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: server } } })
    : await TestWorkflowEnvironment.createFromExistingServer({ address: inject('temporalAddress') });
  bundle ??= bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'workflows', 'index.ts'), logger: new DefaultLogger('WARN') });
  const code = await bundle;
  return {
    env,
    timeSkipping: env.supportsTimeSkipping,
    async withWorker<T>(activities: StubActivities, fn: (taskQueue: string) => Promise<T>): Promise<T> {
      const taskQueue = `workflow-test-${process.pid}-${++queues}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: code,
        activities,
        // Heartbeats reach the server at once, so a stub learns of a cancellation within ~100 ms.
        maxHeartbeatThrottleInterval: '100ms',
        defaultHeartbeatThrottleInterval: '100ms',
      });
      return worker.runUntil(fn(taskQueue));
    },
    teardown: () => env.teardown(),
  };
}

/** A run's input as clients build it, for a plugin that does not exist (activities are stubs). */
export function stubRunInput(category: string, progressCategories: RunActionInput['progressCategories'] = {}): RunActionInput {
  return {
    plugin: { code: 'stub', version: '1.0.0' },
    action: category,
    category,
    method: 'job',
    params: {},
    progressCategories,
    heartbeatTimeoutSeconds: 30,
    startToCloseSeconds: 600,
  };
}

/** Inside a stub activity: the run id of the workflow execution that started it (one per continue-as-new). */
export function executionOfActivity(): string {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('not a workflow activity');
  return execution.runId;
}

/** Counts steps in flight, and the most there ever were at once. */
export class InFlight {
  now = 0;
  max = 0;
  started = 0;
  private waiting: (() => void)[] = [];
  /**
   * With `fill`, each step is held at its start until `slots` steps are in flight (or all `total`
   * have started), so "fills every slot" does not hang on how fast a loaded machine dispatches the
   * next activity. A workflow that never fills the slots leaves the steps waiting: the test times
   * out instead of passing.
   */
  constructor(private readonly fill?: { slots: number; total: number }) {}
  /** Runs `fn` counted as one step in flight. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    this.now++;
    this.started++;
    this.max = Math.max(this.max, this.now);
    try {
      if (this.fill) {
        if (this.now >= this.fill.slots || this.started >= this.fill.total) {
          for (const release of this.waiting.splice(0)) release();
        } else {
          await new Promise<void>((resolve) => this.waiting.push(resolve));
        }
      }
      return await fn();
    } finally {
      this.now--;
    }
  }
}
