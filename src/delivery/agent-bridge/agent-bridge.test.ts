// Agent bridge against a fake Agno AgentOS server: inbound → runs endpoint (multipart) → reply in the chat.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../../test/support/gateway.js';

interface AgentRun {
  path: string;
  authorization: string | undefined;
  fields: Record<string, string>;
}

/** A minimal AgentOS: POST /agents/:id/runs with a multipart form, answers {content}. */
async function startFakeAgentOs() {
  const runs: AgentRun[] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const form = await new Request('http://agentos.local/', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body: Buffer.concat(chunks),
      }).formData();
      const fields: Record<string, string> = {};
      for (const [k, v] of form as unknown as Iterable<[string, FormDataEntryValue]>) fields[k] = String(v);
      runs.push({ path: req.url ?? '', authorization: req.headers.authorization, fields });
      res.writeHead(state.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ run_id: `run-${runs.length}`, content: `echo: ${fields.message}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    runs,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

let t: TestGateway;
let agentOs: Awaited<ReturnType<typeof startFakeAgentOs>>;
let acme: Record<string, string>;

beforeAll(async () => {
  t = await startTestGateway({
    env: {
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_SCHEDULE: '0,10ms,10ms',
      WEBHOOK_WORKER_INTERVAL_MS: '50',
    },
  });
  agentOs = await startFakeAgentOs();
  acme = await createCompany(t, 'acme');
});

afterAll(async () => {
  await t?.close();
  await agentOs?.close();
});

describe('agent bridge', () => {
  it('sends inbound messages to AgentOS and the reply back to the chat', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550001111');
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${inst.id}`,
      headers: acme,
      payload: {
        agent: { url: `${agentOs.url}/`, agent_id: 'support', api_key: 'agno-key-0123456789', enabled: true },
      },
    });
    expect(patch.statusCode).toBe(200);
    expect(JSON.stringify(patch.json())).not.toContain('agno-key-0123456789');
    expect(patch.json().instance.agent).toMatchObject({ agent_id: 'support', has_api_key: true });

    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers: acme,
      payload: { from: '14155552671', text: 'what are your hours?' },
    });
    expect(res.statusCode).toBe(200);
    const run = await eventually(() => agentOs.runs[0]);
    expect(run.path).toBe('/agents/support/runs');
    expect(run.authorization).toBe('Bearer agno-key-0123456789');
    expect(run.fields).toMatchObject({ message: 'what are your hours?', stream: 'false', user_id: 'acme' });
    expect(run.fields.session_id).toMatch(new RegExp(`^${inst.id}:`));

    const reply = await eventually(async () => {
      const list = await t.app.inject({ url: `/api/v1/instances/${inst.id}/messages`, headers: acme });
      return list.json().messages.find((m: { body: string; is_from_me: boolean }) => m.is_from_me);
    });
    expect(reply.body).toBe('echo: what are your hours?');
    expect(run.fields.session_id).toBe(`${inst.id}:${reply.chat_id}`);
    // Our own reply is not sent to the agent again.
    const list = await t.app.inject({ url: `/api/v1/instances/${inst.id}/webhooks`, headers: acme });
    const agentEp = list.json().webhooks.find((w: { kind: string }) => w.kind === 'agent');
    await eventually(async () => {
      const l = await t.app.inject({ url: `/api/v1/webhooks/${agentEp.id}/deliveries`, headers: acme });
      return l.json().deliveries.length === 1 && l.json().deliveries[0].status === 'delivered';
    });
    expect(agentOs.runs).toHaveLength(1);
  });

  it('retries a failing agent and then emits agent.failed', async () => {
    const inst = await createConnectedInstance(t, acme, 'acme', '15550002222');
    await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${inst.id}`,
      headers: acme,
      payload: { agent: { url: agentOs.url, agent_id: 'broken' } },
    });
    agentOs.state.status = 500;
    const before = agentOs.runs.length;
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers: acme,
      payload: { from: '14155552672', text: 'hello?' },
    });
    const failed = await eventually(async () => {
      const evs = await t.gw.store.events.listSince({ since: 0, limit: 1000, types: ['agent.failed'] });
      return evs.find((e) => e.instance_id === inst.id);
    });
    expect(failed.data).toMatchObject({ kind: 'agent', attempts: 3, last_status_code: 500 });
    expect(agentOs.runs.length - before).toBe(3);
    expect(agentOs.runs.slice(before).every((r) => r.authorization === undefined)).toBe(true);
    agentOs.state.status = 200;
  });
});
