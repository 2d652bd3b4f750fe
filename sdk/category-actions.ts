/**
 * One typed base class per action of every category in the seed. Each fixes its category,
 * action name, default method and the seed's progress categories. Some have their category
 * behaviour in a file of their own: TrainAction (sdk/trainer.ts: the epoch loop), and the
 * ExportAction and UploadAction subclasses BaseExporter and BaseUploader (paged exports,
 * batched uploads). Declare params once with `ValidationAction.withParams(Params)` (sdk/action.ts).
 */
import { Action } from './action.js';
import type { Category, Method } from './categories.js';
import type { ProgressCategoryDef } from '../contracts/run-state.js';

// ----- neural_net -------------------------------------------------------------------------

// neural_net/train is TrainAction (sdk/trainer.ts): the trainer, run by the train workflow.
export { TrainAction } from './trainer.js';

/** neural_net/inference: runs model predictions on data. */
export abstract class InferenceAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'inference';
  static override category: Category = 'neural_net';
  static override method: Method = 'restapi';
}

/** neural_net/test: evaluates a model on a dataset. */
export abstract class TestAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'test';
  static override category: Category = 'neural_net';
  static override method: Method = 'job';
}

/** neural_net/tune: hyperparameter search over train trials. */
export abstract class TuneAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'tune';
  static override category: Category = 'neural_net';
  static override method: Method = 'job';
}

/** neural_net/deployment: serves a model. */
export abstract class DeploymentAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'deployment';
  static override category: Category = 'neural_net';
  static override method: Method = 'job';
}

/** neural_net/gradio: an interactive web demo of a model. */
export abstract class GradioAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'gradio';
  static override category: Category = 'neural_net';
  static override method: Method = 'restapi';
}

// ----- export, upload ---------------------------------------------------------------------

/** export/export: exports annotated data (assignment, ground_truth, task targets). */
export abstract class ExportAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'export';
  static override category: Category = 'export';
  static override method: Method = 'job';
  static override progressCategories: Record<string, ProgressCategoryDef> = {
    dataset_conversion: { weight: 100, label: 'Convert dataset' },
  };
}

/** upload/upload: uploads files and registers data units. */
export abstract class UploadAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'upload';
  static override category: Category = 'upload';
  static override method: Method = 'job';
  static override progressCategories: Record<string, ProgressCategoryDef> = {
    analyze_collection: { weight: 2, label: 'Analyze collection' },
    upload_data_files: { weight: 38, label: 'Upload data files' },
    generate_data_units: { weight: 60, label: 'Generate data units' },
  };
}

// ----- annotation pipeline ----------------------------------------------------------------

/** smart_tool/auto_label: labels data with a model. */
export abstract class AutoLabelAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'auto_label';
  static override category: Category = 'smart_tool';
  static override method: Method = 'task';
}

/** pre_annotation/pre_annotation: prepares data for annotation. */
export abstract class PreAnnotationAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'pre_annotation';
  static override category: Category = 'pre_annotation';
  static override method: Method = 'job';
}

/** pre_annotation/to_task: turns data into annotation tasks. */
export abstract class ToTaskAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'to_task';
  static override category: Category = 'pre_annotation';
  static override method: Method = 'job';
}

/** post_annotation/post_annotation: processes completed annotations. */
export abstract class PostAnnotationAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'post_annotation';
  static override category: Category = 'post_annotation';
  static override method: Method = 'job';
}

/** data_validation/validation: data quality and integrity checks. */
export abstract class ValidationAction<P = any, R = unknown> extends Action<P, R> {
  static override action = 'validation';
  static override category: Category = 'data_validation';
  static override method: Method = 'job';
}
