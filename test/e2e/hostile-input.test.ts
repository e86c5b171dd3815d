// Hostile bytes on every operation of the OpenAPI document: NUL, lone surrogates, deep JSON, out-of-range dates → 4xx.
import { EventEmitter } from 'node:events';
import type { UserFacingSocketConfig } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalSupervisor } from '../../src/core/supervisor.js';
import { createWhatsAppProvider } from '../../src/providers/whatsapp/index.js';
import { MemoryAuthStore } from '../../src/providers/whatsapp/memory-auth.js';
import type { WaSocket } from '../../src/providers/whatsapp/session.js';
import { rawSql } from '../../src/storage/sql-store.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../support/gateway.js';
import {
  type BodyField,
  bodyFields,
  bodySchemaOf,
  fillPath,
  listOperations,
  type Operation,
  queryParamsOf,
} from '../support/openapi.js';

/** Strings PostgreSQL cannot store: a NUL character, a lone high and a lone low surrogate. */
const HOSTILE = { nul: '\u0000', 'lone high surrogate': '\ud800', 'lone low surrogate': '\udc00' } as const;
/** Dates JavaScript parses one way or another but PostgreSQL cannot hold, or that do not exist. */
const BAD_DATES = [
  '10000-01-01',
  '10000-01-01T00:00:00Z',
  '+010000-01-01T00:00:00Z',
  '-010000-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-01-01T24:00:01Z',
  '9999-12-31T23:00:00-05:00',
  '1/2/3',
];
/** Query parameters that take a date-time although their schema is a plain string (they also accept Unix time). */
const DATE_QUERY_PARAMS = new Set(['before', 'after', 'until']);
const DEPTH = 5000;
/** Deep JSON as text (building it as an object would overflow JSON.stringify in the test itself). */
const DEEP_ARRAY = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
const DEEP_OBJECT = `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`;

/** Provider webhooks carry messenger input: hostile bytes there are scrubbed and stored, not refused. */
const isProviderInput = (op: Operation) => op.path.startsWith('/webhooks/');

/** One gateway for the whole file (a PGlite start is the slow part). */
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ env: { WEBHOOK_ALLOW_PRIVATE: 'true' } });
});
afterAll(async () => t?.close());

