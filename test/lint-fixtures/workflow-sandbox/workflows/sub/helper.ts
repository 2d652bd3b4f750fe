export const helper = (): string => 'hi';
