// The typed client against a live gateway (real HTTP on 127.0.0.1): create an instance, show its QR, scan, send and
// read, with types from the checked-in client/schema.d.ts; fails when the checked-in client files are stale.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompany, eventually, startTestGateway, type TestGateway } from '../test/support/gateway.js';
import { createSwitchboardClient } from './index.js';
import { renderPostman, renderSchema } from './render.js';

const here = import.meta.dirname;
let t: TestGateway;
let key = '';

beforeAll(async () => {
  t = await startTestGateway({ listen: true });
  key = (await createCompany(t, 'client-co')).authorization.replace('Bearer ', '');
});
afterAll(async () => t?.close());

describe('typed client', () => {
  it('create instance → QR → scan → send → read, over HTTP', async () => {
    const sb = createSwitchboardClient({ baseUrl: t.url, apiKey: key });
    const created = await sb.POST('/api/v1/instances', {
      body: { provider: 'simulator', name: 'front desk' },
    });
    expect(created.error).toBeUndefined();
    const id = created.data!.instance.id;
    expect(created.data!.instance.company_id).toBe('client-co');
    expect(created.data!.api_key).toMatch(/^sb_inst_/);

    const qr = await eventually(async () => {
      const r = await sb.GET('/api/v1/instances/{id}/qr', {
        params: { path: { id }, query: { format: 'raw' } },
      });
      return r.data;
    });
    expect(qr.qr.length).toBeGreaterThan(10);
    // The signed image link works without the key (as an <img> would load it).
    const png = await fetch(`${t.url}${qr.image_url}`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');

    const scan = await sb.POST('/api/v1/instances/{id}/simulate/scan', {
      params: { path: { id } },
      body: { phone: '15550009876' },
    });
    expect(scan.response.status).toBe(200);
    const byName = await sb.GET('/api/v1/instances/by-name/{name}', {
      params: { path: { name: 'front desk' } },
    });
    expect(byName.data?.instance.id).toBe(id);

    const sent = await sb.POST('/api/v1/instances/{id}/messages', {
      params: { path: { id }, header: { 'idempotency-key': 'client-test-1' } },
      body: { to: '+1 415 555 2671', text: 'Your appointment is confirmed.' },
    });
    expect(sent.response.status).toBe(201);
    expect(sent.data?.message.body).toBe('Your appointment is confirmed.');

    const read = await sb.GET('/api/v1/instances/{id}/messages', {
      params: { path: { id }, query: { chat_id: sent.data!.message.chat_id } },
    });
    expect(read.data?.messages.map((m) => m.body)).toContain('Your appointment is confirmed.');

    const bad = await sb.GET('/api/v1/instances/{id}', { params: { path: { id: 'not-a-uuid' } } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.code).toBe('SB_ERR_VALIDATION');
  });

  it('checked-in schema.d.ts and Postman collection match the served document (else: npm run client:generate)', async () => {
    const doc = await (await fetch(`${t.url}/docs/json`)).json();
    const stale = 'stale: run `npm run client:generate` and commit client/';
    expect(readFileSync(join(here, 'schema.d.ts'), 'utf8'), stale).toBe(await renderSchema(doc));
    const postman = readFileSync(join(here, 'switchboard.postman_collection.json'), 'utf8');
    expect(postman, stale).toBe(renderPostman(doc));

    const collection = JSON.parse(postman);
    const requests = collection.item.flatMap((folder: { item: { request: any }[] }) => folder.item);
    const operations = Object.entries<Record<string, unknown>>(doc.paths)
      .filter(([p]) => !p.startsWith('/docs'))
      .flatMap(([, m]) =>
        Object.keys(m).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)),
      );
    expect(requests.length).toBe(operations.length);
    for (const r of requests) expect(r.request.url.raw).toMatch(/^\{\{baseUrl\}\}\//);
  });
});
