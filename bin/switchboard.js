#!/usr/bin/env node
// CLI launcher: runs the compiled server (node dist/src/main.js; no TypeScript loader) or, in a development checkout
// whose build is missing or older than src/, the sources through tsx; forwards SIGTERM/SIGINT/SIGHUP to it.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { serverEntry } from './entry.js';

let entry;
try {
  entry = serverEntry();
} catch {
  process.stderr.write('switchboard: dist/ is not built and tsx is not installed; run `npm run build`\n');
  process.exit(1);
}
if (!entry.built) {
  const why = entry.state === 'stale' ? 'dist/ is older than src/' : 'dist/ is not built';
  process.stderr.write(`switchboard: ${why}; running the TypeScript sources through tsx (\`npm run build\` to refresh)\n`);
}
const child = spawn(process.execPath, [...entry.args, ...process.argv.slice(2)], { stdio: 'inherit' });
// The launcher never dies before its child: each signal is passed on and the child's own exit decides ours.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('error', (err) => {
  process.stderr.write(`switchboard: could not start ${process.execPath}: ${err.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  // Killed by a signal: exit as a shell would report it (128 + signal number).
  process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 1));
});
