/**
 * Creating a named thing that is idempotent by name (data collections, projects): the same
 * name with the same settings returns what exists; the same name with other settings is
 * refused by the repository as bad input on `name`. For a caller that asked to create, that
 * refusal is a conflict with what exists, not a typo: a ConflictError (exit 5, HTTP 409)
 * carrying the repository's message. Tells the caller whether the thing existed (HTTP 200
 * rather than 201).
 */
import { ConflictError, InvalidInputError, NotFoundError } from '../../contracts/errors.js';

export async function createNamed<T>(find: () => Promise<unknown>, create: () => Promise<T>): Promise<{ value: T; existed: boolean }> {
  const existed = await find().then(
    () => true,
    (err: unknown) => {
      if (err instanceof NotFoundError) return false;
      throw err;
    },
  );
  try {
    return { value: await create(), existed };
  } catch (err) {
    if (existed && err instanceof InvalidInputError && err.problems.length > 0 && err.problems.every((p) => p.path === 'name'))
      throw new ConflictError(err.problems.map((p) => p.message).join('; '));
    throw err;
  }
}
