// SQL behind the Prometheus gauges read at scrape time.
import type { MetricsQueries, SessionCount } from '../ports/metrics-queries.js';
import type { SqlRunner } from '../ports/store.js';

export function createMetricsQueries(sql: SqlRunner, qschema: string): MetricsQueries {
  return {
    async sessionCounts(): Promise<SessionCount[]> {
      const rows = await sql.query<SessionCount>(
        `SELECT provider, status, auth_status, count(*)::int AS n FROM ${qschema}.instances
          GROUP BY provider, status, auth_status`,
      );
      return rows.map((r) => ({
        provider: r.provider,
        status: r.status,
        auth_status: r.auth_status,
        n: Number(r.n),
      }));
    },
  };
}
