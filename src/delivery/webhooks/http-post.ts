// One outbound POST for webhooks and the agent bridge, through the guarded fetch (no redirects followed).
import type { OutboundFetch } from '../../ports/outbound.js';
import { createGuardedFetch, type Resolver } from '../../runtime/outbound/guarded-fetch.js';

export interface PostResult {
  status: number;
  /** Lower-cased response headers. */
  headers: Record<string, string>;
  /** The first bytes of the response body (at most `maxBody`, default 2 KiB). */
  body: string;
}

export interface PostOptions {
  timeoutMs: number;
  allowPrivate: boolean;
  resolve?: Resolver;
  maxBody?: number;
  /** The gateway's guarded fetch; when absent one is built from `allowPrivate` and `resolve`. */
  outbound?: OutboundFetch;
}

/**
 * Sends a POST. Rejects with SB_ERR_URL_BLOCKED for refused addresses and SB_ERR_FETCH_FAILED for network errors and
 * timeouts; any HTTP status resolves.
 */
export type PostFn = (
  url: string,
  body: Buffer | string,
  headers: Record<string, string>,
  opts: PostOptions,
) => Promise<PostResult>;

/** The default PostFn; redirects are returned as-is (3xx), never followed: a webhook that moved must be updated. */
export const postRequest: PostFn = async (url, body, headers, opts) => {
  const outbound =
    opts.outbound ?? createGuardedFetch({ allowPrivate: opts.allowPrivate, resolve: opts.resolve });
  const res = await outbound.request(url, {
    method: 'POST',
    headers,
    body,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBody ?? 2048,
    onOverflow: 'truncate',
    maxRedirects: 0,
  });
  return { status: res.status, headers: res.headers, body: res.body.toString('utf8') };
};
