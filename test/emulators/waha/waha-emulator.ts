// A local WAHA emulator: the WAHA HTTP API routes Switchboard uses and WAHA-shaped (optionally signed) webhooks.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Status = 'STOPPED' | 'STARTING' | 'SCAN_QR_CODE' | 'WORKING' | 'FAILED';

interface WebhookCfg {
  url: string;
  events: string[];
  hmac?: { key: string } | null;
  /** Sent with every delivery of this webhook, as WAHA does (`[{name, value}]`). */
  customHeaders?: Array<{ name: string; value: string }> | null;
}

/** One emulated WAHA session. */
export interface EmuSession {
  name: string;
  status: Status;
  config: { webhooks?: WebhookCfg[] } & Record<string, unknown>;
  me: { id: string; pushName: string } | null;
  qr: string;
  qrCount: number;
}

/** A request the emulator received (for assertions). */
export interface EmuCall {
  method: string;
  path: string;
  body: Record<string, unknown> | null;
}

/** A webhook the emulator delivered, with the receiver's HTTP status. */
export interface EmuDelivery {
  url: string;
  event: string;
  status: number;
}

/**
 * Follows WAHA's published API for: `GET/POST/PUT/DELETE /api/sessions[/{name}]`, `POST /api/sessions/{name}/
 * start|stop|logout`, `GET /api/{session}/auth/qr?format=raw`, `POST /api/sendText|sendImage|sendFile|sendVideo|
 * sendVoice`. `X-Api-Key` is required when `apiKey` is set. Test controls (scan, inbound, ack, fail) trigger webhooks
 * shaped like WAHA's (`{id, timestamp, event, session, me, payload, engine, environment}`), with each webhook's
 * `customHeaders` and, when it has an `hmac.key`, `X-Webhook-Hmac` (hex HMAC-SHA512 of the body).
 */
export class WahaEmulator {
  private server: Server | null = null;
  readonly sessions = new Map<string, EmuSession>();
  readonly calls: EmuCall[] = [];
  readonly deliveries: EmuDelivery[] = [];
  /** Media files WAHA keeps for received messages: `<session>/<file>` → bytes, served at /api/files/…. */
  readonly files = new Map<string, Buffer>();
  url = '';
  /** How long a stop takes, in ms (a real WAHA shuts its engine down before it answers). */
  stopDelayMs = 0;

