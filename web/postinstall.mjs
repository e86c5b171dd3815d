// npm postinstall: builds the dashboard (web/dist) when Vite is installed; never fails the install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
if (!existsSync(vite)) {
  process.stderr.write('switchboard: vite is not installed (production install?); the dashboard is not built\n');
  process.exit(0);
}
const r = spawnSync(process.execPath, [vite, 'build', 'web', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.stderr.write('switchboard: the dashboard build failed; run `npm run build:web`\n');
process.exit(0);
