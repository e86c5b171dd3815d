// A small HTTP client for the WAHA API (sessions, QR, sending); WAHA's DTOs stay in this folder.
import { SbError } from '../../domain/errors.js';

/** WAHA session statuses as WAHA names them. */
export type WahaStatus = 'STOPPED' | 'STARTING' | 'SCAN_QR_CODE' | 'WORKING' | 'FAILED';

export interface WahaMe {
  id: string;
  pushName?: string | null;
}

export interface WahaSessionInfo {
  name: string;
  status: WahaStatus;
  me?: WahaMe | null;
  config?: Record<string, unknown> | null;
}

export interface WahaWebhookConfig {
  url: string;
  events: string[];
  hmac?: { key: string } | null;
  retries?: { policy: string; delaySeconds: number; attempts: number } | null;
}

/** A failed WAHA call with its HTTP status (0 = WAHA unreachable). */
export class WahaError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'WahaError';
  }
}

export interface WahaFile {
  mimetype: string;
  filename?: string;
  url?: string;
  data?: string;
}

/** The WAHA routes Switchboard uses, as published in WAHA's OpenAPI document (`/api/...`). */
export class WahaClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.apiKey ? { 'x-api-key': this.apiKey } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new WahaError(0, `WAHA is unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    if (!res.ok) {
      let detail = text.slice(0, 300);
      try {
        const j = JSON.parse(text) as { message?: unknown; error?: unknown };
        detail = String(j.message ?? j.error ?? detail);
      } catch {
        // keep the raw text
      }
      throw new WahaError(res.status, `WAHA ${method} ${path.split('?')[0]} → ${res.status}: ${detail}`);
    }
    return (text ? JSON.parse(text) : null) as T;
  }

  /** The session, or null when WAHA does not know it. */
  async getSession(name: string): Promise<WahaSessionInfo | null> {
    try {
      return await this.call<WahaSessionInfo>('GET', `/api/sessions/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof WahaError && err.status === 404) return null;
      throw err;
    }
  }

  createSession(name: string, config: Record<string, unknown>, start: boolean): Promise<WahaSessionInfo> {
    return this.call('POST', '/api/sessions', { name, start, config });
  }

  updateSession(name: string, config: Record<string, unknown>): Promise<WahaSessionInfo> {
    return this.call('PUT', `/api/sessions/${encodeURIComponent(name)}`, { name, config });
  }

  startSession(name: string): Promise<WahaSessionInfo> {
    return this.call('POST', `/api/sessions/${encodeURIComponent(name)}/start`);
  }

  stopSession(name: string): Promise<WahaSessionInfo> {
    return this.call('POST', `/api/sessions/${encodeURIComponent(name)}/stop`);
  }

  logoutSession(name: string): Promise<WahaSessionInfo> {
    return this.call('POST', `/api/sessions/${encodeURIComponent(name)}/logout`);
  }

  /** The raw QR value (what the phone scans) while the session is in SCAN_QR_CODE. */
  async getQr(name: string): Promise<string> {
    const r = await this.call<{ value?: string }>(
      'GET',
      `/api/${encodeURIComponent(name)}/auth/qr?format=raw`,
    );
    if (!r?.value) throw new WahaError(422, 'WAHA returned no QR value');
    return r.value;
  }

  sendText(body: { session: string; chatId: string; text: string; reply_to?: string }): Promise<unknown> {
    return this.call('POST', '/api/sendText', body);
  }

  sendFile(
    kind: 'sendImage' | 'sendFile' | 'sendVideo' | 'sendVoice',
    body: { session: string; chatId: string; file: WahaFile; caption?: string; reply_to?: string },
  ): Promise<unknown> {
    return this.call('POST', `/api/${kind}`, body);
  }
}

/** Downloads a file WAHA stored for a received message; only URLs on the WAHA server itself are fetched. */
export async function downloadWahaFile(
  baseUrl: string,
  apiKey: string | undefined,
  url: string,
  maxBytes: number,
): Promise<Buffer> {
  const target = new URL(url, baseUrl);
  if (target.origin !== new URL(baseUrl).origin) {
    throw new SbError('SB_ERR_PROVIDER', 'the media URL does not point at the WAHA server');
  }
  let res: Response;
  try {
    res = await fetch(target, {
      headers: apiKey ? { 'x-api-key': apiKey } : {},
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new SbError('SB_ERR_PROVIDER', `WAHA is unreachable: ${err instanceof Error ? err.message : err}`);
  }
  if (!res.ok) throw new SbError('SB_ERR_PROVIDER', `WAHA answered ${res.status} for the media file`);
  const data = Buffer.from(await res.arrayBuffer());
  if (data.length > maxBytes) throw new SbError('SB_ERR_PAYLOAD_TOO_LARGE', 'the media file is too large');
  return data;
}

/** Maps a WAHA failure to our error: unreachable or 5xx → 502 SB_ERR_PROVIDER, others keep WAHA's message. */
export function toSbError(err: unknown): SbError {
  if (err instanceof SbError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SbError('SB_ERR_PROVIDER', message, { cause: err });
}
