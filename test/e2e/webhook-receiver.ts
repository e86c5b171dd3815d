// Test helper: a local HTTP receiver that records requests and answers with a programmable status.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  port: number;
  requests: Received[];
  /** Decides the answer per request (default 200 "ok"). */
  respond: (r: Received) => { status: number; headers?: Record<string, string>; body?: string };
  close(): Promise<void>;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Starts a receiver on 127.0.0.1 with a random port. */
export async function startReceiver(): Promise<Receiver> {
  const rec: Receiver = {
    url: '',
    port: 0,
    requests: [],
    respond: () => ({ status: 200, body: 'ok' }),
    close: async () => {},
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '/',
        headers: flatHeaders(req),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      rec.requests.push(r);
      const answer = rec.respond(r);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  rec.port = (server.address() as AddressInfo).port;
  rec.url = `http://127.0.0.1:${rec.port}`;
  rec.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return rec;
}
