// Real brokers for the event sink tests: a RabbitMQ vhost and user of their own, a private nats-server -js and mosquitto.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './net.js';

const run = promisify(execFile);
const rabbitmqctl = (...args: string[]) => run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });

export interface RabbitScope {
  vhost: string;
  user: string;
  pass: string;
  /** amqp URL with this scope's credentials (127.0.0.1:5672). */
  url: string;
  /** Closes every connection of the vhost (the broker side of a lost link). */
  closeConnections(): Promise<void>;
  dispose(): Promise<void>;
}

/** A vhost and a user with a random password on the local RabbitMQ, so test runs never collide. */
export async function rabbitScope(): Promise<RabbitScope> {
  const tag = randomBytes(4).toString('hex');
  const vhost = `sb-test-${tag}`;
  const user = `sb-test-${tag}`;
  const pass = `pw-${randomBytes(12).toString('hex')}`;
  await rabbitmqctl('add_vhost', vhost);
  await rabbitmqctl('add_user', user, pass);
  await rabbitmqctl('set_permissions', '-p', vhost, user, '.*', '.*', '.*');
  return {
    vhost,
    user,
    pass,
    url: `amqp://${user}:${pass}@127.0.0.1:5672/${vhost}`,
    async closeConnections() {
      await rabbitmqctl('close_all_connections', '--vhost', vhost, '--limit', '1000', 'sink test: link lost');
    },
    async dispose() {
      await rabbitmqctl('delete_vhost', vhost);
      await rabbitmqctl('delete_user', user);
    },
  };
}

async function waitForPort(port: number, up: boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const s = createConnection({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (open === up) return;
    if (Date.now() > until) throw new Error(`port ${port} did not become ${up ? 'open' : 'closed'}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A server child on `port` that can be stopped and started again; dispose also removes its directory. */
interface Restartable {
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** Runs `bin args` as a child that serves on `port` (started now); stop waits for the port to close. */
async function restartableServer(
  bin: string,
  args: string[],
  port: number,
  dir: string,
): Promise<Restartable> {
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitForPort(port, true);
  };
  const stop = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
    await waitForPort(port, false);
  };
  await start();
  return {
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface NatsServer extends Restartable {
  port: number;
  url: string;
  token: string;
}

/** A nats-server with JetStream on its own port and store directory, token auth, that can be stopped and started. */
export async function startNatsServer(bin = '/usr/sbin/nats-server'): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-nats-'));
  const token = `tok-${randomBytes(12).toString('hex')}`;
  const server = await restartableServer(
    bin,
    ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir, '--auth', token],
    port,
    dir,
  );
  return { port, url: `nats://127.0.0.1:${port}`, token, ...server };
}

export interface MosquittoBroker extends Restartable {
  port: number;
  /** mqtt://127.0.0.1:<port> (no credentials). */
  url: string;
  user: string;
  pass: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/**
 * A mosquitto (MQTT 5) on 127.0.0.1 and a free port, with its own config, store directory (sessions survive a restart)
 * and password file (one user with a random password, anonymous clients refused), that can be stopped and started.
 */
export async function startMosquitto(bin = '/usr/sbin/mosquitto'): Promise<MosquittoBroker> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sb-mqtt-'));
  const user = `sb-${randomBytes(4).toString('hex')}`;
  const pass = `pw-${randomBytes(12).toString('hex')}`;
  // mosquitto's "$6$" password format: base64(salt) and base64(SHA-512(password || salt)).
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(pass).update(salt).digest('base64');
  writeFileSync(join(dir, 'passwd'), `${user}:$6$${salt.toString('base64')}$${hash}\n`, { mode: 0o600 });
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${join(dir, 'passwd')}`,
      'persistence true',
      `persistence_location ${dir}/`,
      // Run as root (CI), mosquitto would switch to its own user, which cannot read this private directory.
      'user root',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const server = await restartableServer(bin, ['-c', join(dir, 'mosquitto.conf')], port, dir);
  return { port, url: `mqtt://127.0.0.1:${port}`, user, pass, ...server };
}
