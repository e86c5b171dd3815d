// Sink tests: a dispatcher whose guard sees every broker host resolve to loopback (to prove a dial is refused), the
// gateway settings they run with, and the sink API calls they share.
import { expect } from 'vitest';
import { createSinkDispatcher, type SinkDispatcher } from '../../src/delivery/sinks/dispatcher.js';
import type { TestGateway } from './gateway.js';

/**
 * A sink dispatcher that refuses private addresses and resolves every host name to 127.0.0.1 through an injected
 * resolver (no DNS query), so any dial is refused before connecting. Each host it is asked about is pushed on `seen`.
 */
export function loopbackResolvingDispatcher(seen: string[]): SinkDispatcher {
  return createSinkDispatcher({
    guard: {
      allowPrivate: false,
      resolve: async (host) => {
        seen.push(host);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    },
    timeoutMs: 1000,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
}

/** What a sink test gateway runs with: debug logs kept, private brokers allowed, a fast retry schedule. */
export function sinkGatewayEnv(retrySchedule: string, timeoutMs: number): Record<string, string> {
  return {
    LOG_LEVEL: 'debug',
    OUTBOUND_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: retrySchedule,
    WEBHOOK_WORKER_INTERVAL_MS: '50',
    WEBHOOK_TIMEOUT_MS: String(timeoutMs),
  };
}

/** Creates a sink through the API as the company of `headers`; the 201 body (the sink view and its secret, once). */
export async function postSink<S>(
  t: TestGateway,
  headers: Record<string, string>,
  body: Record<string, unknown>,
): Promise<{ sink: S & { id: string }; secret: string }> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/sinks', headers, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** One row of a sink's delivery log as the API shows it. */
export interface SinkDelivery {
  id: number;
  status: string;
  event_id: number;
  attempts: number;
  last_error: string | null;
  response_excerpt: string | null;
}

/** A sink's delivery log (up to 200 rows, optionally of one status) through the API. */
export async function sinkDeliveries(
  t: TestGateway,
  headers: Record<string, string>,
  id: string,
  status?: string,
): Promise<SinkDelivery[]> {
  const res = await t.app.inject({
    method: 'GET',
    url: `/api/v1/sinks/${id}/deliveries?limit=200${status ? `&status=${status}` : ''}`,
    headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().deliveries;
}
