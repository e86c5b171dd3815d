// One owner for the embedded database: an exclusive lock file in DATA_DIR with pid + host, checked against the OS.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { SbError } from '../domain/errors.js';

/** What the lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (Linux /proc), to tell a reused pid from its holder. */
  started: string | null;
  /** The kernel boot id (Linux): a lock from before a reboot is stale whatever its pid. */
  boot: string | null;
  since: string;
  command: string;
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export const LOCK_FILE = 'switchboard.lock';

const readOpt = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
};

/** Start time (field 22 of /proc/<pid>/stat), or null where /proc is not available. */
export function processStartTime(pid: number): string | null {
  const stat = readOpt(`/proc/${pid}/stat`);
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

const bootId = () => readOpt('/proc/sys/kernel/random/boot_id');

function readHolder(file: string): LockHolder | null {
  const raw = readOpt(file);
  if (raw === null) return null;
  try {
    const h = JSON.parse(raw) as LockHolder;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * Whether the holder still runs. On this host: the pid exists (signal 0) and, where /proc tells, it is the same
 * process (start time and boot id match). On another host (a shared volume) nothing can be checked: it counts as
 * alive, and the message says how to clear it.
 */
export function holderAlive(h: LockHolder): boolean {
  if (h.host !== hostname()) return true;
  const boot = bootId();
  if (h.boot && boot && h.boot !== boot) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const started = processStartTime(h.pid);
  return !(h.started && started && h.started !== started);
}

function lockedError(dir: string, file: string, h: LockHolder | null, what: string): SbError {
  const who = h
    ? `Switchboard process ${h.pid} on host ${h.host} (${h.command}, since ${h.since})`
    : 'another Switchboard process';
  const remote = h && h.host !== hostname() ? ` If host ${h.host} is gone, delete ${file}.` : '';
  return new SbError(
    'SB_ERR_DATA_DIR_LOCKED',
    `cannot ${what}: DATA_DIR ${dir} is in use by ${who}. The embedded database has one owner: stop that process ` +
      `first, use the running server's API instead, or point DATABASE_URL at PostgreSQL to run several processes.${remote}`,
    { details: { data_dir: dir, lock_file: file, holder: h } },
  );
}

/**
 * Takes the lock on `dataDir` or throws SB_ERR_DATA_DIR_LOCKED naming the directory and the live holder. The
 * file is created atomically (written aside, then hard-linked into place, which fails if it exists). A lock left
 * by a crashed process (dead pid, reused pid, other boot) is broken without manual cleanup.
 */
export function lockDataDir(dataDir: string, what = 'open the embedded database'): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    started: processStartTime(process.pid),
    boot: bootId(),
    since: new Date().toISOString(),
    command: process.argv.slice(2).join(' ') || 'node',
  };
  const content = `${JSON.stringify(me)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const aside = join(dir, `.${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
    writeFileSync(aside, content, { mode: 0o600 });
    try {
      linkSync(aside, file);
      return ownLock(file, content);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(aside);
    }
    const holder = readHolder(file);
    if (holder && holderAlive(holder)) throw lockedError(dir, file, holder, what);
    breakStale(file, holder);
  }
  throw lockedError(dir, file, readHolder(file), what);
}

/** Moves a stale lock away; if a fresh lock was moved by a racing starter instead, puts it back. */
function breakStale(file: string, seen: LockHolder | null): void {
  const moved = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const got = readHolder(moved);
  if (JSON.stringify(got) !== JSON.stringify(seen)) {
    try {
      linkSync(moved, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  unlinkSync(moved);
}

function ownLock(file: string, content: string): DataDirLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.removeListener('exit', release);
    if (readOpt(file) === content.trim()) unlinkSync(file);
  };
  // A normal exit removes the file; a crash leaves it and the next start sees a dead pid.
  process.on('exit', release);
  return { file, release };
}
