// SQL for WhatsApp identities (LID ↔ phone JID) and the merge of a LID's chat, messages and contact into the phone.
import type { IdentityPair, IdentityStore, LinkResult } from '../ports/identities.js';
import type { SqlRunner } from './sql.js';

/** What the identity store needs of the gateway's store: raw SQL, the schema and transactions. */
export interface IdentityDb {
  qschema: string;
  sql: SqlRunner;
  tx<T>(fn: (tx: { sql: SqlRunner }) => Promise<T>): Promise<T>;
}

const count = async (sql: SqlRunner, text: string, params: unknown[]): Promise<number> =>
  Number((await sql.query<{ n: number | string }>(text, params))[0]?.n ?? 0);

/** LID ↔ phone pairs in `whatsapp_identities`; a new pair merges the LID's rows into the phone JID in one transaction. */
export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: IdentityDb) {}

  async link(instanceId: string, { lid, pn }: IdentityPair): Promise<LinkResult> {
    const s = this.db.qschema;
    const none = { messages: 0, chats: 0, contacts: 0 };
    const known = await this.db.sql.query(
      `SELECT 1 FROM ${s}.whatsapp_identities WHERE instance_id = $1 AND lid = $2 AND pn = $3`,
      [instanceId, lid, pn],
    );
    if (known.length) return { changed: false, merged: none };
    return this.db.tx(async ({ sql }) => {
      // A LID or a phone that was paired differently before: the newest pairing wins.
      await sql.query(
        `DELETE FROM ${s}.whatsapp_identities WHERE instance_id = $1 AND (lid = $2 OR pn = $3)`,
        [instanceId, lid, pn],
      );
      await sql.query(`INSERT INTO ${s}.whatsapp_identities (instance_id, lid, pn) VALUES ($1, $2, $3)`, [
        instanceId,
        lid,
        pn,
      ]);
      const args = [instanceId, lid, pn];
      let messages = 0;
      for (const col of ['chat_id', 'from_id', 'to_id']) {
        messages += await count(
          sql,
          `WITH u AS (UPDATE ${s}.messages SET ${col} = $3 WHERE instance_id = $1 AND ${col} = $2 RETURNING 1)
           SELECT count(*)::int AS n FROM u`,
          args,
        );
      }
      await sql.query(
        `INSERT INTO ${s}.chats (instance_id, chat_id, name, is_group, last_message_at, last_message_preview, unread_count)
         SELECT instance_id, $3, name, is_group, last_message_at, last_message_preview, unread_count
           FROM ${s}.chats WHERE instance_id = $1 AND chat_id = $2
         ON CONFLICT (instance_id, chat_id) DO UPDATE SET
           name = COALESCE(${s}.chats.name, EXCLUDED.name),
           last_message_at = GREATEST(${s}.chats.last_message_at, EXCLUDED.last_message_at),
           last_message_preview = CASE WHEN ${s}.chats.last_message_at IS NULL
             OR EXCLUDED.last_message_at > ${s}.chats.last_message_at
             THEN EXCLUDED.last_message_preview ELSE ${s}.chats.last_message_preview END,
           unread_count = ${s}.chats.unread_count + EXCLUDED.unread_count`,
        args,
      );
      const chats = await count(
        sql,
        `WITH d AS (DELETE FROM ${s}.chats WHERE instance_id = $1 AND chat_id = $2 RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [instanceId, lid],
      );
      const phone = `+${pn.split('@')[0]}`;
      await sql.query(
        `INSERT INTO ${s}.contacts (instance_id, contact_id, name, phone)
         SELECT instance_id, $3, name, $4 FROM ${s}.contacts WHERE instance_id = $1 AND contact_id = $2
         ON CONFLICT (instance_id, contact_id) DO UPDATE SET
           name = COALESCE(${s}.contacts.name, EXCLUDED.name), phone = EXCLUDED.phone, updated_at = now()`,
        [...args, phone],
      );
      const contacts = await count(
        sql,
        `WITH d AS (DELETE FROM ${s}.contacts WHERE instance_id = $1 AND contact_id = $2 RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [instanceId, lid],
      );
      return { changed: true, merged: { messages, chats, contacts } };
    });
  }

  async pnForLid(instanceId: string, lid: string): Promise<string | null> {
    const rows = await this.db.sql.query<{ pn: string }>(
      `SELECT pn FROM ${this.db.qschema}.whatsapp_identities WHERE instance_id = $1 AND lid = $2`,
      [instanceId, lid],
    );
    return rows[0]?.pn ?? null;
  }

  async lidForPn(instanceId: string, pn: string): Promise<string | null> {
    const rows = await this.db.sql.query<{ lid: string }>(
      `SELECT lid FROM ${this.db.qschema}.whatsapp_identities WHERE instance_id = $1 AND pn = $2`,
      [instanceId, pn],
    );
    return rows[0]?.lid ?? null;
  }
}
