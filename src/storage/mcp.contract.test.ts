// The MCP repository contract (audit, approvals, the MCP-only chat/message/event reads) on PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest';
import { describeOnBackends, insertOutbound, newMessage, seedInstance } from '../../test/support/db.js';
import type { NewAuditEntry } from '../ports/mcp.js';
import type { Store } from '../ports/store.js';

const msg = newMessage;

const audit = (instanceId: string, companyId: string, over: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  instance_id: instanceId,
  company_id: companyId,
  tool: 'get_chats',
  args_digest: 'digest',
  outcome: 'ok',
  code: null,
  latency_ms: 3,
  key_kind: 'instance',
  key_id: null,
  approval_id: null,
  ...over,
});

describeOnBackends('MCP repository contract', (db) => {
  let store: Store;
  /** Instance of company c1, and one of company c2 (another tenant). */
  let a: string;
  let b: string;

  const newInstance = async (company: string) =>
    (await seedInstance(store, { company_id: company, type_instance: ['mcp'] })).id;

  beforeAll(async () => {
    store = db.store;
    await store.companies.ensure('c1', 'One');
    await store.companies.ensure('c2', 'Two');
    a = await newInstance('c1');
    b = await newInstance('c2');
  });

  describe('audit', () => {
    it('stores entries and lists them newest first, paged by id, filtered by tool, per instance', async () => {
      const inst = await newInstance('c1');
      await store.mcp.audit.insert(audit(inst, 'c1', { tool: 'get_chats', latency_ms: 2.6 }));
      await store.mcp.audit.insert(
        audit(inst, 'c1', {
          tool: 'send_message',
          outcome: 'denied',
          code: 'SB_ERR_FORBIDDEN',
          latency_ms: -4,
        }),
      );
      await store.mcp.audit.insert(
        audit(inst, 'c1', { tool: 'get_chats', key_id: 'k1', key_kind: 'company' }),
      );
      await store.mcp.audit.insert(audit(b, 'c2', { tool: 'get_chats' }));

      const p1 = await store.mcp.audit.list({ instance_id: inst, limit: 2 });
      expect(p1.items.map((e) => e.tool)).toEqual(['get_chats', 'send_message']);
      expect(p1.items[0]).toMatchObject({
        key_id: 'k1',
        key_kind: 'company',
        instance_id: inst,
        company_id: 'c1',
      });
      expect(p1.items[0]!.id).toBeGreaterThan(p1.items[1]!.id);
      expect(p1.items[1]).toMatchObject({ outcome: 'denied', code: 'SB_ERR_FORBIDDEN', latency_ms: 0 });
      expect(p1.next_cursor).toBe(String(p1.items[1]!.id));
      expect(Number.isNaN(Date.parse(p1.items[0]!.created_at))).toBe(false);

      const p2 = await store.mcp.audit.list({ instance_id: inst, limit: 2, before: Number(p1.next_cursor) });
      expect(p2.items).toHaveLength(1);
      expect(p2.items[0]).toMatchObject({
        tool: 'get_chats',
        latency_ms: 3,
        approval_id: null,
        key_id: null,
      });
      expect(p2.next_cursor).toBeNull();

      const filtered = await store.mcp.audit.list({ instance_id: inst, limit: 10, tool: 'get_chats' });
      expect(filtered.items.map((e) => e.tool)).toEqual(['get_chats', 'get_chats']);
      expect(filtered.next_cursor).toBeNull();

      const other = await store.mcp.audit.list({ instance_id: b, limit: 10 });
      expect(other.items.every((e) => e.instance_id === b && e.company_id === 'c2')).toBe(true);
      expect(other.items.length).toBeGreaterThan(0);
    });

    it('keeps the approval id of an entry', async () => {
      const ap = await store.mcp.approvals.create({
        instance_id: a,
        company_id: 'c1',
        tool: 'send_message',
        request: { to: 'x', text: 'y' },
      });
      await store.mcp.audit.insert(audit(a, 'c1', { outcome: 'pending_approval', approval_id: ap.id }));
      const page = await store.mcp.audit.list({ instance_id: a, limit: 1 });
      expect(page.items[0]).toMatchObject({ outcome: 'pending_approval', approval_id: ap.id });
    });
  });

  describe('approvals', () => {
    it('creates, reads, decides once and finishes an approval', async () => {
      const request = { to: '4915100000001@s.whatsapp.net', text: 'hi', reply_to: null };
      const created = await store.mcp.approvals.create({
        instance_id: a,
        company_id: 'c1',
        tool: 'send_message',
        request,
      });
      expect(created).toMatchObject({
        instance_id: a,
        company_id: 'c1',
        tool: 'send_message',
        request,
        status: 'pending',
        decided_by: null,
        reason: null,
        message_id: null,
        error_code: null,
        decided_at: null,
      });
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await store.mcp.approvals.get(a, created.id)).toEqual(created);

      const decided = await store.mcp.approvals.decide(a, created.id, {
        status: 'approved',
        decided_by: 'company:k1',
        reason: 'ok',
      });
      expect(decided).toMatchObject({ status: 'approved', decided_by: 'company:k1', reason: 'ok' });
      expect(decided!.decided_at).not.toBeNull();
      // Decided once only.
      expect(
        await store.mcp.approvals.decide(a, created.id, {
          status: 'rejected',
          decided_by: 'x',
          reason: null,
        }),
      ).toBeNull();

      const m = await store.messages.upsert(msg(a, { is_from_me: true }));
      const sent = await store.mcp.approvals.finish(a, created.id, {
        status: 'sent',
        message_id: m.message.id,
        error_code: null,
      });
      expect(sent).toMatchObject({ status: 'sent', message_id: m.message.id, error_code: null });

      const failed = await store.mcp.approvals.create({
        instance_id: a,
        company_id: 'c1',
        tool: 'send_media',
        request: { to: 'x', media: { url: 'https://example.test/a.png', caption: 'c' } },
      });
      await store.mcp.approvals.decide(a, failed.id, {
        status: 'approved',
        decided_by: 'admin:env',
        reason: null,
      });
      expect(
        await store.mcp.approvals.finish(a, failed.id, {
          status: 'failed',
          message_id: null,
          error_code: 'SB_ERR_UNAVAILABLE',
        }),
      ).toMatchObject({ status: 'failed', error_code: 'SB_ERR_UNAVAILABLE', request: failed.request });
    });

    it("never reads or changes another instance's approval", async () => {
      const theirs = await store.mcp.approvals.create({
        instance_id: b,
        company_id: 'c2',
        tool: 'send_message',
        request: { to: 'x', text: 'secret' },
      });
      expect(await store.mcp.approvals.get(a, theirs.id)).toBeNull();
      expect(
        await store.mcp.approvals.decide(a, theirs.id, { status: 'approved', decided_by: 'x', reason: null }),
      ).toBeNull();
      expect(
        await store.mcp.approvals.finish(a, theirs.id, {
          status: 'sent',
          message_id: null,
          error_code: null,
        }),
      ).toBeNull();
      expect((await store.mcp.approvals.list({ instance_id: a, limit: 100 })).map((x) => x.id)).not.toContain(
        theirs.id,
      );
      expect(await store.mcp.approvals.get(b, theirs.id)).toMatchObject({ status: 'pending' });
    });

    it('lists newest first, by status, up to the limit', async () => {
      const inst = await newInstance('c1');
      const request = (i: number) => ({
        instance_id: inst,
        company_id: 'c1',
        tool: 'send_message',
        request: { to: 'x', text: String(i) },
      });
      // Three in one transaction share their creation time (to the microsecond): they come by id, highest first.
      const ids = await store.tx(async (tx) => {
        const out: string[] = [];
        for (let i = 0; i < 3; i++) out.push((await tx.mcp.approvals.create(request(i))).id);
        return out;
      });
      const later = (await store.mcp.approvals.create(request(3))).id;
      await store.mcp.approvals.decide(inst, ids[1]!, { status: 'rejected', decided_by: 'x', reason: 'no' });
      const all = await store.mcp.approvals.list({ instance_id: inst, limit: 10 });
      expect(all.map((x) => x.id)).toEqual([later, ...[...ids].sort().reverse()]);
      expect((await store.mcp.approvals.list({ instance_id: inst, limit: 2 })).length).toBe(2);
      const pending = await store.mcp.approvals.list({ instance_id: inst, status: 'pending', limit: 10 });
      expect(pending.map((x) => x.id).sort()).toEqual([ids[0], ids[2], later].sort());
      const rejected = await store.mcp.approvals.list({ instance_id: inst, status: 'rejected', limit: 10 });
      expect(rejected.map((x) => x.id)).toEqual([ids[1]]);
    });

    it('works inside a transaction (rolled back with it)', async () => {
      let id = '';
      await expect(
        store.tx(async (tx) => {
          id = (
            await tx.mcp.approvals.create({
              instance_id: a,
              company_id: 'c1',
              tool: 'send_message',
              request: { to: 'x', text: 'rolled back' },
            })
          ).id;
          expect(await tx.mcp.approvals.get(a, id)).not.toBeNull();
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await store.mcp.approvals.get(a, id)).toBeNull();
    });
  });

  describe('chat, message and event reads', () => {
    it('knows whether a chat wrote first: only received messages of that chat in that instance count', async () => {
      const inst = await newInstance('c1');
      const chat = '4915100000042@s.whatsapp.net';
      expect(await store.mcp.chatWroteFirst(inst, chat)).toBe(false);
      await store.messages.upsert(msg(inst, { chat_id: chat, is_from_me: true, status: 'sent' }));
      expect(await store.mcp.chatWroteFirst(inst, chat)).toBe(false);
      await store.messages.upsert(msg(b, { chat_id: chat, company_id: 'c2' }));
      expect(await store.mcp.chatWroteFirst(inst, chat)).toBe(false);
      await store.messages.upsert(msg(inst, { chat_id: chat }));
      expect(await store.mcp.chatWroteFirst(inst, chat)).toBe(true);
      expect(await store.mcp.chatWroteFirst(inst, '4915100000043@s.whatsapp.net')).toBe(false);
    });

    it('searches the groups of one instance by id or name, literally, most recent first', async () => {
      const inst = await newInstance('c1');
      const touch = (chat_id: string, name: string | null, is_group: boolean, at: string, i = inst) =>
        store.chats.touch({ instance_id: i, chat_id, name, is_group, at, preview: 'p', unread_delta: 1 });
      await touch('111@g.us', 'Family', true, '2026-01-01T00:00:00Z');
      await touch('222@g.us', 'Work 100%', true, '2026-01-03T00:00:00Z');
      await touch('333@g.us', null, true, '2026-01-02T00:00:00Z');
      await touch('4915100000001@s.whatsapp.net', 'Family friend', false, '2026-01-04T00:00:00Z');
      await touch('444@g.us', 'Family abroad', true, '2026-01-05T00:00:00Z', b);

      const all = await store.mcp.searchGroups(inst, { limit: 10 });
      expect(all.map((c) => c.chat_id)).toEqual(['222@g.us', '333@g.us', '111@g.us']);
      expect(all[0]).toEqual({
        instance_id: inst,
        chat_id: '222@g.us',
        name: 'Work 100%',
        is_group: true,
        last_message_at: '2026-01-03T00:00:00.000Z',
        last_message_preview: 'p',
        unread_count: 1,
        phone: null,
      });
      expect(
        (await store.mcp.searchGroups(inst, { query: 'FAMILY', limit: 10 })).map((c) => c.chat_id),
      ).toEqual(['111@g.us']);
      expect((await store.mcp.searchGroups(inst, { query: '333', limit: 10 })).map((c) => c.chat_id)).toEqual(
        ['333@g.us'],
      );
      // % and _ are literal, not wildcards.
      expect((await store.mcp.searchGroups(inst, { query: '0%', limit: 10 })).map((c) => c.chat_id)).toEqual([
        '222@g.us',
      ]);
      expect(await store.mcp.searchGroups(inst, { query: '1_1', limit: 10 })).toEqual([]);
      expect(await store.mcp.searchGroups(inst, { query: '\\', limit: 10 })).toEqual([]);
      expect((await store.mcp.searchGroups(inst, { limit: 2 })).map((c) => c.chat_id)).toEqual([
        '222@g.us',
        '333@g.us',
      ]);
    });

    it('orders groups with the same last message time by chat id', async () => {
      const inst = await newInstance('c1');
      await store.chats.touch({
        instance_id: inst,
        chat_id: 'b@g.us',
        name: 'B',
        is_group: true,
        at: '2026-01-01T00:00:00Z',
        preview: null,
        unread_delta: 0,
      });
      await store.chats.touch({
        instance_id: inst,
        chat_id: 'a@g.us',
        name: 'A',
        is_group: true,
        at: '2026-01-01T00:00:00Z',
        preview: null,
        unread_delta: 0,
      });
      expect((await store.mcp.searchGroups(inst, { limit: 10 })).map((c) => c.chat_id)).toEqual([
        'a@g.us',
        'b@g.us',
      ]);
    });

    it("marks a chat of the instance read, never another instance's", async () => {
      const chat = '4915100000077@s.whatsapp.net';
      const at = '2026-02-01T00:00:00Z';
      await store.chats.touch({
        instance_id: a,
        chat_id: chat,
        name: null,
        is_group: false,
        at,
        preview: 'x',
        unread_delta: 3,
      });
      await store.chats.touch({
        instance_id: b,
        chat_id: chat,
        name: null,
        is_group: false,
        at,
        preview: 'x',
        unread_delta: 2,
      });
      expect(await store.mcp.markChatRead(a, chat)).toBe(true);
      expect((await store.chats.get(a, chat))?.unread_count).toBe(0);
      expect((await store.chats.get(b, chat))?.unread_count).toBe(2);
      expect(await store.mcp.markChatRead(a, chat)).toBe(true);
      expect(await store.mcp.markChatRead(a, 'nobody@s.whatsapp.net')).toBe(false);
    });

    it('lists the provider ids of the latest received messages of a chat, newest first', async () => {
      const inst = await newInstance('c1');
      const chat = '4915100000088@s.whatsapp.net';
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
      await store.messages.upsert(msg(inst, { chat_id: chat, message_id: 'r1', timestamp: at(1) }));
      await store.messages.upsert(msg(inst, { chat_id: chat, message_id: 'r3', timestamp: at(3) }));
      await store.messages.upsert(msg(inst, { chat_id: chat, message_id: 'r2', timestamp: at(2) }));
      await store.messages.upsert(
        msg(inst, { chat_id: chat, message_id: 'own', is_from_me: true, timestamp: at(4) }),
      );
      await insertOutbound(
        store,
        msg(inst, {
          chat_id: chat,
          message_id: null,
          is_from_me: true,
          status: 'pending',
          idempotency_key: 'k',
        }),
      );
      await store.messages.upsert(
        msg(inst, { chat_id: 'other@s.whatsapp.net', message_id: 'o1', timestamp: at(5) }),
      );
      await store.messages.upsert(
        msg(b, { chat_id: chat, company_id: 'c2', message_id: 'b1', timestamp: at(6) }),
      );

      expect(await store.mcp.recentReceivedIds(inst, chat, 20)).toEqual(['r3', 'r2', 'r1']);
      expect(await store.mcp.recentReceivedIds(inst, chat, 2)).toEqual(['r3', 'r2']);
      expect(await store.mcp.recentReceivedIds(inst, 'none@s.whatsapp.net', 20)).toEqual([]);
    });

    it("gives the instance's latest event id, 0 before its first", async () => {
      const inst = await newInstance('c1');
      expect(await store.mcp.latestEventId(inst)).toBe(0);
      const e1 = await store.events.append({ type: 'qr', instance_id: inst, company_id: 'c1', data: {} });
      const e2 = await store.events.append({ type: 'qr', instance_id: inst, company_id: 'c1', data: {} });
      await store.events.append({ type: 'qr', instance_id: b, company_id: 'c2', data: {} });
      await store.events.append({ type: 'qr', instance_id: null, company_id: 'c1', data: {} });
      expect(e2.id).toBeGreaterThan(e1.id);
      expect(await store.mcp.latestEventId(inst)).toBe(e2.id);
    });
  });
});
