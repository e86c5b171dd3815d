// Request limits: body size, page size, WebSocket frame size, and slow clients that never finish a request.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createCompany, startTestGateway, type TestGateway } from '../../test/support/gateway.js';

describe('limits', () => {
  let t: TestGateway;
  let acme: Record<string, string>;

  beforeAll(async () => {
    t = await startTestGateway({
      listen: true,
      env: { BODY_LIMIT_BYTES: '4096', HTTP_REQUEST_TIMEOUT_MS: '1500' },
    });
    acme = await createCompany(t, 'acme');
  });
  afterAll(async () => t?.close());

  it('refuses a body over BODY_LIMIT_BYTES with 413 and writes nothing', async () => {
    const before = await t.gw.store.instances.list({ limit: 200 });
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: { ...acme, 'content-type': 'application/json' },
      payload: JSON.stringify({
        company_id: 'acme',
        provider: 'simulator',
        name: 'x',
        settings: { pad: 'y'.repeat(5000) },
      }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('SB_ERR_PAYLOAD_TOO_LARGE');
    expect((await t.gw.store.instances.list({ limit: 200 })).items).toHaveLength(before.items.length);
  });

  it('caps page sizes at 200', async () => {
    expect(
      (await t.app.inject({ method: 'GET', url: '/api/v1/instances?limit=200', headers: acme })).statusCode,
    ).toBe(200);
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/instances?limit=201', headers: acme });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0].path).toBe('limit');
  });

  it('closes a WebSocket that sends a frame over 64 KiB', async () => {
    const key = acme.authorization.replace('Bearer ', '');
    const ws = new WebSocket(`${t.url.replace('http', 'ws')}/api/v1/events?api_key=${key}`);
    await new Promise((r, j) => {
      ws.on('open', r);
      ws.on('error', j);
    });
    const code = await new Promise<number>((resolve) => {
      ws.on('close', (c) => resolve(c));
      ws.on('error', () => {});
      ws.send('x'.repeat(65 * 1024));
    });
    expect(code).toBe(1009);
  });

  it('cuts off a client that never finishes its request headers (slow loris)', async () => {
    const port = Number(new URL(t.url).port);
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.on('connect', r));
    sock.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    let answer = '';
    sock.on('data', (d) => {
      answer += d;
    });
    const drip = setInterval(() => sock.write('X-Drip: 1\r\n'), 200);
    await new Promise((r) => sock.on('close', r));
    clearInterval(drip);
    // The server's request timeout answered 408 and closed the connection.
    expect(answer.startsWith('HTTP/1.1 408')).toBe(true);
  });
});
