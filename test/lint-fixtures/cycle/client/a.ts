// A value cycle: a -> b -> c -> a.
import { b } from './b.js';

export const a = (): string => `a${b()}`;
