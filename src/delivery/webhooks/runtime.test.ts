// The delivery runtime inside a whole gateway: webhook POSTs reuse kept-alive connections to the receiver.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../../test/support/gateway.js';
import { commitWithEvents } from '../../core/commit.js';
import type { NewEvent } from '../../domain/model.js';

let t: TestGateway;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});
let connections = 0;
server.on('connection', () => connections++);
let hookUrl = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  t = await startTestGateway({ env: { WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_WORKER_INTERVAL_MS: '60000' } });
}, 180_000);

afterAll(async () => {
  await t?.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('delivery runtime', () => {
  it('sends one endpoint’s deliveries over a kept-alive connection, not a new one each', async () => {
    await t.gw.store.companies.ensure('keep');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/keep/webhooks',
      headers: t.admin,
      payload: { url: hookUrl, events: ['test.keepalive'] },
    });
    expect(res.statusCode).toBe(201);
    const worker = t.gw.delivery!.worker;
    for (let i = 0; i < 5; i++) {
      await commitWithEvents(t.gw.store, t.gw.bus, (_tx, emit) =>
        // A type of its own (outside the event union), so nothing but this endpoint takes it.
        emit({
          type: 'test.keepalive',
          instance_id: null,
          company_id: 'keep',
          data: { i },
        } as unknown as NewEvent),
      );
      await worker.tick();
    }
    const { items } = await t.gw.store.deliveries.listDeliveries({
      endpoint_id: res.json().webhook.id,
      limit: 10,
    });
    expect(items.map((d) => d.status)).toEqual(Array(5).fill('delivered'));
    expect(connections).toBe(1);
  });
});
