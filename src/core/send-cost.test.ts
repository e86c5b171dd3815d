// The cost of a send and of its acks in SQL statements (counted at the driver), and acks racing their send.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTestDb, type QueryGate, queryGate, type TestDb } from '../../test/support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import type { Driver } from '../storage/sql.js';
import { createSqlStore } from '../storage/sql-store.js';

/** Statements that run at most once a second (activity, key lookup): left out of exact counts. */
const counted = (xs: string[]) =>
  xs.filter((x) => !/^UPDATE instances SET last_activity|^SELECT id::text AS id, kind, prefix/.test(x));

/** Work that runs beside a send (the webhook worker's claim, the event log read of the cluster bus). */
const BACKGROUND = [/^\s*WITH busy AS/, /FROM "[^"]+"\.events\s+WHERE id >/];

/** Once armed, holds the next pending-row insert until `release()`. */
const holdFirstPendingInsert = () => queryGate((text) => /\bins AS \(\s*INSERT INTO/.test(text));

/**
 * The test database with a store whose driver counts (and names) the statements it runs; a query waits at
 * `holds.gate` while one is set.
 */
async function countedDb(holds: { gate?: QueryGate }): Promise<{ db: TestDb; seen: string[] }> {
  const db = await openTestDb();
  const seen: string[] = [];
  const name = (text: string) => {
    if (BACKGROUND.some((re) => re.test(text))) return null;
    const flat = text
      .replace(/"[^"]+"\./g, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (/pg_advisory/.test(flat)) return 'advisory lock';
    // The pending rows of sends (messages.insertOutboundMany), by what it does.
    if (/\bins AS \( INSERT INTO messages/.test(flat)) return 'INSERT pending rows';
    return flat.slice(0, 40);
  };
  const note = (text: string) => {
    const n = name(text);
    if (n) seen.push(n);
  };
  const inner = db.driver;
  const driver: Driver = {
    kind: inner.kind,
    query: async (text, params) => {
      note(text);
      await holds.gate?.wait(text);
      return inner.query(text, params);
    },
    transaction: (fn) => {
      // A transaction counts as BEGIN, its statements and COMMIT — unless it is background work.
      const mine: string[] = [];
      let background = false;
      return inner
        .transaction((sql) =>
          fn({
            query: (text, params) => {
              const n = name(text);
              if (n) mine.push(n);
              else background = true;
              return sql.query(text, params);
            },
          }),
        )
        .finally(() => {
          if (!background) seen.push('BEGIN', ...mine, 'COMMIT');
        });
    },
    close: () => inner.close(),
  };
  return { db: { ...db, store: createSqlStore(driver, db.schema) }, seen };
}

describe('send path cost', { timeout: 120_000 }, () => {
  // One gateway for the file (a gateway start is most of a test's time): each test has its own company and
  // instance, empties `seen` before it measures, and the knobs and gate it sets are put back after it.
  let t: TestGateway;
  let seen: string[];
  let db: TestDb;
  const holds: { gate?: QueryGate } = {};
  let knobs: TestGateway['network']['knobs'];
  beforeAll(async () => {
    ({ db, seen } = await countedDb(holds));
    t = await startTestGateway({ db });
    knobs = { ...t.network.knobs };
  }, 180_000);
  afterEach(() => {
    holds.gate?.release();
    holds.gate = undefined;
    Object.assign(t.network.knobs, knobs);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** A company with a connected instance whose acks wait (released by hand), and a send of 'hello' through it. */
  const helloSender = async (name: string) => {
    t.network.knobs.ackDelayMs = 3_600_000;
    const headers = await createCompany(t, name);
    const inst = await createConnectedInstance(t, headers, name);
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${inst.id}/messages`,
        headers,
        payload: { to: '+4915123456789', text: 'hello' },
      });
    return { inst, send };
  };

  it('counts the statements of one send and of each of its acks', async () => {
    const { inst, send } = await helloSender('cost');
    expect((await send()).statusCode).toBe(201); // warm: key, chat row
    seen.length = 0;
    const res = await send();
    expect(res.statusCode).toBe(201);
    const perSend = [...seen];
    seen.length = 0;
    // Through the provider and the supervisor, as a receipt from the messenger arrives.
    await t.gw.supervisor.control(inst.id, 'ack', {
      message_id: res.json().message.message_id,
      status: 'delivered',
    });
    const perAck = [...seen];
    process.stdout.write(
      `send-cost ${db.kind}: ${perSend.length} statements per send: ${perSend.join(' | ')}\n` +
        `send-cost ${db.kind}: ${perAck.length} statements per ack: ${perAck.join(' | ')}\n`,
    );
    // Before: 8 per send (instance read, insert, a transaction of lock, record, chat, event) and 5 per ack (with an
    // advisory lock; an early ack was stashed); then 6 (the cached instance checked inside the insert; the finalise
    // still a transaction of record, chat, event). Now 2: the pending-row insert and the finalise of a pre-assigned
    // id, one statement without a transaction (`finaliseSent`). Both are group committed.
    // The activity write and the key lookup (each at most once a second) are left out: whether they fall into the
    // measured send is a matter of time (the activity write is part of the finalise statement anyway).
    expect(counted(perSend)).toEqual(['INSERT pending rows', expect.stringMatching(/^WITH v AS/)]);
    expect(counted(perAck)).toEqual([
      'BEGIN',
      expect.stringMatching(/^WITH v AS/),
      expect.stringMatching(/^WITH ev AS \(INSERT INTO events/),
      'COMMIT',
    ]);
    expect([...perSend, ...perAck].filter((x) => /advisory|pending_acks/.test(x))).toEqual([]);
    const stored = await eventually(async () => {
      const m = await t.db.store.messages.get(inst.id, res.json().message.id);
      return m?.status === 'delivered' ? m : null;
    });
    expect(stored.status).toBe('delivered');
  });

  it('writes the pending rows of overlapping sends in one statement', async () => {
    const hold = holdFirstPendingInsert();
    holds.gate = hold;
    t.network.knobs.ackDelayMs = 3_600_000;
    const headers = await createCompany(t, 'cost-many');
    const inst = await createConnectedInstance(t, headers, 'cost-many');
    const send = (i: number) =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${inst.id}/messages`,
        headers,
        payload: { to: `+49151234567${i}`, text: `hello ${i}` },
      });
    expect((await send(9)).statusCode).toBe(201); // warm: key, cache, chat row
    seen.length = 0;
    // The first send's insert is held; the 7 that arrive meanwhile wait for the next flush, as under load.
    hold.arm();
    const first = send(0);
    await hold.held;
    const rest = [1, 2, 3, 4, 5, 6, 7].map(send);
    const writer = t.gw.messaging.pending;
    await eventually(async () => (writer.waiting === rest.length ? true : null));
    hold.release();
    const all = await Promise.all([first, ...rest]);
    expect(all.map((r) => r.statusCode)).toEqual(all.map(() => 201));
    const perSend = counted(seen);
    process.stdout.write(
      `send-cost ${db.kind}: ${perSend.length} statements for 8 overlapping sends: ${perSend.join(' | ')}\n`,
    );
    // Two pending-row inserts for 8 sends (the held one, then the 7 together); the finalises are group committed
    // too, in as many batches as the provider's replies arrive in (timing), each ONE statement, no transaction
    // (before: BEGIN, record, chat, event, COMMIT — 12 statements in all for the 8 sends in one run; now 4).
    expect(perSend.filter((x) => x === 'INSERT pending rows')).toHaveLength(2);
    const finalises = perSend.filter((x) => x !== 'INSERT pending rows');
    expect(finalises.length).toBeGreaterThan(0);
    expect(finalises.every((x) => /^WITH v AS/.test(x))).toBe(true);
    expect(await t.db.store.messages.count(inst.id)).toBe(9);
  });

  it('counts the statements of a status change that comes with a second event (client_ready + connected)', async () => {
    const headers = await createCompany(t, 'cost-status');
    const inst = await createConnectedInstance(t, headers, 'cost-status');
    seen.length = 0;
    // The simulator's connection drops and comes back: reconnecting, then client_ready with its `connected` event.
    await t.gw.supervisor.control(inst.id, 'drop', {});
    const perDrop = counted(seen);
    process.stdout.write(
      `send-cost ${db.kind}: ${perDrop.length} statements per drop+reconnect: ${perDrop.join(' | ')}\n`,
    );
    // Each status write: BEGIN, the row locked, updated, its events in ONE statement, COMMIT. Before, the reconnect's
    // `instance.status` and `connected` events were two statements inside the row lock.
    const statusWrite = [
      'BEGIN',
      expect.stringMatching(/^SELECT id::text AS id, company_id/), // the row, FOR UPDATE
      expect.stringMatching(/^UPDATE instances/),
      expect.stringMatching(/^WITH ev AS \(INSERT INTO events/),
      'COMMIT',
    ];
    expect(perDrop).toEqual([...statusWrite, ...statusWrite]);
    const types = (await t.db.store.events.listSince({ since: 0, limit: 100, instance_id: inst.id })).map(
      (e) => e.type,
    );
    expect(types.slice(-3)).toEqual(['instance.status', 'instance.status', 'connected']);
  });

  it.each([
    ['pre-assigned ids (WhatsApp, simulator)', false],
    ['server-assigned ids (Telegram, WAHA)', true],
  ])('an ack that overtakes its send is never lost: %s', async (_kind, serverIds) => {
    // Set before the session starts: it decides whether the provider chooses its ids.
    t.network.knobs.serverIds = serverIds;
    t.network.knobs.acksFirst = true;
    const company = serverIds ? 'race-server-ids' : 'race';
    const headers = await createCompany(t, company);
    const inst = await createConnectedInstance(t, headers, company);
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/messages`,
      headers,
      payload: { to: '+4915123456789', text: 'race' },
    });
    expect(res.statusCode).toBe(201);
    const sent = res.json().message;
    expect(sent.status).toBe('read');
    expect((await t.db.store.messages.get(inst.id, sent.id))?.status).toBe('read');
    // The send's own event first (it shows the message sent), then the furthest ack that overtook it.
    const events = (await t.db.store.events.listSince({ since: 0, instance_id: inst.id, limit: 500 })).filter(
      (e) => e.type === 'message' || e.type === 'message.ack',
    );
    expect(
      events.map((e) =>
        e.type === 'message'
          ? ['message', (e.data.message as { status: string }).status]
          : ['message.ack', e.data.status],
      ),
    ).toEqual([
      ['message', 'sent'],
      ['message.ack', 'read'],
    ]);
    const left = await t.db.driver.query<{ acks: number; early: number }>(
      `SELECT (SELECT count(*) FROM "${t.db.schema}".pending_acks)::int AS acks,
         (SELECT count(*) FROM "${t.db.schema}".messages WHERE early_status IS NOT NULL)::int AS early`,
    );
    expect(left[0]).toEqual({ acks: 0, early: 0 });
  });

  it('never trusts a cached instance row past a change, here or by another replica', async () => {
    t.network.knobs.ackDelayMs = 3_600_000;
    const headers = await createCompany(t, 'cache');
    const inst = await createConnectedInstance(t, headers, 'cache');
    const send = (text = 'hello') =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${inst.id}/messages`,
        headers,
        payload: { to: '+4915123456789', text },
      });
    const readsInstance = () => seen.some((x) => /^SELECT id::text AS id, company_id, name/.test(x));
    expect((await send()).statusCode).toBe(201);
    seen.length = 0;
    expect((await send()).statusCode).toBe(201);
    expect(readsInstance()).toBe(false);
    // A change made through this replica drops the cached row at once: the next send reads it again.
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/instances/${inst.id}`,
      headers,
      payload: { name: 'renamed' },
    });
    expect(patched.statusCode).toBe(200);
    seen.length = 0;
    expect((await send()).statusCode).toBe(201);
    expect(readsInstance()).toBe(true);
    // Changes written by another replica (straight to the database, past this replica's services): the cached row
    // still says connected, but the insert checks its version, so the send sees the change.
    const other = t.db.store;
    await other.instances.update(inst.id, { auth_status: 'reconnecting' });
    const refused = await send('while reconnecting');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('SB_ERR_NOT_CONNECTED');
    await other.instances.update(inst.id, { auth_status: 'client_ready' });
    expect((await send('connected again')).statusCode).toBe(201);
    await other.instances.delete(inst.id);
    const gone = await send('deleted');
    expect(gone.statusCode).toBe(404);
    const bodies = await t.db.driver.query<{ body: string }>(
      `SELECT body FROM "${t.db.schema}".messages WHERE body IN ('while reconnecting', 'deleted')`,
    );
    expect(bodies).toEqual([]);
  });

  it('previews a send by its first 120 code points, emoji counted as one, as an inbound message is', async () => {
    const headers = await createCompany(t, 'preview');
    const inst = await createConnectedInstance(t, headers, 'preview');
    // 20 emoji (40 UTF-16 units) then 200 letters: 120 code points are the emoji and 100 letters.
    const text = `${'\u{1F600}'.repeat(20)}${'x'.repeat(200)}`;
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/instances/${inst.id}/messages`,
      headers,
      payload: { to: '+4915123456789', text },
    });
    expect(res.statusCode).toBe(201);
    const chat = await t.db.store.chats.get(inst.id, res.json().message.chat_id);
    expect(chat?.last_message_preview).toBe(`${'\u{1F600}'.repeat(20)}${'x'.repeat(100)}`);
  });

  it('reads the instance row once for a send that finds it uncached (not once more to send with it)', async () => {
    const { inst, send } = await helloSender('miss');
    expect((await send()).statusCode).toBe(201); // warm: key, chat row
    const instanceReads = () => seen.filter((x) => /^SELECT id::text AS id, company_id, name/.test(x)).length;
    t.gw.instances.forget(inst.id);
    seen.length = 0;
    expect((await send()).statusCode).toBe(201);
    expect(instanceReads()).toBe(1);
    // Cached now: the next send reads it not at all.
    seen.length = 0;
    expect((await send()).statusCode).toBe(201);
    expect(instanceReads()).toBe(0);
  });
});
