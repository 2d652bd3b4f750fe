/**
 * Which kind of action class each run shape runs. A run names a plugin action; the class it
 * resolves to must be the one its shape drives (an export run calls an exporter's hooks, a
 * train run a trainer's), and a step checks that before it does anything, with a type
 * guard: the class it gets back is typed as what it is, with no casts.
 */
import { isActionClass } from '../sdk/action.js';
import { isExporterClass } from '../sdk/exporter.js';
import { isTrainerClass } from '../sdk/trainer.js';
import { isUploaderClass } from '../sdk/uploader.js';

/** A kind of action class: what a shape needs, and the guard that checks a loaded class. */
export interface ActionKind<C> {
  /** What the shape needs, for the error: "a BaseExporter (an export run needs one)". */
  needs: string;
  is(cls: unknown): cls is C;
}

/**
 * A class loaded from a plugin, as a step uses it: its base's statics, and a constructor.
 * The bases are abstract; the class a plugin exports and names in config.yaml is the
 * concrete subclass, so the step may instantiate it.
 */
export type LoadedClass<B extends abstract new () => object> = Omit<B, 'prototype'> & (new () => InstanceType<B>);

/** The class a guard checks for. */
type Guarded<G> = G extends (value: unknown) => value is infer B ? B : never;

function kind<B extends abstract new () => object>(needs: string, guard: (value: unknown) => value is B): ActionKind<LoadedClass<B>> {
  return { needs, is: (cls: unknown): cls is LoadedClass<B> => guard(cls) };
}

/** Any action: the simple run shape calls its `start(ctx)`. */
export const ANY_ACTION = kind('an Action', isActionClass);
export const EXPORTER = kind('a BaseExporter (an export run needs one)', isExporterClass);
export const UPLOADER = kind('a BaseUploader (an upload run needs one)', isUploaderClass);
export const TRAINER = kind('a TrainAction (a train, test or inference run needs one)', isTrainerClass);

export type ActionInstanceClass = LoadedClass<Guarded<typeof isActionClass>>;
export type ExporterClass = LoadedClass<Guarded<typeof isExporterClass>>;
export type UploaderClass = LoadedClass<Guarded<typeof isUploaderClass>>;
export type TrainerClass = LoadedClass<Guarded<typeof isTrainerClass>>;