  constructor(private readonly apiKey?: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => this.json(res, 500, { statusCode: 500, message: String(err) }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  callsTo(path: string): EmuCall[] {
    return this.calls.filter((c) => c.path === path);
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private view(s: EmuSession) {
    return { name: s.name, status: s.status, config: s.config, me: s.me, engine: { engine: 'NOWEB' } };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : null;
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    this.calls.push({ method, path, body });
    if (this.apiKey && req.headers['x-api-key'] !== this.apiKey) {
      return this.json(res, 401, { message: 'Unauthorized', statusCode: 401 });
    }
    const file = /^\/api\/files\/(.+)$/.exec(path);
    if (method === 'GET' && file) {
      const bytes = this.files.get(decodeURIComponent(file[1]));
      if (!bytes) return this.json(res, 404, { message: 'File not found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
      return;
    }
    const one = /^\/api\/sessions\/([^/]+)$/.exec(path);
    const action = /^\/api\/sessions\/([^/]+)\/(start|stop|logout)$/.exec(path);
    const qr = /^\/api\/([^/]+)\/auth\/qr$/.exec(path);
    const send = /^\/api\/(sendText|sendImage|sendFile|sendVideo|sendVoice)$/.exec(path);
    if (method === 'POST' && path === '/api/sessions') {
      const name = String(body?.name ?? 'default');
      if (this.sessions.has(name))
        return this.json(res, 422, { message: `Session '${name}' already exists` });
      const s: EmuSession = {
        name,
        status: 'STOPPED',
        config: (body?.config as EmuSession['config']) ?? {},
        me: null,
        qr: '',
        qrCount: 0,
      };
      this.sessions.set(name, s);
      if (body?.start !== false) this.boot(s);
      return this.json(res, 201, this.view(s));
    }
    if (one) {
      const s = this.sessions.get(decodeURIComponent(one[1]));
      if (!s) return this.json(res, 404, { message: 'Session not found', statusCode: 404 });
      if (method === 'GET') return this.json(res, 200, this.view(s));
      if (method === 'PUT') {
        s.config = (body?.config as EmuSession['config']) ?? s.config;
        return this.json(res, 200, this.view(s));
      }
      if (method === 'DELETE') {
        this.sessions.delete(s.name);
        return this.json(res, 200, {});
      }
    }
    if (method === 'POST' && action) {
      const m = action;
      const s = this.sessions.get(decodeURIComponent(m[1]));
      if (!s) return this.json(res, 404, { message: 'Session not found', statusCode: 404 });
      if (m[2] === 'start') {
        if (s.status !== 'STOPPED' && s.status !== 'FAILED') {
          return this.json(res, 422, { message: `Session '${s.name}' is already started` });
        }
        this.boot(s);
      } else if (m[2] === 'stop') {
        if (this.stopDelayMs) await new Promise((r) => setTimeout(r, this.stopDelayMs));
        this.setStatus(s, 'STOPPED');
      } else {
        s.me = null;
        this.setStatus(s, 'STOPPED');
      }
      return this.json(res, 201, this.view(s));
    }
    if (method === 'GET' && qr) {
      const s = this.sessions.get(decodeURIComponent(qr[1]));
      if (!s) return this.json(res, 404, { message: 'Session not found' });
      if (s.status !== 'SCAN_QR_CODE') {
        return this.json(res, 422, {
          message: `Can not get QR code: status is ${s.status}`,
          statusCode: 422,
        });
      }
      if (url.searchParams.get('format') !== 'raw')
        return this.json(res, 400, { message: 'emulator: use format=raw' });
      return this.json(res, 200, { value: s.qr });
    }
    if (method === 'POST' && send) {
      const m = send;
      const s = this.sessions.get(String(body?.session ?? ''));
      if (!s) return this.json(res, 404, { message: 'Session not found' });
      if (s.status !== 'WORKING') {
        return this.json(res, 422, {
          message: `Session status is not as expected: ${s.status}`,
          statusCode: 422,
        });
      }
      const chatId = String(body?.chatId ?? '');
      if (!/@(c\.us|g\.us|lid)$/.test(chatId))
        return this.json(res, 400, { message: 'chatId must end with @c.us' });
      const id = `true_${chatId}_3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
      return this.json(res, 201, {
        id,
        timestamp: Math.floor(Date.now() / 1000),
        from: s.me?.id,
        fromMe: true,
        to: chatId,
        body: body?.text ?? body?.caption ?? null,
        hasMedia: m[1] !== 'sendText',
        ack: 1,
      });
    }
    return this.json(res, 404, { message: `Cannot ${method} ${path}`, statusCode: 404 });
  }

  /** STARTING, then SCAN_QR_CODE with a fresh QR (or WORKING when the session is still logged in). */
  private boot(s: EmuSession): void {
    this.setStatus(s, 'STARTING');
    if (s.me) this.setStatus(s, 'WORKING');
    else {
      this.rotateQr(s.name);
      this.setStatus(s, 'SCAN_QR_CODE');
    }
  }

  private setStatus(s: EmuSession, status: Status): void {
    s.status = status;
    void this.emit(s, 'session.status', { status });
  }

  /** A new QR value (WhatsApp rotates it about every 20 s); WAHA sends no webhook for it. */
  rotateQr(name: string): string {
    const s = this.sessions.get(name)!;
    s.qrCount++;
    s.qr = `2@waha${randomBytes(10).toString('base64url')},${name},${s.qrCount}`;
    return s.qr;
  }

  /** The phone scans the QR: the session becomes WORKING as `<phone>@c.us`. */
  scan(name: string, phone: string): void {
    const s = this.sessions.get(name)!;
    s.me = { id: `${phone}@c.us`, pushName: 'Emu Phone' };
    this.setStatus(s, 'WORKING');
  }

  fail(name: string): void {
    this.setStatus(this.sessions.get(name)!, 'FAILED');
  }

  /** A contact writes to the session; returns the WAHA message id. */
  async inbound(
    name: string,
    from: string,
    body: string,
    extra: Record<string, unknown> = {},
  ): Promise<string> {
    const s = this.sessions.get(name)!;
    const id = `false_${from}_3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
    await this.emit(s, 'message', {
      id,
      timestamp: Math.floor(Date.now() / 1000),
      from,
      fromMe: false,
      to: s.me?.id,
      body,
      hasMedia: false,
      ack: 1,
      ackName: 'SERVER',
      _data: { pushName: 'Dora' },
      ...extra,
    });
    return id;
  }

  async ack(name: string, id: string, ack: number): Promise<void> {
    const s = this.sessions.get(name)!;
    const names: Record<number, string> = {
      [-1]: 'ERROR',
      0: 'PENDING',
      1: 'SERVER',
      2: 'DEVICE',
      3: 'READ',
      4: 'PLAYED',
    };
    await this.emit(s, 'message.ack', { id, from: s.me?.id, fromMe: true, ack, ackName: names[ack] });
  }

  /** Posts a WAHA-shaped webhook to every configured URL that subscribed to the event. */
  async emit(s: EmuSession, event: string, payload: Record<string, unknown>): Promise<void> {
    for (const hook of s.config.webhooks ?? []) {
      if (!hook.events.includes(event) && !hook.events.includes('*')) continue;
      const body = JSON.stringify({
        id: `evt_${randomBytes(12).toString('hex')}`,
        timestamp: Date.now(),
        event,
        session: s.name,
        me: s.me,
        payload,
        engine: 'NOWEB',
        environment: { version: '2025.1.1', engine: 'NOWEB', tier: 'CORE', browser: null },
      });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const h of hook.customHeaders ?? []) headers[h.name.toLowerCase()] = h.value;
      if (hook.hmac?.key) {
        headers['x-webhook-hmac'] = createHmac('sha512', hook.hmac.key).update(body).digest('hex');
        headers['x-webhook-hmac-algorithm'] = 'sha512';
      }
      try {
        const res = await fetch(hook.url, { method: 'POST', headers, body });
        await res.text();
        this.deliveries.push({ url: hook.url, event, status: res.status });
      } catch {
        this.deliveries.push({ url: hook.url, event, status: 0 });
      }
    }
  }
}
