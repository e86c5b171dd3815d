// The MCP server on a provider with media and groups (a simulator with extra capabilities), over the SDK client.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type TestDb } from '../../test/support/db.js';
import { TEST_ADMIN_KEY } from '../../test/support/gateway.js';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/index.js';
import { createGateway, type Gateway, shutdownGateway } from '../gateway.js';
import { createLogger } from '../logger.js';
import type { ProviderFactory } from '../ports/provider.js';
import { createSimulatorProvider, SimulatorNetwork } from '../providers/simulator/index.js';
import { parseMcpPolicy } from './policy.js';
import { createMcpServer } from './server.js';

let db: TestDb;
let gw: Gateway;
let app: FastifyInstance;
const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const publicDns = async () => ['93.184.216.34'];

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** An MCP client connected in memory to a fresh server for the instance, as its own instance key. */
async function clientFor(instanceId: string, apiKey: string, mcp_schema: Record<string, unknown> = {}) {
  const principal = await gw.keys.resolve(apiKey);
  if (!principal) throw new Error('key not resolved');
  const instance = (await gw.store.instances.get(instanceId))!;
  const built = createMcpServer({
    services: gw,
    principal,
    instance,
    policy: parseMcpPolicy(mcp_schema),
    resolve: publicDns,
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await built.server.connect(a);
  const client = new Client({ name: 'test', version: '1.0.0' });
  await client.connect(b);
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { client, call, built };
}

beforeAll(async () => {
  db = await openTestDb();
  const config = loadConfig({
    ADMIN_API_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: 'silent',
    SIMULATOR_ACK_DELAY_MS: '10',
    DATABASE_SCHEMA: db.schema,
  });
  const sim = createSimulatorProvider({ network: new SimulatorNetwork({ ackDelayMs: 10 }) });
  const rich: ProviderFactory = {
    ...sim,
    capabilities: new Set([...sim.capabilities, 'media', 'groups', 'markRead']),
  };
  gw = createGateway(config, db.store, createLogger('silent'), {
    providers: { get: (n) => (n === 'simulator' ? rich : undefined), list: () => [rich] },
  });
  app = await buildApp(gw);
  await app.ready();
});

afterAll(async () => {
  gw.shuttingDown = true;
  await app?.close();
  if (gw) await shutdownGateway(gw);
  await db?.close();
});

async function connectedInstance(phone: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/instances',
    headers: admin,
    payload: { company_id: 'rich', provider: 'simulator', type_instance: ['mcp'] },
  });
  expect(res.statusCode, res.body).toBe(201);
  const { instance, api_key } = res.json();
  const scan = await app.inject({
    method: 'POST',
    url: `/api/v1/instances/${instance.id}/simulate/scan`,
    headers: admin,
    payload: { phone },
  });
  expect(scan.statusCode, scan.body).toBe(200);
  return { id: instance.id as string, apiKey: api_key as string };
}

