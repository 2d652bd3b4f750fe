/**
 * `synapse plugin create` on a terminal asks for what its flags did not give — code, name,
 * description, category and actions (several at once) — as the seed's create does, with the
 * defaults filled in so Enter accepts them. Given every flag it asks nothing; without a TTY it
 * asks nothing and the scaffold's checks name the missing flags (scripts and CI stay
 * non-interactive). Only this file knows @clack/prompts.
 */
import path from 'node:path';
import { CATEGORIES, CATEGORY_ACTIONS, type Category } from '../sdk/categories.js';
import { defaultDescription, type ScaffoldOptions } from './plugin-scaffold.js';

const CODE = /^[a-z0-9_-]+$/;

/** The flags `plugin create` takes (dir is its optional argument). */
export interface CreateFlags {
  category?: string;
  code?: string;
  name?: string;
  description?: string;
  action?: string;
  runtime?: string;
}

/** True when every value a prompt would ask for was given: then nothing is asked. */
export function allGiven(dir: string | undefined, flags: CreateFlags): boolean {
  return dir !== undefined && [flags.category, flags.code, flags.name, flags.description, flags.action].every((v) => v !== undefined);
}

/** Thrown when the person presses Ctrl-C / Esc at a prompt: nothing was written. */
export class PromptCancelled extends Error {
  constructor() {
    super('plugin create cancelled; nothing was written');
  }
}

const titleCase = (s: string) =>
  s
    .split(/[-_]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join(' ');

/** Asks for the missing values on the terminal; returns the scaffold's options. */
export async function promptMissing(dir: string | undefined, flags: CreateFlags): Promise<ScaffoldOptions> {
  const p = await import('@clack/prompts');
  const answer = <T>(v: T | symbol): Exclude<T, symbol> => {
    if (p.isCancel(v)) {
      p.cancel('cancelled');
      throw new PromptCancelled();
    }
    return v as Exclude<T, symbol>;
  };
  p.intro('synapse plugin create');
  const code =
    flags.code ??
    answer(
      await p.text({
        message: 'Plugin code (lowercase letters, digits, "_" and "-")',
        ...(dir !== undefined && CODE.test(path.basename(path.resolve(dir))) ? { initialValue: path.basename(path.resolve(dir)) } : {}),
        validate: (v) => (v && CODE.test(v) ? undefined : 'lowercase letters, digits, "_" and "-" only'),
      }),
    );
  const name =
    flags.name ??
    answer(await p.text({ message: 'Display name', initialValue: titleCase(code), validate: (v) => (v && v.trim() ? undefined : 'must not be empty') }));
  const category = (flags.category ??
    answer(
      await p.select({
        message: 'Category',
        options: CATEGORIES.map((c) => ({ value: c, label: c, hint: CATEGORY_ACTIONS[c].join(', ') })),
      }),
    )) as Category;
  const description =
    flags.description ??
    answer(
      await p.text({
        message: 'Description (one line)',
        initialValue: defaultDescription(name, category),
        validate: (v) => (v && v.trim() ? undefined : 'must not be empty'),
      }),
    );
  const offered: readonly string[] = CATEGORY_ACTIONS[category] ?? [];
  const actions =
    flags.action !== undefined
      ? flags.action.split(',').map((a) => a.trim())
      : offered.length <= 1
        ? [...offered]
        : answer(
            await p.multiselect({
              message: 'Actions (space selects, enter confirms)',
              options: offered.map((a) => ({ value: a, label: a })),
              initialValues: [offered[0] as string],
              required: true,
            }),
          );
  const folder = dir ?? answer(await p.text({ message: 'Folder', initialValue: `./${code}` }));
  p.outro(`creating ${code} in ${folder}`);
  return { dir: folder, code, name, description, category, actions, ...(flags.runtime !== undefined ? { runtime: flags.runtime } : {}) };
}
