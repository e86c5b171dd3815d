// Which program runs the server: the compiled dist/src/main.js when it is current, else the TypeScript sources
// through tsx (a development checkout). Shared by the launcher, the tests and the start-up benchmark.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder holding package.json). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Newest modification time (ms) of the files under `dir` that the build compiles or copies. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (/\.(ts|sql)$/.test(entry.name) && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The build's state: `missing` (no dist/), `stale` (a source under src/ is newer than the build stamp, e.g. after a
 * `git pull` or an edit) or `current`. A tree without src/ (the Docker image) is always current when built.
 */
export function buildState(root = ROOT) {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(stamp) || !existsSync(join(root, 'dist', 'src', 'main.js'))) return 'missing';
  const src = join(root, 'src');
  if (!existsSync(src)) return 'current';
  return newestSource(src) > statSync(stamp).mtimeMs ? 'stale' : 'current';
}

/**
 * Node arguments that run the CLI entry (before the CLI's own arguments): `[dist/src/main.js]` when the build is
 * current or `mode` is `dist`; `['--import', tsx, src/main.ts]` when it is not (or `mode` is `tsx`).
 * @param {{ root?: string, mode?: 'auto' | 'dist' | 'tsx' }} [opts]
 * @returns {{ args: string[], built: boolean, state: 'missing' | 'stale' | 'current' }}
 */
export function serverEntry(opts = {}) {
  const root = opts.root ?? ROOT;
  const mode = opts.mode ?? 'auto';
  const state = buildState(root);
  if (mode === 'dist' || (mode === 'auto' && state === 'current'))
    return { args: [join(root, 'dist', 'src', 'main.js')], built: true, state };
  // Resolved from this file, not from the working directory: desktop MCP clients start the launcher from anywhere.
  const tsx = import.meta.resolve('tsx');
  return { args: ['--import', tsx, join(root, 'src', 'main.ts')], built: false, state };
}
