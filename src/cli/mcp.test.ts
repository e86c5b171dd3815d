// `switchboard mcp` (stdio) with the SDK's own Client spawning the real CLI against a listening test gateway.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type CallToolResult, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import { CLI_ARGS } from '../../test/support/process.js';
import { startStdioProxy } from '../mcp/stdio-proxy.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let t: TestGateway;
let co: Record<string, string>;
let inst: { id: string; apiKey: string };

function spawnCli(args: string[], env: Record<string, string> = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI_ARGS, 'mcp', ...args],
    cwd: ROOT,
    env,
    stderr: 'pipe',
  });
  return { transport };
}

beforeAll(async () => {
  t = await startTestGateway({ listen: true });
  co = await createCompany(t, 'stdio-co');
  inst = await createConnectedInstance(t, co, 'stdio-co', '4915112347000');
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/api/v1/instances/${inst.id}`,
    headers: co,
    payload: { type_instance: ['mcp'] },
  });
  expect(res.statusCode, res.body).toBe(200);
});

afterAll(async () => {
  await t?.close();
});

describe('switchboard mcp (stdio)', () => {
  // Starting the CLI (under tsx when dist/ is not current) dominates; allow for slow machines.
  it('lists and calls tools, reads resources and notifies subscribers of new messages', {
    timeout: 60_000,
  }, async () => {
    const inbound = (text: string) =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${inst.id}/simulate/inbound`,
        headers: co,
        payload: { from: '+4915112347001', text },
      });
    expect((await inbound('first!')).statusCode).toBe(200);

    // The key from the environment (desktop configs' "env"), so it is not visible in the process list.
    const { transport } = spawnCli(['--instance', inst.id, '--url', t.url], {
      SWITCHBOARD_API_KEY: inst.apiKey,
    });
    const client = new Client({ name: 'desktop', version: '1.0.0' });
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
      updates.push(n.params.uri);
    });
    try {
      await client.connect(transport);
      expect(client.getServerCapabilities()?.resources?.subscribe).toBe(true);
      const { tools } = await client.listTools();
      expect(tools.map((x) => x.name)).toEqual(
        expect.arrayContaining(['get_status', 'send_message', 'get_messages']),
      );
      expect(tools.find((x) => x.name === 'send_message')?.outputSchema?.type).toBe('object');

      const status = (await client.callTool({ name: 'get_status', arguments: {} })) as CallToolResult;
      expect(status.structuredContent).toMatchObject({ instance_id: inst.id, connected: true });

      const sent = (await client.callTool({
        name: 'send_message',
        arguments: { to: '+4915112347001', text: 'hello from stdio' },
      })) as CallToolResult;
      expect(sent.structuredContent).toMatchObject({ status: 'sent' });

      const invalid = (await client.callTool({
        name: 'send_message',
        arguments: { to: 'x' },
      })) as CallToolResult;
      expect(invalid.isError).toBe(true);

      const uri = `switchboard://instances/${inst.id}/chats/${encodeURIComponent('4915112347001@s.whatsapp.net')}/messages`;
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain(uri);
      const read = await client.readResource({ uri });
      expect((read.contents[0] as { text: string }).text).toContain('hello from stdio');

      await client.subscribeResource({ uri });
      expect((await inbound('second!')).statusCode).toBe(200);
      await eventually(() => updates.includes(uri), 10_000);
    } finally {
      await client.close();
    }
  });

  it('fails fast with a clear message (and without echoing the key) when the key is wrong', async () => {
    // In-process (same code as the CLI runs) to spare a second process start.
    const badKey = 'sb_inst_this-key-does-not-exist';
    const logs: string[] = [];
    const err = await startStdioProxy({
      instance: inst.id,
      url: t.url,
      key: badKey,
      log: (l) => logs.push(l),
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot open the MCP endpoint.*invalid or revoked API key/);
    expect((err as Error).message).not.toContain(badKey);
    await expect(
      startStdioProxy({ instance: 'nope', url: t.url, key: inst.apiKey, log: () => {} }),
    ).rejects.toThrow(/--instance/);
    await expect(
      startStdioProxy({ instance: inst.id, url: 'file:///tmp/x', key: inst.apiKey, log: () => {} }),
    ).rejects.toThrow(/--url/);
  });
});
