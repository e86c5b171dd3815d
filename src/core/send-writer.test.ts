// The group-committed pending rows of sends: a shared batch, Idempotency-Key repeats inside it, a bad row alone.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  newMessage,
  openTestDb,
  type QueryGate,
  queryGate,
  seedInstance,
  type TestDb,
} from '../../test/support/db.js';
import {
  createCompany,
  createConnectedInstance,
  eventually,
  startTestGateway,
  type TestGateway,
} from '../../test/support/gateway.js';
import type { NewMessage } from '../ports/store.js';
import type { Driver } from '../storage/sql.js';
import { createSqlStore } from '../storage/sql-store.js';
import { createSendWriter } from './send-writer.js';

const pending = (instanceId: string, over: Partial<NewMessage> = {}): NewMessage =>
  newMessage(instanceId, { message_id: null, is_from_me: true, status: 'pending', ...over });

/** Whether a statement is the pending-row insert of `insertOutboundMany`. */
const isPendingInsert = (text: string) => /jsonb_to_recordset/.test(text) && /\bins AS \(/.test(text);

/**
 * The test database with a store whose queries pass `holds.gate` while one is set: armed on the pending-row insert
 * (see {@link holdNextPendingInsert}), the sends that arrive while it holds queue for the next flush, so they share
 * one batch whatever the timing.
 */
async function heldDb(holds: { gate?: QueryGate }): Promise<TestDb> {
  const db = await openTestDb();
  const inner = db.driver;
  const driver: Driver = {
    kind: inner.kind,
    query: async (text, params) => {
      await holds.gate?.wait(text);
      return inner.query(text, params);
    },
    transaction: (fn) => inner.transaction(fn),
    close: () => inner.close(),
  };
  return { ...db, store: createSqlStore(driver, db.schema) };
}

/** A gate, armed, that holds the next pending-row insert until `release()`. */
function holdNextPendingInsert(): QueryGate {
  const gate = queryGate(isPendingInsert);
  gate.arm();
  return gate;
}

describe('send writer (group commit of pending rows)', { timeout: 120_000 }, () => {
  // One database and one gateway for the file (their start is most of a test's time): each test seeds its own
  // instances (and company), a writer test makes its own writer, and a gate a test sets is lifted after it.
  let db: TestDb;
  let t: TestGateway;
  const holds: { gate?: QueryGate } = {};
  beforeAll(async () => {
    db = await heldDb(holds);
    t = await startTestGateway({ db });
  }, 180_000);
  afterEach(() => {
    holds.gate?.release();
    holds.gate = undefined;
  });
  afterAll(async () => {
    // A test gateway closes its database with it.
    await t?.close();
  });

  it('writes sends of one tick in one statement; a repeated key in the batch gets the first one’s row', async () => {
    const inst = await seedInstance(db.store);
    const w = createSendWriter(db.store);
    const [a, b, c] = await Promise.all([
      w.submit({ message: pending(inst.id, { idempotency_key: 'k', request_hash: 'h1' }), version: null }),
      w.submit({ message: pending(inst.id, { idempotency_key: 'k', request_hash: 'h2' }), version: null }),
      w.submit({ message: pending(inst.id), version: null }),
    ]);
    expect(w.stats).toMatchObject({ flushes: 1, items: 3, largest: 3 });
    expect(a).toMatchObject({ inserted: true, request_hash: 'h1' });
    expect(b).toMatchObject({ inserted: false, request_hash: 'h1', message: { id: a?.message.id } });
    expect(c?.inserted).toBe(true);
    expect(await db.store.messages.count(inst.id)).toBe(2);
  });

  it('fails a row whose instance is gone alone, and writes the others of its batch', async () => {
    const inst = await seedInstance(db.store);
    const gone = await seedInstance(db.store);
    await db.store.instances.delete(gone.id);
    const w = createSendWriter(db.store);
    const results = await Promise.allSettled([
      w.submit({ message: pending(inst.id, { body: 'one' }), version: null }),
      w.submit({ message: pending(gone.id), version: null }),
      w.submit({ message: pending(inst.id, { body: 'two' }), version: null }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const bodies = (await db.store.messages.list({ instance_id: inst.id, limit: 10 })).items.map(
      (m) => m.body,
    );
    expect(bodies.sort()).toEqual(['one', 'two']);
  });

  /** Two sends with one Idempotency-Key that share a batch (held behind a third send's insert). */
  async function sameKeyInOneBatch(company: string, bodies: [string, string]) {
    const gate = holdNextPendingInsert();
    holds.gate = gate;
    const headers = await createCompany(t, company);
    const inst = await createConnectedInstance(t, headers, company);
    const send = (text: string, extra: Record<string, string> = {}) =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/instances/${inst.id}/messages`,
        headers: { ...headers, ...extra },
        payload: { to: '+4915123456789', text },
      });
    const writer = t.gw.messaging.pending;
    // The gateway's writer is shared by the file: its stats count from here, as a new gateway's would.
    Object.assign(writer.stats, { flushes: 0, items: 0, largest: 0, flushMs: 0 });
    const blocker = send('blocker');
    await gate.held;
    const keyed = bodies.map((b) => send(b, { 'idempotency-key': 'order-7' }));
    await eventually(async () => (writer.waiting === 2 ? true : null));
    gate.release();
    const [first, second] = await Promise.all(keyed);
    expect((await blocker).statusCode).toBe(201);
    expect(writer.stats.largest).toBe(2);
    return { inst, first, second };
  }

  it('sends once for concurrent requests with the same key in one batch: one is stored, the other replays', async () => {
    const { inst, first, second } = await sameKeyInOneBatch('sw-same', ['same', 'same']);
    const byStatus = [first, second].sort((x, y) => x.statusCode - y.statusCode);
    expect(byStatus.map((r) => r.statusCode)).toEqual([200, 201]);
    expect(byStatus[0].json().replayed).toBe(true);
    expect(byStatus[0].json().message.id).toBe(byStatus[1].json().message.id);
    // The blocker and one keyed send: nothing stored (or sent) twice.
    expect(await t.gw.store.messages.count(inst.id)).toBe(2);
  });

  it('refuses the second of two concurrent requests with the same key and different bodies (409)', async () => {
    const { inst, first, second } = await sameKeyInOneBatch('sw-differ', ['one body', 'another body']);
    const byStatus = [first, second].sort((x, y) => x.statusCode - y.statusCode);
    expect(byStatus.map((r) => r.statusCode)).toEqual([201, 409]);
    expect(byStatus[1].json().error.code).toBe('SB_ERR_IDEMPOTENCY_CONFLICT');
    expect(await t.gw.store.messages.count(inst.id)).toBe(2);
  });
});
