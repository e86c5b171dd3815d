#!/usr/bin/env node
// CLI launcher: runs the TypeScript entry through tsx (no build step), forwarding SIGTERM/SIGINT/SIGHUP to it.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Resolved from this file, not from the working directory: desktop MCP clients start the launcher from anywhere.
const tsx = import.meta.resolve('tsx');
const child = spawn(process.execPath, ['--import', tsx, join(root, 'src/main.ts'), ...process.argv.slice(2)], {
  stdio: 'inherit',
});
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
