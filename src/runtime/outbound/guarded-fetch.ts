// The one outbound fetch for user-given URLs: address check at connect time, re-checked redirects, size and time limits.
//
// Built on node:http/https with a custom `lookup` because that is the only place where the address checked is the
// address connected to (global fetch/undici would need the undici package for a custom connector, and
// request-filtering-agent is not installed here). The address policy itself is in address-policy.ts.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { urlToHttpOptions } from 'node:url';
import { SbError } from '../../domain/errors.js';
import type { OutboundFetch, OutboundRequest, OutboundResponse } from '../../ports/outbound.js';
import { blockedReason } from './address-policy.js';

/** Resolves a host name to all its addresses (injectable: tests never ask a real DNS server for outside names). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
  );

export interface GuardedFetchOptions {
  /** The operator's opt-out (OUTBOUND_ALLOW_PRIVATE / WEBHOOK_ALLOW_PRIVATE): every address is allowed. */
  allowPrivate: boolean;
  /** Default time limit of one exchange in ms (default 15 s). */
  timeoutMs?: number;
  /** Default redirects followed by GET requests (default 3). */
  maxRedirects?: number;
  /** Default response size limit in bytes (default 16 MiB). */
  maxBytes?: number;
  /** Host name resolver (default: the system resolver). */
  resolve?: Resolver;
  /** Why an address is refused, or null to allow it (default: the IANA policy in address-policy.ts). */
  blocked?: (address: string) => string | null;
  /**
   * Keeps connections open between requests (per host and port, this fetch's own pool; idle ones close after
   * `idleMs`, default 4 s). The address is checked when a connection is made, so a reused connection is one whose
   * address was checked; a request on a reused connection the server had already closed is sent once more on a new
   * one. Default off: every request opens its own connection.
   */
  keepAlive?: boolean | { idleMs?: number };
}

/** A guarded fetch that may hold idle connections: `close()` ends the idle ones (a no-op without keep-alive). */
export type GuardedFetch = OutboundFetch & { close(): void };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** The coded error for a refused address; the message is generic (it never names what a host resolved to). */
export const urlBlocked = (reason: string): SbError =>
  new SbError(
    'SB_ERR_URL_BLOCKED',
    'the URL points at an address Switchboard does not contact (loopback, private, link-local, metadata or reserved)',
    { details: { reason } },
  );

const fetchFailed = (reason: string, details: Record<string, unknown> = {}): SbError =>
  new SbError('SB_ERR_FETCH_FAILED', `the URL could not be fetched: ${reason}`, {
    details: { reason, ...details },
  });

/** A request on a reused keep-alive connection that failed before any answer (the server had closed it). */
class StaleConnection extends Error {}

/** Marks an error raised by our own lookup so the request error handler can tell it from network errors. */
class RefusedAddress extends Error {
  constructor(readonly reason: string) {
    super('refused address');
  }
}

/** A generic reason for a network failure: never the remote's words, never an internal address. */
function failureReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNREFUSED':
      return 'the connection was refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the connection was reset';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return /TLS|SSL|CERT/i.test(String(err.code ?? '')) ? 'the TLS handshake failed' : 'the request failed';
  }
}

/** A `net` lookup that checks every address a host resolves to, so the address checked is the one connected to. */
export function guardedLookup(
  resolve: Resolver,
  blocked: ((address: string) => string | null) | null,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addrs) => {
        const family = typeof options === 'object' ? options.family : undefined;
        const usable = addrs.filter((a) => !family || family === 0 || a.family === family);
        if (!usable.length) {
          callback(Object.assign(new Error('no address'), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        for (const a of blocked ? addrs : []) {
          const why = blocked?.(a.address);
          if (why) {
            callback(new RefusedAddress(why) as NodeJS.ErrnoException, '', 0);
            return;
          }
        }
        if (typeof options === 'object' && options.all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
        } else callback(null, usable[0].address, usable[0].family);
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 0),
    );
  };
}