describe('hostile input on every operation', () => {
  let doc: any;
  let ops: Operation[];
  let headers: Record<string, string>;
  let good: Record<string, string>;

  /** A digest of every table of the test schema (only key last-use times change on reads, so they are left out). */
  const digest = async () => {
    const sql = rawSql(t.gw.store).sql;
    const tables = await sql.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'
       ORDER BY table_name`,
      [t.db.schema],
    );
    const out: Record<string, string> = {};
    for (const { table_name } of tables) {
      const rows = await sql.query<{ d: string | null; n: number }>(
        `SELECT md5(coalesce(string_agg((to_jsonb(x) - 'last_used_at')::text, ',' ORDER BY (to_jsonb(x) - 'last_used_at')::text), '')) AS d,
                count(*)::int AS n
           FROM "${t.db.schema}"."${table_name}" x`,
      );
      out[table_name] = `${rows[0].n}:${rows[0].d}`;
    }
    return out;
  };

  beforeAll(async () => {
    headers = await createCompany(t, 'hostile');
    const inst = await createConnectedInstance(t, headers, 'hostile', '15550007777');
    const inbound = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/simulate/inbound`,
      headers,
      payload: { from: '14155552671', text: 'hello', name: 'Ann' },
    });
    expect(inbound.statusCode).toBe(200);
    // A disabled endpoint: nothing is delivered in the background while the digest is compared.
    const hook = await t.app.inject({
      method: 'POST',
      url: '/api/v1/companies/hostile/webhooks',
      headers,
      payload: { url: 'http://127.0.0.1:9/hook', enabled: false },
    });
    expect(hook.statusCode).toBe(201);
    good = {
      instanceId: inst.id,
      companyId: 'hostile',
      messageId: inbound.json().message_id,
      keyId: (await t.gw.store.keys.list({ company_id: 'hostile', kind: 'company' }))[0].id,
      deliveryId: '1',
      approvalId: '00000000-0000-4000-8000-000000000002',
      name: 'n',
      lid: '123456789012345@lid',
      groupId: '120363000000000001@g.us',
    };
    const webhookId = hook.json().webhook.id as string;
    doc = t.app.swagger();
    ops = listOperations(doc)
      .filter((o) => !o.path.startsWith('/docs'))
      .map((o) => ({ ...o, values: valuesFor(o.path, inst.id, webhookId) }));
  });

  const valuesFor = (path: string, instanceId: string, webhookId: string) => ({
    ...good,
    id: path.startsWith('/api/v1/companies/:id')
      ? 'hostile'
      : path.startsWith('/api/v1/webhooks/:id')
        ? webhookId
        : instanceId,
  });
  const urlOf = (op: Operation) =>
    fillPath(op.path, (op as Operation & { values: Record<string, string> }).values);

  /** Sends one request; returns a failure line, or null when it was refused as expected. */
  const send = async (
    op: Operation,
    what: string,
    req: { url?: string; body?: unknown; rawBody?: string },
    expected: { status: number; code: string; path?: string; evenForProviders?: boolean },
  ): Promise<string | null> => {
    const res = await t.app.inject({
      method: op.method as 'POST',
      url: req.url ?? urlOf(op),
      headers: { ...headers, 'content-type': 'application/json' },
      payload: req.rawBody ?? (req.body === undefined ? undefined : JSON.stringify(req.body)),
    });
    const line = `${op.method} ${op.path} ${what} → ${res.statusCode} ${res.body.slice(0, 160)}`;
    if (res.statusCode >= 500) return line;
    if (isProviderInput(op) && !expected.evenForProviders) return null;
    let body: any;
    try {
      body = res.json();
    } catch {
      return line;
    }
    if (res.statusCode !== expected.status || body?.error?.code !== expected.code) return line;
    if (expected.path !== undefined) {
      const paths = (Array.isArray(body.error.details) ? body.error.details : []).map((d: any) => d?.path);
      if (!paths.includes(expected.path)) return `${line} (details do not name ${expected.path})`;
    }
    return null;
  };

  it('has a valid example for every operation with a body, covering every string field of its schema', () => {
    const missing: string[] = [];
    for (const op of ops) {
      const schema = bodySchemaOf(doc, op);
      if (!schema) continue;
      const key = `${op.method} ${op.path}`;
      const ex = EXAMPLES[key];
      if (!ex) {
        missing.push(`${key}: add an example to EXAMPLES in test/e2e/hostile-input.test.ts`);
        continue;
      }
      for (const f of bodyFields(schema)) {
        if (f.path.length > 0 && getAt(ex.full, f.path) === undefined)
          missing.push(`${key}: EXAMPLES.full has no value at ${f.path.join('.')}`);
      }
    }
    expect(missing).toEqual([]);
    expect(ops.filter((o) => bodySchemaOf(doc, o)).length).toBeGreaterThan(20);
  });

  it('refuses NUL and lone surrogates in every body string, record value and record key with a 400 naming the field, writing nothing', async () => {
    const before = await digest();
    const failures: string[] = [];
    let sent = 0;
    for (const op of ops) {
      const schema = bodySchemaOf(doc, op);
      const ex = EXAMPLES[`${op.method} ${op.path}`];
      if (!schema || !ex) continue;
      for (const f of bodyFields(schema)) {
        if (f.kind === 'date-time' || f.path.length === 0) continue;
        for (const [name, bad] of Object.entries(HOSTILE)) {
          for (const [what, body, path] of hostileBodies(ex, f, bad)) {
            sent++;
            const fail = await send(
              op,
              `${name} ${what}`,
              { body },
              { status: 400, code: 'SB_ERR_VALIDATION', path },
            );
            if (fail) failures.push(fail);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(200);
    expect(await digest()).toEqual(before);
  });

  it('refuses a NUL in every path parameter and every string query parameter with a 400, writing nothing', async () => {
    const before = await digest();
    const failures: string[] = [];
    for (const op of ops) {
      if (op.public && !op.pathParams.length) continue;
      const values = (op as Operation & { values: Record<string, string> }).values;
      for (const p of op.pathParams) {
        const url = fillPath(op.path, { ...values, [p]: `${values[p]}\u0000` });
        const body = EXAMPLES[`${op.method} ${op.path}`]?.min;
        const fail = await send(
          op,
          `path :${p}`,
          { url, body },
          { status: 400, code: 'SB_ERR_VALIDATION', path: p },
        );
        if (fail) failures.push(fail);
      }
      if (op.method !== 'GET') continue;
      for (const q of queryParamsOf(doc, op)) {
        if (q.schema.type !== 'string') continue;
        const url = `${urlOf(op)}?${q.name}=${encodeURIComponent(`${exampleQuery(q.name)}\u0000`)}`;
        const fail = await send(
          op,
          `query ${q.name}`,
          { url },
          { status: 400, code: 'SB_ERR_VALIDATION', path: q.name },
        );
        if (fail) failures.push(fail);
      }
    }
    expect(failures).toEqual([]);
    expect(await digest()).toEqual(before);
  });

  it(`refuses a ${DEPTH}-deep JSON body on every operation, and inside every free-form record, with a 400`, async () => {
    const before = await digest();
    const failures: string[] = [];
    for (const op of ops) {
      if (op.method === 'GET' || op.method === 'DELETE') continue;
      for (const [what, rawBody] of [
        ['deep array', DEEP_ARRAY],
        ['deep object', DEEP_OBJECT],
      ]) {
        const fail = await send(
          op,
          what,
          { rawBody },
          {
            status: 400,
            code: 'SB_ERR_BAD_JSON',
            evenForProviders: true,
          },
        );
        if (fail) failures.push(fail);
      }
      const schema = bodySchemaOf(doc, op);
      const ex = EXAMPLES[`${op.method} ${op.path}`];
      if (!schema || !ex) continue;
      for (const f of bodyFields(schema)) {
        if (f.kind !== 'record' || f.path.length === 0) continue;
        for (const deep of [DEEP_ARRAY, DEEP_OBJECT]) {
          const rawBody = JSON.stringify(setAt(structuredClone(ex.min), f.path, '__DEEP__')).replace(
            '"__DEEP__"',
            `{"nested":${deep}}`,
          );
          const fail = await send(
            op,
            `deep ${f.path.join('.')}`,
            { rawBody },
            {
              status: 400,
              code: 'SB_ERR_BAD_JSON',
              evenForProviders: true,
            },
          );
          if (fail) failures.push(fail);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(await digest()).toEqual(before);
  });

  it('refuses dates PostgreSQL cannot hold and dates that do not exist, in every body and query date field', async () => {
    const before = await digest();
    const failures: string[] = [];
    let fields = 0;
    for (const op of ops) {
      const schema = bodySchemaOf(doc, op);
      const ex = EXAMPLES[`${op.method} ${op.path}`];
      for (const f of schema && ex ? bodyFields(schema) : []) {
        if (f.kind !== 'date-time') continue;
        fields++;
        for (const d of BAD_DATES) {
          const body = setAt(structuredClone(ex!.min), f.path, d);
          const fail = await send(
            op,
            `${f.path.join('.')}=${d}`,
            { body },
            {
              status: 400,
              code: 'SB_ERR_VALIDATION',
              path: f.path.join('.'),
            },
          );
          if (fail) failures.push(fail);
        }
      }
      if (op.method !== 'GET') continue;
      for (const q of queryParamsOf(doc, op)) {
        if (q.schema.type !== 'string' || !(q.schema.format === 'date-time' || DATE_QUERY_PARAMS.has(q.name)))
          continue;
        fields++;
        for (const d of BAD_DATES) {
          const url = `${urlOf(op)}?${q.name}=${encodeURIComponent(d)}`;
          const fail = await send(
            op,
            `?${q.name}=${d}`,
            { url },
            { status: 400, code: 'SB_ERR_VALIDATION', path: q.name },
          );
          if (fail) failures.push(fail);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(fields).toBeGreaterThanOrEqual(2);
    expect(await digest()).toEqual(before);
  });

  it('guards the WebSocket event routes too (they are not in the OpenAPI document): a NUL in the query is a 400 before any upgrade', async () => {
    for (const url of ['/api/v1/events?types=message%00', '/api/whatsapp/events?company_id=hostile%00']) {
      const res = await t.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.code, url).toBe('SB_ERR_VALIDATION');
    }
  });

  it('still accepts ordinary dates, Unix times and non-ASCII text', async () => {
    const { instanceId } = good;
    for (const before of [
      '2030-01-01T00:00:00Z',
      '2030-01-01',
      '2030-01-01T10:00:00+05:30',
      '1900000000',
      '1900000000000',
    ]) {
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/instances/${instanceId}/messages?before=${encodeURIComponent(before)}`,
        headers,
      });
      expect(res.statusCode, before).toBe(200);
      expect(
        res.json().messages.map((m: { message_id: string }) => m.message_id),
        before,
      ).toContain(good.messageId);
    }
    const old = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${instanceId}/messages?before=2001-01-01`,
      headers,
    });
    expect(old.json().messages).toEqual([]);
    const patch = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${instanceId}`,
      headers,
      payload: { name: 'Zoë 💬 (U+FFFD: \uFFFD)', settings: { label: '日本語', note: 'a\\u0000b' } },
    });
    expect(patch.statusCode).toBe(200);
    expect(patch.json().instance.name).toBe('Zoë 💬 (U+FFFD: \uFFFD)');
    expect(patch.json().instance.settings).toMatchObject({ label: '日本語', note: 'a\\u0000b' });
  });
});

describe('messenger input with hostile bytes is stored, never dropped', () => {
  let headers: Record<string, string>;
  beforeAll(async () => {
    headers = await createCompany(t, 'contacts');
  });

  it('stores a simulator contact whose name and text hold U+0000 and lone surrogates, with U+FFFD in their place', async () => {
    const inst = await createConnectedInstance(t, headers, 'contacts', '15550008888');
    // What a peer on the messenger network sends (the HTTP simulate route itself refuses such input with a 400).
    const sent = await t.gw.supervisor.control(inst.id, 'inbound', {
      from: '14155550001@s.whatsapp.net',
      text: 'hi\u0000there \ud800!',
      name: 'Ev\u0000e',
      message_id: 'HOSTILE\u00001',
    });
    expect(sent.message_id).toBe('HOSTILE\u00001');
    const list = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${inst.id}/messages`,
      headers,
    });
    expect(list.statusCode).toBe(200);
    expect(list.json().messages).toEqual([
      expect.objectContaining({
        message_id: 'HOSTILE\uFFFD1',
        body: 'hi\uFFFDthere \uFFFD!',
        contact_name: 'Ev\uFFFDe',
        chat_id: '14155550001@s.whatsapp.net',
      }),
    ]);
    const contacts = await t.app.inject({
      method: 'GET',
      url: `/api/v1/instances/${inst.id}/contacts`,
      headers,
    });
    expect(contacts.json().contacts).toEqual([expect.objectContaining({ name: 'Ev\uFFFDe' })]);
    const events = await t.gw.store.events.listSince({ since: 0, limit: 1000, company_id: 'contacts' });
    expect(events.filter((e) => e.type === 'message').map((e) => (e.data as any).message.body)).toEqual([
      'hi\uFFFDthere \uFFFD!',
    ]);
  });

  it('stores a WhatsApp message (through the Baileys mapper) and contact whose push name and text hold U+0000', async () => {
    const sockets: HostileWaSocket[] = [];
    const wa = createWhatsAppProvider({
      store: t.gw.store,
      auth: new MemoryAuthStore(),
      makeSocket: (config) => {
        const s = new HostileWaSocket(config);
        sockets.push(s);
        return s as unknown as WaSocket;
      },
      knobs: { healthCheckIntervalMs: 0, historyDays: 0 },
    });
    const supervisor = new LocalSupervisor({
      store: t.gw.store,
      bus: t.gw.bus,
      providers: { get: (n) => (n === 'whatsapp' ? wa : undefined), list: () => [wa] },
      logger: t.gw.logger,
    });
    const inst = await t.gw.store.instances.create({
      company_id: 'contacts',
      provider: 'whatsapp',
      name: null,
      type_instance: ['api'],
      settings: {},
      mcp_schema: {},
      desired_state: 'running',
    });
    try {
      await supervisor.start(inst.id);
      await eventually(() => sockets.length === 1);
      sockets[0].open('15550009999');
      await eventually(async () => (await t.gw.store.instances.get(inst.id))?.auth_status === 'client_ready');
      sockets[0].ev.emit('contacts.upsert', [{ id: '4915100000002@s.whatsapp.net', notify: 'Bo\u0000b' }]);
      sockets[0].ev.emit('messages.upsert', {
        type: 'notify',
        messages: [
          {
            key: { remoteJid: '4915100000001@s.whatsapp.net', id: 'WA\u0000NUL', fromMe: false },
            message: { conversation: 'hello\u0000world' },
            messageTimestamp: 1_700_000_100,
            pushName: 'An\u0000na \udc00',
          },
        ],
      });
      const stored = await eventually(
        async () => (await t.gw.store.messages.list({ instance_id: inst.id, limit: 10 })).items[0],
      );
      expect(stored).toMatchObject({
        message_id: 'WA\uFFFDNUL',
        body: 'hello\uFFFDworld',
        contact_name: 'An\uFFFDna \uFFFD',
        chat_id: '4915100000001@s.whatsapp.net',
      });
      const contacts = await t.gw.store.contacts.list({ instance_id: inst.id, limit: 10 });
      expect(contacts.items.map((c) => c.name).sort()).toEqual(['An\uFFFDna \uFFFD', 'Bo\uFFFDb']);
    } finally {
      await supervisor.shutdown();
    }
  });
});

/** The least of a Baileys socket the WhatsApp session needs to log in and receive (events in Baileys' shapes). */
class HostileWaSocket {
  readonly ev = new EventEmitter();
  user: { id: string } | undefined;
  constructor(readonly config: UserFacingSocketConfig) {}
  open(phone: string): void {
    this.user = { id: `${phone}:7@s.whatsapp.net` };
    this.config.auth.creds.me = { id: this.user.id };
    this.ev.emit('connection.update', { connection: 'open' });
  }
  end(): void {}
  async logout(): Promise<void> {}
}

/** Per operation: `min` is a small valid body; `full` has a value at every string field of the schema. */
interface Example {
  min: unknown;
  full: Record<string, unknown>;
}

const EXAMPLES: Record<string, Example> = {
  'POST /api/v1/instances/:id/groups': {
    min: { subject: 'Team', participants: ['+4915112345678'] },
    full: { subject: 'Team', participants: ['+4915112345678'] },
  },
  'POST /api/v1/instances/:id/groups/:groupId/participants': {
    min: { action: 'add', participants: ['+4915112345678'] },
    full: { action: 'add', participants: ['+4915112345678'] },
  },
  'POST /api/v1/companies': { min: { id: 'delta', name: 'Delta' }, full: { id: 'delta', name: 'Delta' } },
  'POST /api/v1/companies/:id/keys': {
    min: {},
    full: { label: 'ci', scopes: ['read'], instance_ids: ['00000000-0000-4000-8000-000000000001'] },
  },
  'POST /api/v1/instances': {
    min: { company_id: 'hostile', provider: 'simulator', start: false },
    full: {
      company_id: 'hostile',
      user_id: 'hostile',
      provider: 'simulator',
      type_instance: ['api'],
      name: 'n',
      token: 't',
      settings: { note: 'x' },
      webhook: { url: 'http://127.0.0.1:9/x' },
      api_webhook_schema: { a: 'b' },
      mcp_schema: { allowed_tools: ['send_message'], allowed_recipients: ['14155552671'] },
      agent: { a: 'b' },
    },
  },
  'PATCH /api/v1/instances/:id': {
    min: { name: 'renamed' },
    full: {
      name: 'renamed',
      type_instance: ['api'],
      token: 't',
      settings: { note: 'x' },
      api_webhook_schema: { a: 'b' },
      mcp_schema: { allowed_tools: ['send_message'], allowed_recipients: ['14155552671'] },
      agent: { a: 'b' },
    },
  },
  'POST /api/v1/instances/:id/messages': {
    min: { to: '14155552671', text: 'hi' },
    full: {
      to: '14155552671',
      text: 'hi',
      reply_to: 'SIM1',
      media: {
        url: 'http://127.0.0.1:9/a.png',
        base64: 'aGk=',
        mimetype: 'image/png',
        filename: 'a.png',
        caption: 'c',
      },
      reaction: { message_id: 'SIM1', emoji: '👍' },
    },
  },
  'POST /api/v1/instances/:id/simulate/scan': { min: {}, full: { phone: '15550001111' } },
  'POST /api/v1/instances/:id/simulate/inbound': {
    min: { from: '14155552671', text: 'x' },
    full: { from: '14155552671', text: 'x', name: 'Ann', participant: '14155552672', message_id: 'M1' },
  },
  'POST /api/v1/instances/:id/simulate/drop': { min: {}, full: {} },
  'POST /api/v1/instances/:id/simulate/logout': { min: {}, full: {} },
  'POST /webhooks/telegram/:instanceId': {
    min: { update_id: 1 },
    full: { update_id: 1, message: { text: 'x' } },
  },
  'POST /webhooks/waha/:instanceId': {
    min: { event: 'message', session: 'default' },
    full: { event: 'message', session: 'default', payload: { body: 'x' } },
  },
  'POST /webhook': {
    min: { event: 'message', session: 'default' },
    full: { event: 'message', session: 'default', payload: { body: 'x', status: 'x' } },
  },
  'POST /api/v1/instances/:id/pairing-code': {
    min: { phone: '+4915112345678' },
    full: { phone: '+4915112345678' },
  },
  'POST /api/v1/instances/:id/mcp/approvals/:approvalId': {
    min: { decision: 'approve' },
    full: { decision: 'reject', reason: 'no' },
  },
  'POST /api/auth/login': {
    min: { email: 'a@example.com', password: 'pw' },
    full: { email: 'a@example.com', password: 'pw' },
  },
  'POST /api/v1/companies/:id/users': {
    min: { email: 'new.user@example.com', password: 'correct horse battery staple' },
    full: { email: 'new.user@example.com', password: 'correct horse battery staple', name: 'New' },
  },
  'POST /api/whatsapp/sessions/:companyId/initialize': { min: {}, full: {} },
  'POST /api/whatsapp/sessions/:companyId/send': {
    min: { phone: '+14155552671', message: 'hi' },
    full: { phone: '+14155552671', message: 'hi', options: { quoted: 'SIM1' } },
  },
  'POST /api/whatsapp/connect': { min: {}, full: {} },
  'POST /api/whatsapp/disconnect': { min: {}, full: {} },
  'PUT /api/v1/instances/:id/webhooks': {
    min: { url: 'http://127.0.0.1:9/in' },
    full: { url: 'http://127.0.0.1:9/in', events: ['message'], enabled: false },
  },
  'POST /api/v1/companies/:id/webhooks': {
    min: { url: 'http://127.0.0.1:9/in' },
    full: { url: 'http://127.0.0.1:9/in', events: ['message'], enabled: false },
  },
  'PATCH /api/v1/webhooks/:id': {
    min: { enabled: false },
    full: { url: 'http://127.0.0.1:9/in', events: ['message'] },
  },
  'POST /api/v1/webhooks/:id/rotate-secret': { min: {}, full: {} },
  'POST /api/v1/webhooks/:id/replay': {
    min: { since: '2020-01-01T00:00:00Z' },
    full: { since: '2020-01-01T00:00:00Z' },
  },
  // Event sinks (issue 20): `full` holds a value for the fields of every kind (only its values are used).
  'POST /api/v1/sinks': {
    min: { kind: 'rabbitmq', url: 'amqp://127.0.0.1:9/x', exchange: 'x' },
    full: {
      kind: 'rabbitmq',
      company_id: 'hostile',
      instance_id: '00000000-0000-4000-8000-000000000000',
      events: ['message'],
      url: 'amqp://127.0.0.1:9/x',
      exchange: 'x',
      exchange_type: 'topic',
      routing_key: 'sb.{type}',
      servers: ['nats://127.0.0.1:9'],
      token: 't',
      user: 'u',
      pass: 'p',
      stream: 'S',
      subject: 'sb.{type}',
      topic: 'sb/{type}',
    },
  },
  'PATCH /api/v1/sinks/:id': {
    min: { enabled: false },
    full: {
      events: ['message'],
      url: 'amqp://127.0.0.1:9/x',
      exchange: 'x',
      exchange_type: 'topic',
      routing_key: 'sb.{type}',
      servers: ['nats://127.0.0.1:9'],
      token: 't',
      user: 'u',
      pass: 'p',
      stream: 'S',
      subject: 'sb.{type}',
      topic: 'sb/{type}',
    },
  },
  'POST /api/v1/sinks/:id/rotate-secret': { min: {}, full: {} },
  'POST /api/v1/sinks/:id/replay': {
    min: { since: '2020-01-01T00:00:00Z' },
    full: { since: '2020-01-01T00:00:00Z' },
  },
};

/** For a string field: the example value with the hostile text appended. For a record: a bad value and a bad key. */
function hostileBodies(ex: Example, f: BodyField, bad: string): Array<[string, unknown, string]> {
  const at = f.path.join('.');
  if (f.kind === 'record') {
    return [
      [`in ${at}.note`, setAt(structuredClone(ex.min), f.path, { note: `x${bad}y` }), `${at}.note`],
      [`in a key of ${at}`, setAt(structuredClone(ex.min), f.path, { [`k${bad}`]: 1 }), `${at}.k\uFFFD`],
      [`deep in ${at}`, setAt(structuredClone(ex.min), f.path, { a: [{ b: bad }] }), `${at}.a.0.b`],
    ];
  }
  const value = getAt(ex.full, f.path);
  return [[`in ${at}`, setAt(structuredClone(ex.min), f.path, `${String(value)}${bad}`), at]];
}

function exampleQuery(name: string): string {
  return (
    { chat_id: '14155552671@s.whatsapp.net', cursor: 'abc', company_id: 'hostile', user_id: 'hostile' }[
      name
    ] ?? 'x'
  );
}

function getAt(v: unknown, path: string[]): unknown {
  let cur: any = v;
  for (const k of path) cur = cur?.[k];
  return cur;
}

function setAt(root: any, path: string[], value: unknown): any {
  const base = root ?? {};
  let cur = base;
  path.forEach((k, i) => {
    if (i === path.length - 1) cur[k] = value;
    else {
      if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== 'object')
        cur[k] = /^\d+$/.test(path[i + 1]) ? [] : {};
      cur = cur[k];
    }
  });
  return base;
}
