// WebSocket back-pressure: a client that falls behind is closed with 4008 and resumes from its last id, no gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createCompany,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { WS_CLOSE_SLOW } from './events-ws.js';

let t: TestGateway;
let key = '';

beforeAll(async () => {
  t = await startTestGateway({ listen: true });
  key = (await createCompany(t, 'slowco')).authorization.replace('Bearer ', '');
});
afterAll(async () => t?.close());

function collect(url: string) {
  const ids: number[] = [];
  const ws = new WebSocket(url);
  ws.on('message', (raw) => ids.push(JSON.parse(String(raw)).id));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return { ids, ws, closed };
}

describe('slow WebSocket subscribers', () => {
  it('closes a subscriber whose buffer exceeds the bound, which then resumes with since', async () => {
    // ~12 MB of events: more than the 4 MiB per-socket bound when replayed in one go.
    const blob = 'x'.repeat(100_000);
    const written: number[] = [];
    for (let i = 0; i < 120; i++) {
      const e = await t.gw.store.events.append({
        type: 'test.bulk',
        instance_id: null,
        company_id: 'slowco',
        data: { i, blob },
      });
      written.push(e.id);
    }
    const first = collect(
      `${t.url.replace('http', 'ws')}/api/v1/events?api_key=${key}&since=0&types=test.bulk`,
    );
    const { code, reason } = await first.closed;
    expect(code).toBe(WS_CLOSE_SLOW);
    expect(reason).toContain('since');
    expect(first.ids.length).toBeGreaterThan(0);
    expect(first.ids.length).toBeLessThan(written.length);
    expect(first.ids).toEqual(written.slice(0, first.ids.length));

    const last = first.ids[first.ids.length - 1];
    const second = collect(
      `${t.url.replace('http', 'ws')}/api/v1/events?api_key=${key}&since=${last}&types=test.bulk`,
    );
    // A resumed client may be closed again if it is still behind; keep resuming until everything arrived.
    const got = [...first.ids];
    let cur = second;
    for (;;) {
      const done = await Promise.race([
        cur.closed.then(() => 'closed' as const),
        eventually(() => got.length + cur.ids.length >= written.length, 20_000).then(() => 'all' as const),
      ]);
      got.push(...cur.ids);
      if (done === 'all' || got.length >= written.length) break;
      cur = collect(
        `${t.url.replace('http', 'ws')}/api/v1/events?api_key=${key}&since=${got[got.length - 1]}&types=test.bulk`,
      );
    }
    cur.ws.close();
    expect(got).toEqual(written);
  });
});
