// SQL for webhook, agent and sink endpoints and their delivery outbox (works on the pool or inside a transaction).

import { SINK_KINDS } from '../domain/endpoint-kinds.js';
import { isUuid } from '../domain/ids.js';
import type {
  AttemptRecord,
  ClaimCaps,
  ClaimedDelivery,
  Delivery,
  DeliveryRepo,
  DeliveryStatus,
  EndpointKind,
  EndpointPatch,
  NewEndpoint,
  WebhookEndpoint,
} from '../ports/deliveries.js';
import { DELIVERY_COLS, ENDPOINT_COLS, ENDPOINT_COLS_W, toDelivery, toEndpoint } from './deliveries-rows.js';
import { iso } from './rows.js';
import type { SqlRunner } from './sql.js';

/** Endpoint and delivery queries bound to one connection or transaction. */
export class SqlDeliveryRepo implements DeliveryRepo {
  constructor(
    private readonly sql: SqlRunner,
    private readonly s: string,
  ) {}

  async getEndpoint(id: string): Promise<WebhookEndpoint | null> {
    if (!isUuid(id)) return null;
    const rows = await this.sql.query(
      `SELECT ${ENDPOINT_COLS} FROM ${this.s}.webhook_endpoints WHERE id = $1`,
      [id],
    );
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async instanceEndpoint(instanceId: string, kind: EndpointKind): Promise<WebhookEndpoint | null> {
    const rows = await this.sql.query(
      `SELECT ${ENDPOINT_COLS} FROM ${this.s}.webhook_endpoints WHERE instance_id = $1 AND kind = $2`,
      [instanceId, kind],
    );
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  /**
   * Endpoints of an instance, or the company-wide endpoints of a company (instance_id null), of the given kinds
   * (default: webhook and agent endpoints; sinks are listed by their own API).
   */
  async listEndpoints(
    f: { instance_id: string } | { company_id: string },
    kinds: readonly EndpointKind[] = ['webhook', 'agent'],
  ): Promise<WebhookEndpoint[]> {
    const rows =
      'instance_id' in f
        ? await this.sql.query(
            `SELECT ${ENDPOINT_COLS} FROM ${this.s}.webhook_endpoints WHERE instance_id = $1 AND kind = ANY($2::text[])
             ORDER BY created_at`,
            [f.instance_id, kinds],
          )
        : await this.sql.query(
            `SELECT ${ENDPOINT_COLS} FROM ${this.s}.webhook_endpoints WHERE company_id = $1 AND instance_id IS NULL
               AND kind = ANY($2::text[])
             ORDER BY created_at`,
            [f.company_id, kinds],
          );
    return rows.map((r) => toEndpoint(r));
  }

  /** Every endpoint of the given kinds in a company (company-wide and per instance), oldest first. */
  async listCompanyEndpoints(companyId: string, kinds: readonly EndpointKind[]): Promise<WebhookEndpoint[]> {
    const rows = await this.sql.query(
      `SELECT ${ENDPOINT_COLS} FROM ${this.s}.webhook_endpoints WHERE company_id = $1 AND kind = ANY($2::text[])
       ORDER BY created_at, id`,
      [companyId, kinds],
    );
    return rows.map((r) => toEndpoint(r));
  }

  async insertEndpoint(e: NewEndpoint): Promise<WebhookEndpoint> {
    const rows = await this.sql.query(
      `INSERT INTO ${this.s}.webhook_endpoints (company_id, instance_id, kind, url, events, inbound_only,
         include_groups, enabled, secret, options, credentials)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${ENDPOINT_COLS}`,
      [
        e.company_id,
        e.instance_id,
        e.kind,
        e.url,
        e.events,
        e.inbound_only ?? false,
        e.include_groups ?? true,
        e.enabled,
        e.secret,
        JSON.stringify(e.options ?? {}),
        e.credentials ?? null,
      ],
    );
    return toEndpoint(rows[0]);
  }

  async updateEndpoint(id: string, patch: EndpointPatch): Promise<WebhookEndpoint | null> {
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      params.push(k === 'options' ? JSON.stringify(v) : v);
      sets.push(`${k} = $${params.length}`);
    }
    sets.push('updated_at = now()');
    const rows = await this.sql.query(
      `UPDATE ${this.s}.webhook_endpoints SET ${sets.join(', ')} WHERE id = $1 RETURNING ${ENDPOINT_COLS}`,
      params,
    );
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  async deleteEndpoint(id: string): Promise<boolean> {
    const rows = await this.sql.query(`DELETE FROM ${this.s}.webhook_endpoints WHERE id = $1 RETURNING id`, [
      id,
    ]);
    return rows.length > 0;
  }

  /**
   * See the port. The candidates are the heads of the chats (an earlier pending delivery holds a chat's later ones
   * back), found per enabled endpoint with free slots by walking webhook_deliveries_chat_idx chat by chat (one probe
   * per chat, however many deliveries wait in it) from the endpoint's cursor (`caps.after`) to the end and then from
   * the start up to the cursor, stopping as soon as the endpoint's free slots are filled: a claim reads the chats it
   * takes plus the ones it skips (in flight or waiting for a retry), not every waiting chat. Plus the due deliveries
   * without a chat (webhook_deliveries_chatless_idx, read only as far as the endpoint's free slots).
   */
  async claim(
    now: Date,
    leaseUntil: Date,
    limit: number,
    caps: ClaimCaps = { perEndpoint: limit },
  ): Promise<ClaimedDelivery[]> {
    const s = this.s;
    const busy = [...(caps.busy ?? new Map<string, number>())].filter(([, n]) => n > 0);
    const after = [...(caps.after ?? new Map<string, string>())];
    /** The due chat heads of endpoint f whose chat key is above `lower` (if given) and at most `upper` (if given). */
    const heads = (lower: string, upper: string) => {
      const chats = (
        from: string,
      ) => `SELECT d.id, d.chat_key, d.next_attempt_at FROM ${s}.webhook_deliveries d
         WHERE d.endpoint_id = f.id AND d.status = 'pending' AND ${from} AND ${upper}
         ORDER BY d.chat_key, d.id LIMIT 1`;
      return `(WITH RECURSIVE heads AS (
           (${chats(lower)})
           UNION ALL
           SELECT n.id, n.chat_key, n.next_attempt_at FROM heads h
           CROSS JOIN LATERAL (${chats('d.chat_key > h.chat_key')}) n)
         SELECT id, next_attempt_at FROM heads WHERE next_attempt_at <= $1 LIMIT f.slots)`;
    };
    const rows = await this.sql.query(
      `WITH busy AS (SELECT * FROM unnest($4::uuid[], $5::int[]) AS b(endpoint_id, n)),
       cursors AS (SELECT * FROM unnest($8::uuid[], $9::text[]) AS a(endpoint_id, chat_key)),
       free AS (
         SELECT w.id, LEAST(CASE WHEN w.kind = ANY($10::text[]) THEN $7::int ELSE $6::int END
             - COALESCE(b.n, 0), $3::int) AS slots, COALESCE(a.chat_key, '') AS after
         FROM ${s}.webhook_endpoints w LEFT JOIN busy b ON b.endpoint_id = w.id
         LEFT JOIN cursors a ON a.endpoint_id = w.id
         WHERE w.enabled),
       cand AS (
         SELECT c.id, c.next_attempt_at, f.slots,
           row_number() OVER (PARTITION BY f.id ORDER BY c.next_attempt_at, c.id) AS slot
         FROM free f CROSS JOIN LATERAL (
           (SELECT * FROM (${heads('d.chat_key > f.after', 'true')}
             UNION ALL ${heads('d.chat_key IS NOT NULL', 'd.chat_key <= f.after')}) h LIMIT f.slots)
           UNION ALL
           (SELECT d.id, d.next_attempt_at FROM ${s}.webhook_deliveries d
            WHERE d.endpoint_id = f.id AND d.status = 'pending' AND d.chat_key IS NULL AND d.next_attempt_at <= $1
            ORDER BY d.next_attempt_at, d.id LIMIT f.slots)) c
         WHERE f.slots > 0),
       due AS (
         SELECT l.id FROM (SELECT c.id FROM cand c WHERE c.slot <= c.slots ORDER BY c.next_attempt_at, c.id) c
         CROSS JOIN LATERAL (SELECT d.id FROM ${s}.webhook_deliveries d
           WHERE d.id = c.id AND d.status = 'pending' AND d.next_attempt_at <= $1
           FOR UPDATE SKIP LOCKED) l
         LIMIT $3),
       claimed AS (UPDATE ${s}.webhook_deliveries d
         SET attempts = d.attempts + 1, next_attempt_at = $2, last_attempt_at = $1
         FROM due WHERE d.id = due.id RETURNING d.*)
       SELECT ${DELIVERY_COLS}, ${ENDPOINT_COLS_W},
         e.type AS e_type, e.data AS e_data, e.created_at AS e_created_at
       FROM (SELECT c.*, row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.id) = 1 AS first
             FROM claimed c) d
       LEFT JOIN ${s}.webhook_endpoints w ON w.id = d.endpoint_id AND d.first
       LEFT JOIN ${s}.events e ON e.id = d.event_id
       ORDER BY d.id`,
      [
        now.toISOString(),
        leaseUntil.toISOString(),
        limit,
        busy.map(([id]) => id),
        busy.map(([, n]) => n),
        caps.perEndpoint,
        caps.perSink ?? caps.perEndpoint,
        after.map(([id]) => id),
        after.map(([, key]) => key),
        SINK_KINDS,
      ],
    );
    // The endpoint's columns come on the first row of each endpoint only (the driver parses them once per claim,
    // not once per delivery); its later rows share that record.
    const endpoints = new Map<string, WebhookEndpoint>();
    return rows.map((r) => {
      const delivery = toDelivery(r);
      let endpoint = endpoints.get(delivery.endpoint_id);
      if (!endpoint) {
        endpoint = toEndpoint(r, 'w_');
        endpoints.set(delivery.endpoint_id, endpoint);
      }
      return {
        delivery,
        endpoint,
        event: {
          id: delivery.event_id,
          type: r.e_type ?? 'unknown',
          instance_id: delivery.instance_id,
          company_id: delivery.company_id,
          created_at: iso(r.e_created_at) ?? delivery.created_at,
          data: r.e_data ?? {},
        },
      };
    });
  }

  /** See the port: un-claims deliveries still under this lease (the claim set last_attempt_at to its time). */
  async release(ids: readonly number[], leaseUntil: Date): Promise<number> {
    if (!ids.length) return 0;
    const rows = await this.sql.query(
      `UPDATE ${this.s}.webhook_deliveries SET attempts = attempts - 1,
         next_attempt_at = COALESCE(last_attempt_at, next_attempt_at)
       WHERE id = ANY($1::bigint[]) AND status = 'pending' AND next_attempt_at = $2 RETURNING id`,
      [ids, leaseUntil.toISOString()],
    );
    return rows.length;
  }

  /** Records the outcome of an attempt. Only a still-pending delivery is changed (replays are not clobbered). */
  async record(id: number, r: AttemptRecord): Promise<void> {
    await this.sql.query(
      `UPDATE ${this.s}.webhook_deliveries SET status = $2, next_attempt_at = COALESCE($3, next_attempt_at),
         last_status_code = $4, last_error = $5, response_excerpt = $6,
         delivered_at = CASE WHEN $2 = 'delivered' THEN $7::timestamptz ELSE delivered_at END
       WHERE id = $1 AND status = 'pending'`,
      [
        id,
        r.status,
        r.next_attempt_at?.toISOString() ?? null,
        r.code,
        r.error,
        r.excerpt,
        r.at.toISOString(),
      ],
    );
  }

  /** Marks deliveries delivered (still-pending ones only) and clears their endpoints' failure state, in one statement. */
  async recordDelivered(
    items: ReadonlyArray<{ id: number; code: number | null; excerpt: string | null }>,
    at: Date,
  ): Promise<void> {
    const s = this.s;
    await this.sql.query(
      `WITH done AS (UPDATE ${s}.webhook_deliveries d SET status = 'delivered', delivered_at = $4,
           last_status_code = u.code, last_error = NULL, response_excerpt = u.excerpt
         FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(id, code, excerpt)
         WHERE d.id = u.id AND d.status = 'pending'
         RETURNING d.endpoint_id)
       UPDATE ${s}.webhook_endpoints SET failing_since = NULL
       WHERE id IN (SELECT endpoint_id FROM done) AND failing_since IS NOT NULL`,
      [items.map((i) => i.id), items.map((i) => i.code), items.map((i) => i.excerpt), at.toISOString()],
    );
  }

  /** Marks an endpoint failing since `at` (kept if already failing); returns since when it has been failing. */
  async noteFailure(endpointId: string, at: Date): Promise<Date> {
    const rows = await this.sql.query(
      `UPDATE ${this.s}.webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1
       RETURNING failing_since`,
      [endpointId, at.toISOString()],
    );
    return rows[0] ? new Date(iso(rows[0].failing_since)!) : at;
  }

  /** Disables an endpoint; true when it was enabled (so the caller emits the event once). */
  async disable(endpointId: string, reason: string): Promise<boolean> {
    const rows = await this.sql.query(
      `UPDATE ${this.s}.webhook_endpoints SET enabled = false, disabled_reason = $2, updated_at = now()
       WHERE id = $1 AND enabled RETURNING id`,
      [endpointId, reason],
    );
    return rows.length > 0;
  }

  async listDeliveries(f: {
    endpoint_id: string;
    status?: DeliveryStatus;
    limit: number;
    before?: number;
  }): Promise<{ items: Delivery[]; next_cursor: string | null }> {
    const params: unknown[] = [f.endpoint_id];
    const where = ['d.endpoint_id = $1'];
    if (f.status) {
      params.push(f.status);
      where.push(`d.status = $${params.length}`);
    }
    if (f.before !== undefined) {
      params.push(f.before);
      where.push(`d.id < $${params.length}`);
    }
    params.push(f.limit + 1);
    const rows = await this.sql.query(
      `SELECT ${DELIVERY_COLS}, e.type AS event_type FROM ${this.s}.webhook_deliveries d
       LEFT JOIN ${this.s}.events e ON e.id = d.event_id
       WHERE ${where.join(' AND ')} ORDER BY d.id DESC LIMIT $${params.length}`,
      params,
    );
    const items = rows.slice(0, f.limit).map(toDelivery);
    return {
      items,
      next_cursor: rows.length > f.limit && items.length ? String(items[items.length - 1].id) : null,
    };
  }

  /** Puts deliveries back to pending with a fresh schedule: one by id, or all failed ones created since a time. */
  async replay(
    endpointId: string,
    what: { id: number } | { since: Date; statuses: DeliveryStatus[] },
    now: Date,
  ): Promise<number> {
    const rows =
      'id' in what
        ? await this.sql.query(
            `UPDATE ${this.s}.webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3
             WHERE endpoint_id = $1 AND id = $2 RETURNING id`,
            [endpointId, what.id, now.toISOString()],
          )
        : await this.sql.query(
            `UPDATE ${this.s}.webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $4
             WHERE endpoint_id = $1 AND created_at >= $2 AND status = ANY($3::text[]) RETURNING id`,
            [endpointId, what.since.toISOString(), what.statuses, now.toISOString()],
          );
    return rows.length;
  }

  /** Pending deliveries in the whole outbox (for the outbox-depth gauge). */
  async depth(): Promise<number> {
    const rows = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${this.s}.webhook_deliveries WHERE status = 'pending'`,
    );
    return Number(rows[0].n);
  }
}
