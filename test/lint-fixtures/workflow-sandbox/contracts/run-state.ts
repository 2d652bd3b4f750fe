export const DONE = 'done';
