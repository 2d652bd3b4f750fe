export type Loader = (code: string) => string;
export const loadPlugin: Loader = (code) => code;
