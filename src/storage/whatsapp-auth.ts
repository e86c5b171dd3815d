// SQL for WhatsApp auth state: creds in whatsapp_auth, Signal keys in whatsapp_keys, media refs in whatsapp_media.
import type { SqlRunner } from '../ports/store.js';
import type { WhatsAppAuthRepo } from '../ports/whatsapp-auth.js';

/** Every multi-row change is ONE statement (data-modifying CTEs), so it is atomic on the pool and inside a tx. */
export function createWhatsAppAuthRepo(sql: SqlRunner, qschema: string): WhatsAppAuthRepo {
  const auth = `${qschema}.whatsapp_auth`;
  const keys = `${qschema}.whatsapp_keys`;
  const media = `${qschema}.whatsapp_media`;
  return {
    async loadCreds(instanceId) {
      const rows = await sql.query<{ creds: string }>(`SELECT creds FROM ${auth} WHERE instance_id = $1`, [
        instanceId,
      ]);
      return rows[0]?.creds ?? null;
    },

    async saveCreds(instanceId, creds) {
      await sql.query(
        `INSERT INTO ${auth} (instance_id, creds, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (instance_id) DO UPDATE SET creds = EXCLUDED.creds, updated_at = now()`,
        [instanceId, creds],
      );
    },

    async getKeys(instanceId, type, ids) {
      if (ids.length === 0) return [];
      return sql.query<{ key_id: string; value: string }>(
        `SELECT key_id, value FROM ${keys} WHERE instance_id = $1 AND type = $2 AND key_id = ANY($3::text[])`,
        [instanceId, type, [...ids]],
      );
    },

    async setKeys(instanceId, writes) {
      const delType: string[] = [];
      const delId: string[] = [];
      const upType: string[] = [];
      const upId: string[] = [];
      const upValue: string[] = [];
      for (const w of writes) {
        if (w.value === null) {
          delType.push(w.type);
          delId.push(w.key_id);
        } else {
          upType.push(w.type);
          upId.push(w.key_id);
          upValue.push(w.value);
        }
      }
      if (delType.length === 0 && upType.length === 0) return;
      await sql.query(
        `WITH del AS (
           DELETE FROM ${keys} k USING unnest($2::text[], $3::text[]) AS d(t, i)
            WHERE k.instance_id = $1::uuid AND k.type = d.t AND k.key_id = d.i
         )
         INSERT INTO ${keys} (instance_id, type, key_id, value)
         SELECT $1::uuid, t, i, v FROM unnest($4::text[], $5::text[], $6::text[]) AS u(t, i, v)
         ON CONFLICT (instance_id, type, key_id) DO UPDATE SET value = EXCLUDED.value`,
        [instanceId, delType, delId, upType, upId, upValue],
      );
    },

    async clearKeys(instanceId, types) {
      if (types) {
        await sql.query(`DELETE FROM ${keys} WHERE instance_id = $1 AND type = ANY($2::text[])`, [
          instanceId,
          [...types],
        ]);
      } else {
        await sql.query(`DELETE FROM ${keys} WHERE instance_id = $1`, [instanceId]);
      }
    },

    async wipe(instanceId) {
      await sql.query(
        `WITH k AS (DELETE FROM ${keys} WHERE instance_id = $1::uuid)
         DELETE FROM ${auth} WHERE instance_id = $1::uuid`,
        [instanceId],
      );
    },

    async saveMediaRef(instanceId, messageId, raw) {
      await sql.query(
        `INSERT INTO ${media} (instance_id, message_id, raw) VALUES ($1, $2, $3)
         ON CONFLICT (instance_id, message_id) DO NOTHING`,
        [instanceId, messageId, raw],
      );
    },

    async loadMediaRef(instanceId, messageId) {
      const rows = await sql.query<{ raw: string }>(
        `SELECT raw FROM ${media} WHERE instance_id = $1 AND message_id = $2`,
        [instanceId, messageId],
      );
      return rows[0]?.raw ?? null;
    },

    async countKeys(instanceId) {
      const rows = await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${keys} WHERE instance_id = $1`,
        [instanceId],
      );
      return Number(rows[0]?.n ?? 0);
    },
  };
}