/** Creates the guarded fetch (one per gateway; tests inject `resolve` and `blocked`). */
export function createGuardedFetch(o: GuardedFetchOptions): GuardedFetch {
  const resolve = o.resolve ?? systemResolver;
  const blocked = o.allowPrivate ? null : (o.blocked ?? blockedReason);
  const lookup = guardedLookup(resolve, blocked);
  // This fetch's own pools: every connection in them was made through `lookup` under this fetch's policy.
  const idleMs = typeof o.keepAlive === 'object' ? (o.keepAlive.idleMs ?? 4_000) : 4_000;
  const agents = o.keepAlive
    ? {
        http: new http.Agent({ keepAlive: true, timeout: idleMs, scheduling: 'lifo' }),
        https: new https.Agent({ keepAlive: true, timeout: idleMs, scheduling: 'lifo' }),
      }
    : null;

  /**
   * URLs this fetch has parsed and let through, with their request options (a webhook worker posts to the same few
   * URLs over and over). Only URLs that passed are kept; the policy is this fetch's own, so the answer cannot change.
   * The address a name resolves to is still checked at every connect, by `lookup`.
   */
  const parsed = new Map<string, { url: URL; target: http.RequestOptions }>();
  const MAX_PARSED = 1_000;
  const target = (url: URL): http.RequestOptions => {
    const hit = parsed.get(url.href);
    return hit && hit.url === url ? hit.target : urlToHttpOptions(url);
  };

  const parse = (raw: string): URL => {
    const hit = parsed.get(raw);
    if (hit) return hit.url;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new SbError('SB_ERR_VALIDATION', 'url: not a valid URL', {
        details: [{ path: 'url', message: 'not a valid URL' }],
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw urlBlocked('only http and https');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const why = blocked && isIP(host) ? blocked(host) : null;
    if (why) throw urlBlocked(why);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(raw, { url, target: urlToHttpOptions(url) });
    return url;
  };

  /** One hop: no redirect handling. `fresh`: on a new connection even with keep-alive. */
  const hop = (
    url: URL,
    init: OutboundRequest,
    sent: Record<string, string>,
    deadline: number,
    fresh = false,
  ): Promise<OutboundResponse> =>
    new Promise((done, fail) => {
      const maxBytes = init.maxBytes ?? o.maxBytes ?? 16 * 1024 * 1024;
      const payload =
        init.body === undefined
          ? undefined
          : typeof init.body === 'string'
            ? Buffer.from(init.body)
            : init.body;
      const headers = payload ? { ...sent, 'content-length': String(payload.length) } : sent;
      const tls = url.protocol === 'https:';
      const mod = tls ? https : http;
      let settled = false;
      let answered = false;
      /** `keep`: the response was read to its end, so a keep-alive connection goes back to its pool. */
      const finish = (err: Error | null, res?: OutboundResponse, keep = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!keep || !agents || fresh) req.destroy();
        if (err) fail(err);
        else done(res!);
      };
      const req = mod.request(
        {
          ...target(url),
          method: init.method ?? 'GET',
          headers,
          lookup,
          agent: agents && !fresh ? (tls ? agents.https : agents.http) : false,
        },
        (res) => {
          answered = true;
          const out: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          }
          const truncate = init.onOverflow === 'truncate';
          const tooLarge = () =>
            new SbError('SB_ERR_PAYLOAD_TOO_LARGE', `the file at the URL is larger than ${maxBytes} bytes`, {
              details: { max_bytes: maxBytes },
            });
          if (!truncate && Number(out['content-length'] ?? 0) > maxBytes) return finish(tooLarge());
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size + c.length > maxBytes) {
              if (!truncate) return finish(tooLarge());
              chunks.push(c.subarray(0, Math.max(0, maxBytes - size)));
              size = maxBytes;
              return finish(null, {
                status: res.statusCode ?? 0,
                headers: out,
                body: Buffer.concat(chunks),
                url: url.href,
              });
            }
            chunks.push(c);
            size += c.length;
          });
          res.on('end', () =>
            finish(
              null,
              { status: res.statusCode ?? 0, headers: out, body: Buffer.concat(chunks), url: url.href },
              true,
            ),
          );
          res.on('error', () => finish(fetchFailed('the connection was reset')));
        },
      );
      const timer = setTimeout(() => finish(fetchFailed('timed out')), Math.max(0, deadline - Date.now()));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof RefusedAddress) finish(urlBlocked(err.reason));
        else if (req.reusedSocket && !answered && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          finish(new StaleConnection());
        } else finish(fetchFailed(failureReason(err)));
      });
      req.end(payload);
    });

  const request = async (raw: string, init: OutboundRequest = {}): Promise<OutboundResponse> => {
    const deadline = Date.now() + (init.timeoutMs ?? o.timeoutMs ?? 15_000);
    const method = init.method ?? 'GET';
    const maxRedirects = method === 'GET' ? (init.maxRedirects ?? o.maxRedirects ?? 3) : 0;
    let url = parse(raw);
    // Never changed in place: a redirect to another origin gets a filtered copy.
    let headers = init.headers ?? {};
    for (let hops = 0; ; hops++) {
      const sent = headers;
      const res = await hop(url, init, sent, deadline).catch((err) => {
        // Sent once more on a new connection (a reused one is never the last try).
        if (err instanceof StaleConnection) return hop(url, init, sent, deadline, true);
        throw err;
      });
      const location = res.headers.location;
      if (!REDIRECTS.has(res.status) || !location || maxRedirects === 0) return res;
      if (hops >= maxRedirects) throw fetchFailed('too many redirects', { max_redirects: maxRedirects });
      let next: URL;
      try {
        next = parse(new URL(location, url).href);
      } catch (err) {
        if (err instanceof SbError && err.code === 'SB_ERR_URL_BLOCKED') throw err;
        throw fetchFailed('a redirect pointed at an invalid URL');
      }
      if (next.origin !== url.origin) {
        // Credentials meant for one host never travel to another.
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => !/^(authorization|cookie|x-api-key)$/i.test(k)),
        );
      }
      url = next;
    }
  };

  return {
    request,
    close() {
      // Idle connections only: a request still running keeps its connection (which closes when idle, unref'd).
      for (const agent of agents ? [agents.http, agents.https] : []) {
        for (const list of Object.values(agent.freeSockets))
          for (const socket of list ?? []) socket.destroy();
      }
    },
    async download(raw, opts) {
      const res = await request(raw, { maxBytes: opts.maxBytes, timeoutMs: opts.timeoutMs });
      if (res.status < 200 || res.status >= 300) {
        throw fetchFailed(`the URL answered HTTP ${res.status}`, { status: res.status });
      }
      return res.body;
    },
    async check(raw) {
      // A copy: the parsed URL is kept for this fetch's own requests and must not be changed by a caller.
      const url = new URL(parse(raw).href);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      if (!blocked || isIP(host)) return url;
      let addrs: LookupAddress[];
      try {
        addrs = await resolve(host);
      } catch {
        throw fetchFailed('the host name does not resolve');
      }
      if (!addrs.length) throw fetchFailed('the host name does not resolve');
      for (const a of addrs) {
        const why = blocked(a.address);
        if (why) throw urlBlocked(why);
      }
      return url;
    },
  };
}
