// The active probe: answered pings keep a socket alive, silence is found within one interval, a busy loop is not silence.
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SessionProbe } from './probe.js';

const waitFor = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('SessionProbe', () => {
  it('answered pings keep it alive; a silent peer is reported dead once, with the time since its last answer', async () => {
    let silent = false;
    let sent = 0;
    const dead: Array<[string, number]> = [];
    const probe = new SessionProbe({
      intervalMs: 40,
      query: () => {
        sent++;
        return silent ? new Promise(() => {}) : Promise.resolve({});
      },
      onDead: async (reason, since) => void dead.push([reason, since]),
    });
    probe.start();
    await waitFor(() => sent >= 3);
    expect(dead).toEqual([]);
    silent = true;
    await waitFor(() => dead.length > 0);
    const sentAtDeath = sent;
    await new Promise((r) => setTimeout(r, 60));
    expect(dead).toHaveLength(1);
    expect(sent).toBe(sentAtDeath); // stopped: no more pings after the verdict
    expect(dead[0]![0]).toBe('no answer to a ping within 20 ms');
    expect(dead[0]![1]).toBeGreaterThan(0);
  });

  it('a failing ping (Baileys rejects: closed, timed out) is a dead socket', async () => {
    const dead: string[] = [];
    const probe = new SessionProbe({
      intervalMs: 1000,
      query: () => Promise.reject(new Error('Connection Closed')),
      onDead: async (reason) => void dead.push(reason),
    });
    expect(await probe.probeOnce()).toBe(false);
    expect(dead).toEqual(['ping failed: Connection Closed']);
  });

  it('an answer that arrived while the event loop was blocked past the timeout counts as an answer', async () => {
    // A real loopback socket: the "server" answers at once, but the client is busy (as while generating prekeys).
    // The server answers, then the loop stays busy past the probe's 20 ms timeout: the answer waits unread.
    const server = createServer((s) =>
      s.on('data', () => {
        s.write('pong');
        const until = Date.now() + 80;
        while (Date.now() < until) {}
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client: Socket = connect(port, '127.0.0.1');
    await once(client, 'connect');
    const dead: string[] = [];
    const probe = new SessionProbe({
      intervalMs: 40,
      query: () =>
        new Promise((resolve) => {
          client.once('data', resolve);
          client.write('ping');
        }),
      onDead: async (reason) => void dead.push(reason),
    });
    try {
      expect(await probe.probeOnce()).toBe(true);
      expect(dead).toEqual([]);
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('interval 0 is off', async () => {
    let sent = 0;
    const probe = new SessionProbe({
      intervalMs: 0,
      query: async () => void sent++,
      onDead: async () => {},
    });
    probe.start();
    await new Promise((r) => setTimeout(r, 30));
    expect(sent).toBe(0);
  });
});
