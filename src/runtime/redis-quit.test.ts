// Closing the cluster's Redis connections: an already-closed connection is a named case; other failures are reported.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/gateway.js';
import { requireService } from '../../test/support/services.js';
import { quitRedis } from './cluster.js';

const redis = await requireService('redis');

describe('quitRedis', () => {
  it.skipIf(!redis.available)(
    'closes a live connection, and a second close of it is not an error',
    async () => {
      const errors: string[] = [];
      const onError = (err: unknown, what: string) => errors.push(`${what}: ${err}`);
      const r = new Redis(redis.target);
      await new Promise((resolve) => r.once('ready', resolve));
      await quitRedis(r, onError);
      await eventually(() => r.status === 'end');
      // ioredis rejects QUIT on an ended connection with "Connection is closed.": nothing was left to close.
      await expect(r.quit()).rejects.toThrow('Connection is closed.');
      await quitRedis(r, onError);
      expect(errors).toEqual([]);
    },
  );

  it('reports any other failure', async () => {
    // A socket that breaks during QUIT cannot be provoked reliably with a real server; the client's answer can.
    const errors: string[] = [];
    await quitRedis({ quit: () => Promise.reject(new Error('read ECONNRESET')) }, (err, what) =>
      errors.push(`${what}: ${err}`),
    );
    expect(errors).toEqual(['closing a Redis connection failed: Error: read ECONNRESET']);
  });
});
