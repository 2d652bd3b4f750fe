/** Types of bin/built-cli.mjs, for the tests that import it. */
export declare function builtCli(root?: URL): { cli: string; sdk: string } | { stale: string };
