export const helper = (): string => 'outside';
