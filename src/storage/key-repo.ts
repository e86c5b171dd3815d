// The API keys repository: stored hashed, found by hash, revoked, stamped when used.
import type { ApiKeyRecord } from '../domain/model.js';
import type { KeyRepo } from '../ports/store.js';
import { iso, isoReq } from './rows.js';
import type { Sql } from './sql.js';

type Row = Record<string, any>;

export const toKey = (r: Row): ApiKeyRecord => ({
  id: r.id,
  kind: r.kind,
  prefix: r.prefix,
  hash: r.hash,
  company_id: r.company_id,
  instance_id: r.instance_id,
  scopes: r.scopes ?? [],
  instance_ids: r.instance_ids ?? null,
  label: r.label,
  created_at: isoReq(r.created_at),
  last_used_at: iso(r.last_used_at),
  revoked_at: iso(r.revoked_at),
});

/** The keys repository over one SQL connection (`s`: the quoted schema). */
export function createKeyRepo(sql: Sql, s: string): KeyRepo {
  const keys: KeyRepo = {
    async insert(k) {
      const rows = await sql.query(
        `INSERT INTO ${s}.api_keys (kind, prefix, hash, company_id, instance_id, scopes, label, instance_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[]) RETURNING id::text AS id, kind, prefix, hash, company_id,
           instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label, created_at, last_used_at, revoked_at`,
        [k.kind, k.prefix, k.hash, k.company_id, k.instance_id, k.scopes, k.label, k.instance_ids ?? null],
      );
      return toKey(rows[0]);
    },
    async findByHash(hash) {
      return (await keys.findManyByHash([hash]))[0] ?? null;
    },
    async findManyByHash(hashes) {
      if (!hashes.length) return [];
      const rows = await sql.query(
        `SELECT id::text AS id, kind, prefix, hash, company_id, instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label,
           created_at, last_used_at, revoked_at FROM ${s}.api_keys WHERE hash = ANY($1::text[]) AND revoked_at IS NULL`,
        [[...new Set(hashes)]],
      );
      const byHash = new Map(rows.map((r) => [r.hash as string, toKey(r)]));
      return hashes.map((h) => byHash.get(h) ?? null);
    },
    async list(f) {
      const params: unknown[] = [];
      const where = ['revoked_at IS NULL'];
      for (const [col, v] of Object.entries(f)) {
        if (v === undefined) continue;
        params.push(v);
        where.push(`${col === 'instance_id' ? 'instance_id::text' : col} = $${params.length}`);
      }
      const rows = await sql.query(
        `SELECT id::text AS id, kind, prefix, hash, company_id, instance_id::text AS instance_id, scopes, instance_ids::text[] AS instance_ids, label,
           created_at, last_used_at, revoked_at FROM ${s}.api_keys WHERE ${where.join(' AND ')} ORDER BY created_at`,
        params,
      );
      return rows.map(toKey);
    },
    async revoke(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return false;
      const rows = await sql.query(
        `UPDATE ${s}.api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id`,
        [id],
      );
      return rows.length > 0;
    },
    async revokeInstanceKeys(instanceId) {
      await sql.query(
        `UPDATE ${s}.api_keys SET revoked_at = now() WHERE instance_id = $1 AND kind = 'instance' AND revoked_at IS NULL`,
        [instanceId],
      );
    },
    async touchMany(ids) {
      if (!ids.length) return;
      await sql.query(
        `UPDATE ${s}.api_keys SET last_used_at = now()
         WHERE id = ANY($1::uuid[]) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 second')`,
        [[...new Set(ids)].sort()],
      );
    },
  };
  return keys;
}