describe('MCP tools of a provider with media and groups', () => {
  it('lists the media and group tools', async () => {
    const inst = await connectedInstance('4915112349001');
    const { client } = await clientFor(inst.id, inst.apiKey);
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const n of ['send_media', 'download_media', 'search_groups', 'get_group', 'send_group_message']) {
      expect(names).toContain(n);
    }
  });

  it('sends media by base64 or public URL and refuses file:// and private URLs', async () => {
    const inst = await connectedInstance('4915112349002');
    const { call } = await clientFor(inst.id, inst.apiKey, { only_chats_that_wrote_first: false });
    const b64 = Buffer.from('hello').toString('base64');
    const ok = await call('send_media', { to: '+4915112349102', base64: b64, mimetype: 'text/plain' });
    expect(ok.isError, textOf(ok)).toBeFalsy();
    expect(ok.structuredContent).toMatchObject({ status: 'sent' });
    const byUrl = await call('send_media', { to: '+4915112349102', url: 'https://cdn.example.com/a.png' });
    expect(byUrl.isError, textOf(byUrl)).toBeFalsy();
    for (const url of ['file:///etc/passwd', 'http://127.0.0.1:5432/x', 'http://169.254.169.254/latest']) {
      const r = await call('send_media', { to: '+4915112349102', url });
      expect(r.isError, url).toBe(true);
      expect(textOf(r)).toMatch(/SB_ERR_VALIDATION/);
      expect(textOf(r)).not.toContain(url);
    }
    const both = await call('send_media', {
      to: '+4915112349102',
      url: 'https://cdn.example.com/a',
      base64: b64,
    });
    expect(textOf(both)).toMatch(/exactly one of url or base64/);
  });

  it('returns stored media as an embedded resource, never a path', async () => {
    const inst = await connectedInstance('4915112349003');
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const { message } = await gw.store.messages.upsert({
      instance_id: inst.id,
      company_id: 'rich',
      message_id: 'MEDIA1',
      chat_id: '4915112349103@s.whatsapp.net',
      from: '4915112349103@s.whatsapp.net',
      to: null,
      body: null,
      type: 'image',
      is_from_me: false,
      is_group: false,
      group_id: null,
      contact_name: null,
      reply_to: null,
      media: { mimetype: 'image/png', filename: 'cat.png', data: png.toString('base64') },
      status: 'received',
      timestamp: new Date().toISOString(),
    });
    const { call } = await clientFor(inst.id, inst.apiKey);
    const r = await call('download_media', { message_id: 'MEDIA1' });
    expect(r.isError, textOf(r)).toBeFalsy();
    const res = r.content.find((c) => c.type === 'resource');
    expect(res).toMatchObject({
      resource: {
        uri: `switchboard://instances/${inst.id}/messages/${message.id}/media`,
        mimeType: 'image/png',
      },
    });
    expect(Buffer.from((res as { resource: { blob: string } }).resource.blob, 'base64')).toEqual(png);
    expect(r.structuredContent).toMatchObject({ filename: 'cat.png', size: png.length });
    const missing = await call('download_media', { message_id: 'NOPE' });
    expect(textOf(missing)).toMatch(/SB_ERR_MESSAGE_NOT_FOUND/);
  });

  it('finds groups and sends to them under the same policy', async () => {
    const inst = await connectedInstance('4915112349004');
    const group = '120363000000000001@g.us';
    const inbound = await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers: admin,
      payload: { from: group, participant: '+4915112349104', text: 'team, status?' },
    });
    expect(inbound.statusCode, inbound.body).toBe(200);
    const { call } = await clientFor(inst.id, inst.apiKey, { allowed_recipients: ['*@g.us'] });
    const found = await call('search_groups', { query: '1203630' });
    expect(
      (found.structuredContent as { groups: Array<{ chat_id: string }> }).groups.map((g) => g.chat_id),
    ).toEqual([group]);
    const one = await call('get_group', { group_id: group });
    expect(one.structuredContent).toMatchObject({ found: true, group: { chat_id: group, is_group: true } });
    const sent = await call('send_group_message', { group_id: group, text: 'all green' });
    expect(sent.isError, textOf(sent)).toBeFalsy();
    const notGroup = await call('send_group_message', {
      group_id: '4915112349104@s.whatsapp.net',
      text: 'x',
    });
    expect(textOf(notGroup)).toMatch(/not a known group/);
    const direct = await call('send_message', { to: '+4915112349104', text: 'psst' });
    expect(textOf(direct)).toMatch(/SB_ERR_FORBIDDEN/);
  });

  it('creates a group only with participants the policy allows', async () => {
    const inst = await connectedInstance('4915112349005');
    await app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers: admin,
      payload: { from: '+4915112349105', text: 'hi' },
    });
    const { call, client } = await clientFor(inst.id, inst.apiKey);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('create_group');
    // +4915112349106 never wrote: refused by "only chats that wrote first" (the default).
    const refused = await call('create_group', {
      subject: 'Team',
      participants: ['+4915112349105', '+4915112349106'],
    });
    expect(textOf(refused)).toMatch(/SB_ERR_FORBIDDEN/);
    const ok = await call('create_group', { subject: 'Team', participants: ['+4915112349105'] });
    expect(ok.isError, textOf(ok)).toBeFalsy();
    const groupId = (ok.structuredContent as { group_id: string }).group_id;
    expect(groupId).toMatch(/@g\.us$/);
    expect(ok.structuredContent).toMatchObject({
      subject: 'Team',
      participants: ['4915112349105@s.whatsapp.net'],
    });
    const read = await call('mark_read', { chat_id: '4915112349105@s.whatsapp.net' });
    expect(read.structuredContent).toMatchObject({ unread_count: 0, receipts_sent: 1 });
    const found = await call('get_group', { group_id: groupId });
    expect(found.structuredContent).toMatchObject({
      found: true,
      group: { chat_id: groupId, name: expect.anything() },
    });
    const bad = await call('create_group', { subject: '', participants: [] });
    expect(bad.isError).toBe(true);
  });
});
