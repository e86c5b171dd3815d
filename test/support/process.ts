// Runs the real gateway as a child process for cross-process tests: the built server (`node dist/src/main.js`) when
// dist/ is current (CI builds first), else the sources through tsx.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { serverEntry } from '../../bin/entry.js';
import { freePort } from './net.js';

export { freePort };

export const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Node arguments that run the CLI (add the subcommand after them): `dist/src/main.js` when the build is current,
 * else `--import tsx src/main.ts`, so the suite exercises what `npm start` runs.
 */
export const CLI_ARGS: readonly string[] = serverEntry({ root: ROOT }).args;

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export async function spawnGateway(env: Record<string, string>, timeoutMs = 60_000): Promise<GatewayProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, [...CLI_ARGS, 'serve'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const start = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway exited early (${child.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${url}/ready`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - start > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`gateway not ready within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => out, exited };
}
