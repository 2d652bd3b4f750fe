import { a } from './a.js';

export const c = (): string => (Math.random() > 2 ? a() : 'c');
