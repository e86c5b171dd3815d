// WebSocket events: live transitions as they happen, replay with `since` without gaps or duplicates, tenant filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

interface Ev {
  id: number;
  type: string;
  instance_id: string | null;
  company_id: string;
  data: Record<string, any>;
}

function subscribe(url: string): Promise<{ events: Ev[]; ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const events: Ev[] = [];
    const ws = new WebSocket(url);
    ws.on('message', (raw) => events.push(JSON.parse(String(raw))));
    ws.on('open', () => resolve({ events, ws }));
    ws.on('error', reject);
    ws.on('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

describe('WebSocket /api/v1/events', () => {
  let t: TestGateway;
  let acme: Record<string, string>;
  let other: Record<string, string>;
  let wsBase: string;
  const key = (h: Record<string, string>) => h.authorization.replace('Bearer ', '');

  beforeAll(async () => {
    t = await startTestGateway({ listen: true });
    acme = await createCompany(t, 'acme');
    other = await createCompany(t, 'other');
    wsBase = `${t.url.replace('http', 'ws')}/api/v1/events`;
  });
  afterAll(async () => t?.close());

  it('delivers the client_ready transition live, and the row already shows it', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers: acme,
      payload: { company_id: 'acme', provider: 'simulator' },
    });
    const id = res.json().instance.id;
    const sub = await subscribe(`${wsBase}?api_key=${key(acme)}&instance_id=${id}`);
    const otherSub = await subscribe(`${wsBase}?api_key=${key(other)}`);
    await t.app.inject({ method: 'POST', url: `/api/v1/instances/${id}/simulate/scan`, headers: acme });
    const ready = await eventually(() =>
      sub.events.find((e) => e.type === 'instance.status' && e.data.auth_status === 'client_ready'),
    );
    expect(ready).toMatchObject({
      instance_id: id,
      company_id: 'acme',
      data: { previous_auth_status: 'authenticated' },
    });
    expect(typeof ready.id).toBe('number');
    await eventually(() => sub.events.find((e) => e.type === 'connected'));
    const row = await t.gw.store.instances.get(id);
    expect(row?.auth_status).toBe('client_ready');
    // Another company's subscriber saw none of it.
    expect(otherSub.events).toEqual([]);
    sub.ws.close();
    otherSub.ws.close();
  });

  it('replays from `since` and then continues live with no gap and no duplicate', async () => {
    const { id } = await createConnectedInstance(t, acme, 'acme', '15551112222');
    const first = await t.gw.store.events.latestId();
    const inbound = (n: number) =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${id}/simulate/inbound`,
        headers: acme,
        payload: { from: '14155552671', text: `m${n}` },
      });
    for (let i = 0; i < 5; i++) await inbound(i);
    const sub = await subscribe(
      `${wsBase}?api_key=${key(acme)}&instance_id=${id}&types=message&since=${first}`,
    );
    // Messages arriving during and after the replay.
    await Promise.all([5, 6, 7, 8, 9].map(inbound));
    await eventually(() => sub.events.length >= 10);
    await new Promise((r) => setTimeout(r, 100));
    const bodies = sub.events.map((e) => e.data.message.body);
    expect(new Set(bodies).size).toBe(10);
    expect(bodies.slice(0, 5)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(sub.events.every((e) => e.type === 'message')).toBe(true);
    const ids = sub.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    sub.ws.close();
  });

  it('refuses a connection without a valid key', async () => {
    await expect(subscribe(wsBase)).rejects.toThrow('HTTP 401');
    await expect(subscribe(`${wsBase}?api_key=sb_co_wrong`)).rejects.toThrow('HTTP 401');
    await expect(subscribe(`${wsBase}?api_key=${key(acme)}&since=-1`)).rejects.toThrow('HTTP 400');
  });
});

describe('WebSocket connection cap', () => {
  it('refuses streams above WS_MAX_CONNECTIONS_PER_COMPANY with 429 and accepts again after one closes', async () => {
    const t = await startTestGateway({ listen: true, env: { WS_MAX_CONNECTIONS_PER_COMPANY: '2' } });
    try {
      const acme = await createCompany(t, 'acme');
      const other = await createCompany(t, 'other');
      const url = (h: Record<string, string>) =>
        `${t.url.replace('http', 'ws')}/api/v1/events?api_key=${h.authorization.replace('Bearer ', '')}`;
      const a = await subscribe(url(acme));
      const b = await subscribe(url(acme));
      await expect(subscribe(url(acme))).rejects.toThrow('HTTP 429');
      // Another company is not affected by acme's streams.
      const c = await subscribe(url(other));
      a.ws.close();
      await eventually(async () => {
        try {
          const d = await subscribe(url(acme));
          d.ws.close();
          return true;
        } catch {
          return false;
        }
      });
      b.ws.close();
      c.ws.close();
    } finally {
      await t.close();
    }
  });
});
