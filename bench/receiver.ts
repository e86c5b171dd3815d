// A webhook receiver in its own process, so a benchmark's receiver never shares the gateway's event loop (a real
// receiver runs elsewhere). Child mode (`--child`): listens on 127.0.0.1, answers 200 `{}`, records the first arrival
// of each `message` event id (wall-clock ms, `performance.timeOrigin + performance.now()`), and answers the parent's
// IPC requests: `count` (ids seen) and `dump` (every [id, at] pair). The parent side is `startReceiver`.
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

export interface Receiver {
  url: string;
  /** Message event ids received so far. */
  count(): Promise<number>;
  /** Each message event id with the wall-clock ms (`wallMs`) of its first arrival. */
  arrivals(): Promise<Map<number, number>>;
  close(): Promise<void>;
}

type Reply = { port: number } | { count: number } | { dump: Array<[number, number]> };

/** Starts the receiver child and resolves once it listens. */
export async function startReceiver(): Promise<Receiver> {
  const child = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const waiting: Array<(r: Reply) => void> = [];
  child.on('message', (m: Reply) => waiting.shift()?.(m));
  const ask = (q: string | null) =>
    new Promise<Reply>((resolve, reject) => {
      if (!child.connected) return reject(new Error('receiver child is gone'));
      waiting.push(resolve);
      if (q) child.send(q);
    });
  const { port } = (await ask(null)) as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    count: async () => ((await ask('count')) as { count: number }).count,
    arrivals: async () => new Map(((await ask('dump')) as { dump: Array<[number, number]> }).dump),
    close: async () => {
      child.kill();
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    },
  };
}

function runChild(): void {
  const received = new Map<number, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = wallMs();
      try {
        const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; type: string };
        if (e.type === 'message' && !received.has(e.id)) received.set(e.id, now);
      } catch {
        // Not an event: ignored.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  process.on('message', (q: string) => {
    if (q === 'count') process.send?.({ count: received.size });
    else if (q === 'dump') process.send?.({ dump: [...received] });
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv.includes('--child')) runChild();
