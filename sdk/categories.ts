/** The seven plugin categories of the seed and the actions each one offers. */
export const CATEGORY_ACTIONS = {
  neural_net: ['train', 'inference', 'test', 'tune', 'deployment', 'gradio'],
  export: ['export'],
  upload: ['upload'],
  smart_tool: ['auto_label'],
  pre_annotation: ['pre_annotation', 'to_task'],
  post_annotation: ['post_annotation'],
  data_validation: ['validation'],
} as const satisfies Record<string, readonly string[]>;

export type Category = keyof typeof CATEGORY_ACTIONS;
export const CATEGORIES = Object.keys(CATEGORY_ACTIONS) as Category[];

/**
 * How an action executes: `job` is long, durable and heartbeated; `task` is short;
 * `restapi` is served over HTTP. Each method has its own Temporal task queue.
 */
export const METHODS = ['job', 'task', 'restapi'] as const;
export type Method = (typeof METHODS)[number];

/** Languages plugin code may be written in. */
export const RUNTIMES = ['typescript', 'python'] as const;
export type Runtime = (typeof RUNTIMES)[number];
