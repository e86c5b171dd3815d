// One outbound POST with the SSRF guard at connect time, a hard timeout and no redirects (node:http/https).
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { guardedLookup, isBlockedAddress, type Resolver, SsrfBlockedError, systemResolver } from './ssrf.js';

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
}

/** Sends a POST. Rejects on network errors, timeouts and refused addresses; any HTTP status resolves. */
export type PostFn = (
  url: string,
  body: Buffer | string,
  headers: Record<string, string>,
  opts: PostOptions,
) => Promise<PostResult>;

/** The default PostFn; redirects are returned as-is (3xx), never followed. */
export const postRequest: PostFn = (url, body, headers, opts) =>
  new Promise<PostResult>((resolve, reject) => {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (!opts.allowPrivate && isIP(host) && isBlockedAddress(host)) {
      reject(new SsrfBlockedError(host, host));
      return;
    }
    const mod = u.protocol === 'https:' ? https : http;
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(payload.length) },
        lookup: guardedLookup(opts.allowPrivate, opts.resolve ?? systemResolver),
        signal: AbortSignal.timeout(opts.timeoutMs),
        agent: false,
      },
      (res) => {
        const max = opts.maxBody ?? 2048;
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: out,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        };
        res.on('data', (c: Buffer) => {
          if (size < max) chunks.push(c.subarray(0, max - size));
          size += c.length;
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
