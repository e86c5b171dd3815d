// Media as documented: the send route takes a 16 MiB file as base64 (about 22.4 MB of JSON) end to end, refuses one
// byte more with a 400 naming MEDIA_MAX_BYTES, and a body over the route's limit gets a 413 naming the limit and the
// setting; other routes keep BODY_LIMIT_BYTES and say so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WahaEmulator } from '../../../test/emulators/waha/waha-emulator.js';
import {
  createCompany,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';
import { freePort } from '../../../test/support/process.js';
import { wahaSessionName } from '../../core/waha-identity.js';
import { base64Length, sendBodyLimit } from './messages.js';

const MiB = 1_048_576;

describe('media size limits on the send route', () => {
  const emu = new WahaEmulator();
  let t: TestGateway;
  let base = '';
  let headers: Record<string, string>;
  let id = '';

  const send = (body: string) =>
    fetch(`${base}/api/v1/instances/${id}/messages`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });
  const media = (bytes: number) =>
    JSON.stringify({
      to: '+4915122223333',
      media: { base64: Buffer.alloc(bytes, 7).toString('base64'), mimetype: 'image/jpeg', caption: 'scan' },
    });

  beforeAll(async () => {
    await emu.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestGateway({ env: { WAHA_URL: emu.url, PUBLIC_URL: base } });
    await t.app.listen({ port, host: '127.0.0.1' });
    headers = await createCompany(t, 'media-limit-co');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/instances',
      headers,
      payload: { company_id: 'media-limit-co', provider: 'waha' },
    });
    expect(res.statusCode, res.body).toBe(201);
    id = res.json().instance.id;
    emu.scan(wahaSessionName(id), '4915112349999');
    await eventually(
      async () => (await t.gw.store.instances.get(id))?.auth_status === 'client_ready',
      15_000,
    );
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await emu.stop();
  });

  it('sends a 16 MiB file given as base64 (the documented size) through to the provider', async () => {
    const body = media(16 * MiB);
    expect(body.length).toBeGreaterThan(22_000_000);
    const res = await send(body);
    expect(res.status, await res.clone().text()).toBe(201);
    const call = emu.callsTo('/api/sendImage').at(-1);
    const file = (call?.body?.file ?? {}) as { data?: string; mimetype?: string };
    expect(file.mimetype).toBe('image/jpeg');
    expect(file.data?.length).toBe(base64Length(16 * MiB));
    expect(Buffer.from(file.data ?? '', 'base64').length).toBe(16 * MiB);
  });

  it('refuses one byte over MEDIA_MAX_BYTES with a 400 naming the setting, sending nothing', async () => {
    const before = emu.callsTo('/api/sendImage').length;
    const res = await send(media(16 * MiB + 1));
    expect(res.status, await res.clone().text()).toBe(400);
    const err = (await res.json()).error;
    expect(err.code).toBe('SB_ERR_VALIDATION');
    expect(err.message).toContain('MEDIA_MAX_BYTES');
    expect(emu.callsTo('/api/sendImage').length).toBe(before);
  });

  it("answers a body over the route's limit with a 413 naming the limit and MEDIA_MAX_BYTES", async () => {
    const limit = sendBodyLimit(16 * MiB);
    const res = await send(JSON.stringify({ to: '+4915122223333', text: 'x', pad: 'y'.repeat(limit) }));
    expect(res.status).toBe(413);
    const err = (await res.json()).error;
    expect(err.code).toBe('SB_ERR_PAYLOAD_TOO_LARGE');
    expect(err.details).toEqual({ limit_bytes: limit, setting: 'MEDIA_MAX_BYTES' });
    expect(err.message).toContain(`${limit} bytes`);
    expect(err.message).toContain('MEDIA_MAX_BYTES');
  });

  it('keeps BODY_LIMIT_BYTES (1 MiB) on other routes and names it in the 413', async () => {
    const res = await fetch(`${base}/api/v1/instances`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({
        company_id: 'media-limit-co',
        provider: 'simulator',
        name: 'y'.repeat(2 * MiB),
      }),
    });
    expect(res.status).toBe(413);
    const err = (await res.json()).error;
    expect(err.details).toEqual({ limit_bytes: MiB, setting: 'BODY_LIMIT_BYTES' });
    expect(err.message).toContain('BODY_LIMIT_BYTES');
  });
});
