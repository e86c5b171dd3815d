// HTTP client of the dashboard: the signed-in credential, JSON calls and readable API errors.

import type {
  Chat as StoredChat,
  Instance as StoredInstance,
  Message as StoredMessage,
} from '../../src/domain/model.js';

/** What the browser remembers for this tab (sessionStorage): the bearer and how it was obtained. */
export interface Credential {
  token: string;
  /** 'key' for an admin/company/instance API key, 'user' for a login token. */
  via: 'key' | 'user';
  label: string;
}

const STORAGE_KEY = 'switchboard.credential';

/** The credential saved in this tab, if any. */
export function loadCredential(): Credential | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const c = JSON.parse(raw) as Credential;
    return typeof c.token === 'string' && c.token ? c : null;
  } catch {
    return null;
  }
}

export function saveCredential(c: Credential | null): void {
  if (c) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(c));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** An API failure with a message fit for people; `code` is the SB_ERR_* code when the server sent one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** True when the route does not exist on this gateway (a feature not installed). */
  get missingRoute(): boolean {
    return this.status === 404 && /^no route /.test(this.rawMessage);
  }

  rawMessage = '';
}

const FRIENDLY: Record<string, string> = {
  SB_ERR_UNAUTHORIZED: 'The key or login was not accepted. Check it and sign in again.',
  SB_ERR_FORBIDDEN: 'Your key is not allowed to do this.',
  SB_ERR_RATE_LIMITED: 'Too many requests. Wait a moment and try again.',
  SB_ERR_INTERNAL: 'The gateway had an internal error. Try again; if it persists, check the server logs.',
  SB_ERR_UNAVAILABLE: 'The gateway is not available right now. Try again shortly.',
};

function sentence(s: string): string {
  const t = s.trim();
  if (!t) return t;
  const up = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(up) ? up : `${up}.`;
}

/** Turns any response body into one readable sentence (never raw JSON). */
export function readableError(status: number, body: unknown): ApiError {
  let code: string | null = null;
  let message = '';
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    const e = b.error;
    if (e && typeof e === 'object') {
      const eo = e as Record<string, unknown>;
      code = typeof eo.code === 'string' ? eo.code : null;
      message = typeof eo.message === 'string' ? eo.message : '';
    } else if (typeof b.message === 'string') {
      message = b.message;
      if (typeof e === 'string') code = e;
    } else if (typeof e === 'string') {
      message = e;
    }
  }
  const friendly = code ? FRIENDLY[code] : undefined;
  let text: string;
  if (code === 'SB_ERR_UNAUTHORIZED' && message) text = `${sentence(message)} ${FRIENDLY[code]}`;
  else if (friendly && !message) text = friendly;
  else if (message) text = sentence(message);
  else if (status === 0) text = 'Cannot reach the gateway. Check your connection.';
  else text = `The gateway answered with HTTP ${status}.`;
  const err = new ApiError(text, status, code);
  err.rawMessage = message;
  return err;
}

let credential: Credential | null = loadCredential();
let onUnauthorized: (() => void) | null = null;

export function setCredential(c: Credential | null): void {
  credential = c;
  saveCredential(c);
}

export function currentCredential(): Credential | null {
  return credential;
}

/** Called when a signed-in call answers 401 (the key was revoked or the login expired). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  /** Use this bearer instead of the signed-in one (sign-in checks). */
  token?: string | null;
  headers?: Record<string, string>;
}

/** Calls the gateway's JSON API; throws ApiError with a readable message on failure. */
export async function api<T = unknown>(path: string, opts: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? credential?.token : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    });
  } catch {
    throw readableError(0, null);
  }
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    const err = readableError(res.status, body);
    if (res.status === 401 && opts.token === undefined && credential) onUnauthorized?.();
    throw err;
  }
  return body as T;
}

/** Message of any thrown value, for display. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.message) return sentence(err.message);
  return 'Something went wrong.';
}

// ---- API shapes used by the pages (a subset of the OpenAPI document at /docs) ----

// Record shapes are the gateway's own (type-only), narrowed to the fields the API shows and the pages read.

/** An instance as the API shows it: no settings or QR payload, `has_qr` instead. */
export type Instance = Pick<
  StoredInstance,
  | 'id'
  | 'company_id'
  | 'name'
  | 'provider'
  | 'type_instance'
  | 'status'
  | 'auth_status'
  | 'desired_state'
  | 'account'
  | 'qr_updated_at'
  | 'is_pooled'
  | 'assigned_to'
  | 'last_error'
  | 'last_activity_at'
  | 'created_at'
  | 'updated_at'
  | 'mcp_schema'
> & { has_qr: boolean };

export type Message = Pick<
  StoredMessage,
  | 'id'
  | 'message_id'
  | 'chat_id'
  | 'from'
  | 'to'
  | 'body'
  | 'type'
  | 'is_from_me'
  | 'contact_name'
  | 'status'
  | 'timestamp'
>;

export type Chat = Pick<
  StoredChat,
  'chat_id' | 'name' | 'is_group' | 'last_message_at' | 'last_message_preview' | 'unread_count'
>;

// Event shapes come from the gateway's own schemas (type-only: nothing of zod reaches the bundle).
export type {
  DomainEvent,
  EventData,
  EventType,
  GatewayEvent,
} from '../../src/domain/events.js';

/** True when the instance is logged in and running. */
export function isConnected(i: Pick<Instance, 'status' | 'auth_status'>): boolean {
  return i.status === 'running' && i.auth_status === 'client_ready';
}

/** A random Idempotency-Key (crypto.randomUUID needs a secure context; getRandomValues does not). */
export function newIdempotencyKey(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return `web-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}
