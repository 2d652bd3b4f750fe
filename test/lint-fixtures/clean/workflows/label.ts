export const label = (name: string, step: number): string => `${name}#${step}`;
