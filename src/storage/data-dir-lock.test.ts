// The DATA_DIR lock: one holder, a clear refusal naming the directory and the holder, crash leftovers broken.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE, type LockHolder, lockDataDir, processStartTime } from './data-dir-lock.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'sb-lock-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const holder = (over: Partial<LockHolder>): string =>
  JSON.stringify({
    pid: process.pid,
    host: hostname(),
    started: processStartTime(process.pid),
    boot: null,
    since: '2026-01-01T00:00:00.000Z',
    command: 'serve',
    ...over,
  });

/** A pid that existed and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('DATA_DIR lock', () => {
  it('refuses a second holder with a message naming the directory and the running process', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir, 'start the server');
    const content = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
    expect(content).toMatchObject({ pid: process.pid, host: hostname() });
    let err: { code?: string; message?: string } | undefined;
    try {
      lockDataDir(dir, 'create a key');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe('SB_ERR_DATA_DIR_LOCKED');
    expect(err?.message).toContain(
      `cannot create a key: DATA_DIR ${dir} is in use by Switchboard process ${process.pid}`,
    );
    expect(err?.message).toContain(`on host ${hostname()}`);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    lockDataDir(dir).release();
  });

  it('breaks a lock left by a crashed process (dead pid) without manual cleanup', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), holder({ pid: deadPid(), started: null }));
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('breaks a lock whose pid was reused by another process (start time differs) or that predates a reboot', () => {
    const dir = tempDir();
    // pid 1 is alive, but its start time is not the one recorded.
    writeFileSync(join(dir, LOCK_FILE), holder({ pid: 1, started: '123456789012' }));
    lockDataDir(dir).release();
    writeFileSync(join(dir, LOCK_FILE), holder({ boot: 'another-boot-id' }));
    const bootKnown = existsSync('/proc/sys/kernel/random/boot_id');
    if (bootKnown) lockDataDir(dir).release();
    else expect(() => lockDataDir(dir)).toThrow(/in use/);
  });

  it('treats a lock from another host as held and says how to clear it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), holder({ host: 'other-host.example', pid: 4242 }));
    expect(() => lockDataDir(dir)).toThrow(
      new RegExp(
        `process 4242 on host other-host.example.*If host other-host.example is gone, delete ${join(dir, LOCK_FILE)}`,
      ),
    );
  });
});
