// Types of bin/entry.js (plain JavaScript so the launcher runs without a TypeScript loader).
/** The project root (the folder holding package.json). */
export declare const ROOT: string;
/** The build's state: no dist/, a source newer than the build, or current. */
export declare function buildState(root?: string): 'missing' | 'stale' | 'current';
/** Node arguments that run the CLI entry: the compiled build when current, else the sources through tsx. */
export declare function serverEntry(opts?: { root?: string; mode?: 'auto' | 'dist' | 'tsx' }): {
  args: string[];
  built: boolean;
  state: 'missing' | 'stale' | 'current';
};
