// The desktop MCP configuration printed in docs/mcp.md, started as a desktop app would: from a directory outside the
// checkout, with the launcher named by path (never a package name resolved by npx), against a live gateway.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  type TestGateway,
} from '../support/gateway.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where docs/mcp.md says the checkout lives; the test substitutes this checkout. */
const DOC_ROOT = '/opt/switchboard';

interface DesktopServer {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The first command-starting (stdio) `mcpServers` entry of docs/mcp.md. */
function documentedServer(): DesktopServer {
  const md = readFileSync(join(ROOT, 'docs', 'mcp.md'), 'utf8');
  const block = [...md.matchAll(/```json\n([\s\S]*?)```/g)]
    .map((m) => m[1] as string)
    .find((b) => b.includes('"mcpServers"') && b.includes('"command"'));
  if (!block) throw new Error('docs/mcp.md has no stdio mcpServers JSON block');
  const servers = JSON.parse(block).mcpServers as Record<string, DesktopServer>;
  const first = Object.values(servers)[0];
  if (!first) throw new Error('docs/mcp.md names no server');
  return first;
}

let t: TestGateway;
let inst: { id: string; apiKey: string };
let outside: string;

beforeAll(async () => {
  t = await startTestGateway({ listen: true });
  const co = await createCompany(t, 'desktop-co');
  inst = await createConnectedInstance(t, co, 'desktop-co', '4915112348000');
  const res = await t.app.inject({
    method: 'PATCH',
    url: `/api/v1/instances/${inst.id}`,
    headers: co,
    payload: { type_instance: ['mcp'] },
  });
  expect(res.statusCode, res.body).toBe(200);
  outside = mkdtempSync(join(tmpdir(), 'sb-desktop-'));
});

afterAll(async () => {
  await t?.close();
  if (outside) rmSync(outside, { recursive: true, force: true });
});

describe('the documented desktop MCP configuration', () => {
  it('names the launcher by path, not a package that npx would resolve', () => {
    const server = documentedServer();
    expect(server.command).not.toMatch(/npx|npm|pnpm|yarn|bunx/);
    expect(server.args[0]).toBe(`${DOC_ROOT}/bin/switchboard.js`);
    expect(server.args).toContain('mcp');
  });

  it('starts from outside the checkout and serves the instance', { timeout: 60_000 }, async () => {
    const server = documentedServer();
    const args = server.args.map((a) =>
      a.replace(DOC_ROOT, ROOT).replace('INSTANCE_ID', inst.id).replace('https://gateway.example.com', t.url),
    );
    const transport = new StdioClientTransport({
      command: server.command === 'node' ? process.execPath : server.command,
      args,
      cwd: outside,
      env: { PATH: process.env.PATH ?? '', SWITCHBOARD_API_KEY: inst.apiKey },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const client = new Client({ name: 'desktop', version: '1.0.0' });
    try {
      await client.connect(transport);
      const res = (await client.callTool({ name: 'get_status', arguments: {} })) as CallToolResult;
      expect(res.isError, stderr).toBeFalsy();
      expect(JSON.stringify(res.structuredContent)).toContain('client_ready');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nstderr: ${stderr}`);
    } finally {
      await client.close();
    }
  });
});
