// Retention on both drivers with backdated rows: what is old goes in small batches, what is needed or locked stays.
import { beforeAll, expect, it } from 'vitest';
import { describeOnBackends, seedEndpoint, seedInstance } from '../../test/support/db.js';
import { commitWithEvents } from '../core/commit.js';
import { MemoryEventBus } from '../core/event-bus-memory.js';
import type { Message } from '../domain/model.js';
import { rawSql } from '../storage/sql-store.js';
import { RetentionJob, type RetentionSettings } from './retention-job.js';

const DAY = 86_400_000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const settings: RetentionSettings = {
  eventsMs: 30 * DAY,
  deliveredMs: 7 * DAY,
  deadMs: 30 * DAY,
  pendingAcksMs: DAY,
  mediaMs: 30 * DAY,
  intervalMs: 600_000,
  batch: 2,
};

describeOnBackends('retention', (db, kind) => {
  let inst = '';
  let s = '';
  const bus = new MemoryEventBus(() => {});
  const sql = (text: string, params: unknown[] = []) => rawSql(db.store).sql.query(text, params);
  const emit = (body: string) =>
    commitWithEvents(db.store, bus, (_tx, e) =>
      e({
        type: 'message',
        instance_id: inst,
        company_id: 'co',
        data: { message: { chat_id: body, body, is_from_me: false, is_group: false } as Message },
      }),
    );
  const backdate = (table: string, column: string, days: number, where: string, params: unknown[]) =>
    sql(`UPDATE ${s}.${table} SET ${column} = now() - interval '${days} days' WHERE ${where}`, params);
  const ids = async (table: string, col = 'id') =>
    (await sql(`SELECT ${col} AS v FROM ${s}.${table}`)).map((r) => String(r.v)).sort();

  beforeAll(async () => {
    s = rawSql(db.store).qschema;
    inst = (await seedInstance(db.store, { company_id: 'co' })).id;
  });

  it('deletes old events, deliveries, pending acks and media in batches, and keeps the rest', async () => {
    // Events: five old ones (more than two batches), one recent, one old that a dead delivery still needs.
    const old: number[] = [];
    for (let i = 0; i < 5; i++) old.push((await emit(`old-${i}`)).id);
    const recent = (await emit('recent')).id;
    for (const id of old) await backdate('events', 'created_at', 31, 'id = $1', [id]);

    const ep = await seedEndpoint(db.store, { company_id: 'co' });
    const needed = (await emit('needed-by-dead-letter')).id;
    const fresh = (await emit('fresh-delivery')).id;
    const more = [
      (await emit('delivered-old')).id,
      (await emit('dead-old')).id,
      (await emit('pending-old')).id,
    ];
    await backdate('events', 'created_at', 31, 'id = ANY($1::bigint[])', [[needed, ...more]]);
    const delivery = async (eventId: number) =>
      Number((await sql(`SELECT id FROM ${s}.webhook_deliveries WHERE event_id = $1`, [eventId]))[0].id);
    const [dNeeded, dFresh, dDelivered, dDead, dPending] = await Promise.all(
      [needed, fresh, ...more].map(delivery),
    );
    // Deliveries: delivered 8 days ago (goes), dead 10 days ago (stays: 30 d), dead 31 days ago (goes),
    // delivered just now (stays), pending and old (stays).
    await sql(
      `UPDATE ${s}.webhook_deliveries SET status = 'delivered', delivered_at = now() - interval '8 days'
       WHERE id = $1`,
      [dDelivered],
    );
    await sql(
      `UPDATE ${s}.webhook_deliveries SET status = 'failed', last_attempt_at = now() - interval '10 days'
       WHERE id = $1`,
      [dNeeded],
    );
    await sql(
      `UPDATE ${s}.webhook_deliveries SET status = 'failed', last_attempt_at = now() - interval '31 days'
       WHERE id = $1`,
      [dDead],
    );
    await sql(`UPDATE ${s}.webhook_deliveries SET status = 'delivered', delivered_at = now() WHERE id = $1`, [
      dFresh,
    ]);

    await db.store.messages.stashAck(inst, 'ack-old', 'read');
    await db.store.messages.stashAck(inst, 'ack-new', 'read');
    await backdate('pending_acks', 'created_at', 2, 'message_id = $1', ['ack-old']);
    for (const m of ['media-old', 'media-new']) {
      await sql(`INSERT INTO ${s}.whatsapp_media (instance_id, message_id, raw) VALUES ($1, $2, '{}')`, [
        inst,
        m,
      ]);
    }
    await backdate('whatsapp_media', 'created_at', 31, 'message_id = $1', ['media-old']);

    const job = new RetentionJob({ store: db.store, settings, logger: silent });
    const counts = await job.runOnce();
    // The dead delivery of 31 days goes first (deliveries before events), so its event goes in the same pass.
    expect(counts).toEqual({ events: 7, delivered: 1, dead: 1, pendingAcks: 1, media: 1 });
    expect(await ids('events')).toEqual([recent, needed, fresh, more[2]].map(String).sort());
    expect(await ids('webhook_deliveries')).toEqual([dNeeded, dFresh, dPending].map(String).sort());
    expect(await ids('pending_acks', 'message_id')).toEqual(['ack-new']);
    expect(await ids('whatsapp_media', 'message_id')).toEqual(['media-new']);
    // A second pass finds nothing more.
    expect(await job.runOnce()).toEqual({ events: 0, delivered: 0, dead: 0, pendingAcks: 0, media: 0 });
    await sql(`DELETE FROM ${s}.webhook_endpoints WHERE id = $1`, [ep.id]);
    await sql(`DELETE FROM ${s}.events`);
  });

  it('keeps everything of a kind whose retention is 0', async () => {
    const id = (await emit('forever')).id;
    await backdate('events', 'created_at', 3650, 'id = $1', [id]);
    const job = new RetentionJob({
      store: db.store,
      settings: { ...settings, eventsMs: 0 },
      logger: silent,
    });
    expect((await job.runOnce()).events).toBe(0);
    expect(await ids('events')).toContain(String(id));
    await sql(`DELETE FROM ${s}.events WHERE id = $1`, [id]);
  });

  // PGlite has one connection: a writer's open transaction would hold it, so locking is shown on PostgreSQL.
  if (kind === 'postgres')
    it('never waits for a row a writer holds: it skips it and deletes the others', async () => {
      const a = (await emit('locked-old')).id;
      const b = (await emit('free-old')).id;
      await backdate('events', 'created_at', 40, 'id = ANY($1::bigint[])', [[a, b]]);
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => {
        locked = r;
      });
      const writer = db.driver.transaction(async (tx) => {
        await tx.query(`SELECT id FROM ${s}.events WHERE id = $1 FOR UPDATE`, [a]);
        locked();
        await gate;
      });
      await isLocked;
      try {
        const counts = await new RetentionJob({ store: db.store, settings, logger: silent }).runOnce();
        expect(counts.events).toBe(1);
        const left = await ids('events');
        expect(left).toContain(String(a));
        expect(left).not.toContain(String(b));
      } finally {
        release();
        await writer;
      }
      // Once the writer is done, the next pass takes the row it held.
      expect((await new RetentionJob({ store: db.store, settings, logger: silent }).runOnce()).events).toBe(
        1,
      );
    });
});
