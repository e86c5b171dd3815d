// Production build: compiles src/ to dist/ (tsc -p tsconfig.build.json), copies the SQL migrations beside the
// compiled migrator, stamps the build, then builds the dashboard (web/dist). `--prepare` (npm's prepare hook) skips
// with a warning when the build tools are not installed (a production-only install of a prebuilt tree).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prepare = process.argv.includes('--prepare');
const webOnly = process.argv.includes('--web');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
const dist = join(root, 'dist');

function run(what, args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`switchboard: ${what} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}

if (!webOnly) {
  if (!existsSync(tsc)) {
    if (!prepare) {
      process.stderr.write('switchboard: typescript is not installed; run `npm install` with dev dependencies\n');
      process.exit(1);
    }
    process.stderr.write('switchboard: typescript is not installed (production install?); dist/ is not built\n');
  } else {
    // A clean tree every time: no compiled file outlives its source.
    rmSync(dist, { recursive: true, force: true });
    run('the server build (tsc -p tsconfig.build.json)', [tsc, '-p', 'tsconfig.build.json']);
    cpSync(join(root, 'src/storage/migrations'), join(dist, 'src/storage/migrations'), { recursive: true });
    // Written last: its time is the build's time (bin/entry.js compares it with the sources').
    writeFileSync(join(dist, '.build-stamp'), `${new Date().toISOString()}\n`);
  }
}

if (!existsSync(vite)) {
  if (!prepare) {
    process.stderr.write('switchboard: vite is not installed; run `npm install` with dev dependencies\n');
    process.exit(1);
  }
  process.stderr.write('switchboard: vite is not installed (production install?); the dashboard is not built\n');
} else {
  run('the dashboard build (vite build web)', [vite, 'build', 'web', '--logLevel', 'warn']);
}
