// The embedded database has one owner (a second server and CLI writes refuse, naming the directory and the
// holder; a crash leaves nothing to clean up), and the launcher forwards SIGTERM to the server: no orphan.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/gateway.js';
import { CLI_ARGS, freePort, ROOT } from '../support/process.js';

const ADMIN = 'sb_admin_lock_0123456789abcdefghijklmnop';
const dir = mkdtempSync(join(tmpdir(), 'sb-datadir-'));
const LOCK = join(dir, 'switchboard.lock');

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    // Embedded database: no DATABASE_URL, whatever the developer's environment says.
    env: { ...process.env, DATABASE_URL: '', DATA_DIR: dir, ADMIN_API_KEY: ADMIN, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}
const cli = (...args: string[]) => run([...CLI_ARGS, ...args]);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function ready(port: number, r: Run): Promise<void> {
  const exitedEarly = r.exited.then(() => {
    throw new Error(`exited early:\n${r.output()}`);
  });
  // Handled here too: once ready, the process exits later on purpose.
  exitedEarly.catch(() => undefined);
  await Promise.race([
    exitedEarly,
    eventually(async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => null))?.ok, 480_000),
  ]);
}
/** The server's pid, from its `switchboard listening` log line. */
const serverPid = (r: Run): number => {
  const line = r
    .output()
    .split('\n')
    .find((l) => l.includes('switchboard listening'));
  return JSON.parse(line ?? '{}').pid;
};

const started: Run[] = [];
/** Servers started through the launcher: killed by pid too, since a SIGKILLed launcher cannot forward it. */
const serverPids: number[] = [];
afterAll(async () => {
  for (const pid of serverPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const r of started)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  await Promise.all(started.map((r) => r.exited));
  rmSync(dir, { recursive: true, force: true });
});

describe('one owner for DATA_DIR; signals through the launcher', () => {
  it('a second server and CLI writes refuse at once, naming the directory and the running server', {
    timeout: 900_000,
  }, async () => {
    const port = await freePort();
    const launcher = run([join(ROOT, 'bin/switchboard.js'), 'serve'], { PORT: String(port) });
    started.push(launcher);
    await ready(port, launcher);
    const pid = serverPid(launcher);
    serverPids.push(pid);
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(launcher.child.pid);
    const holder = `DATA_DIR ${resolve(dir)} is in use by Switchboard process ${pid}`;

    const secondPort = await freePort();
    const rival = run([...CLI_ARGS, 'serve'], { PORT: String(secondPort) });
    started.push(rival);
    expect(await rival.exited).not.toBe(0);
    expect(rival.output()).toContain(`cannot start the server: ${holder}`);
    expect(rival.output()).not.toContain('switchboard listening');

    const key = cli('keys', 'create', '--kind', 'admin');
    expect(await key.exited).not.toBe(0);
    expect(key.output()).toContain(`cannot create a key: ${holder}`);
    expect(key.output()).not.toMatch(/sb_admin_[A-Za-z0-9]{20,}/);
    const migrate = cli('migrate');
    expect(await migrate.exited).not.toBe(0);
    expect(migrate.output()).toContain(`cannot migrate: ${holder}`);
    const imp = cli('import-legacy', '--from-schema', 'ai');
    expect(await imp.exited).not.toBe(0);
    expect(imp.output()).toContain(`cannot import legacy data: ${holder}`);

    // SIGTERM to the launcher reaches the server: both exit 0, no orphan, the lock is gone.
    launcher.child.kill('SIGTERM');
    expect(await launcher.exited).toBe(0);
    await eventually(() => !alive(pid), 30_000);
    expect(existsSync(LOCK)).toBe(false);
  });

  it('a crashed server leaves a lock that the next process breaks without manual cleanup', {
    timeout: 900_000,
  }, async () => {
    const port = await freePort();
    const crashing = run([...CLI_ARGS, 'serve'], { PORT: String(port) });
    started.push(crashing);
    await ready(port, crashing);
    crashing.child.kill('SIGKILL');
    await crashing.exited;
    expect(existsSync(LOCK)).toBe(true);
    const key = cli('keys', 'create', '--kind', 'admin');
    expect(await key.exited, key.output()).toBe(0);
    expect(key.output()).toMatch(/sb_admin_/);
    expect(existsSync(LOCK)).toBe(false);
  });
});
