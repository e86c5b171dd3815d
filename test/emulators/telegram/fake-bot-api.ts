// A small Telegram Bot API fake for what telegram-test-api lacks: token checks, 409 conflicts, media, chat actions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeBot {
  id: number;
  username: string;
}

/** One call the fake received (method, parsed fields, uploaded files). */
export interface FakeCall {
  token: string;
  method: string;
  fields: Record<string, unknown>;
  files: Record<string, { name: string; size: number; type: string }>;
}

/** Bot API semantics for the methods our provider uses; unknown tokens get 401 like the real server. */
export class FakeBotApi {
  private server: Server | null = null;
  readonly bots = new Map<string, FakeBot>();
  readonly calls: FakeCall[] = [];
  /** Pending updates per token (served by getUpdates, honouring offset and the long-poll timeout). */
  private readonly queues = new Map<string, Array<Record<string, unknown>>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** While > 0, getUpdates answers 409 Conflict and decrements it. Infinity = always. */
  conflicts = 0;
  /** While > 0, getUpdates answers 502 Bad Gateway (Telegram's side is down) and decrements it. */
  serverErrors = 0;
  webhooks = new Map<string, { url: string; secret: string | undefined }>();
  private nextUpdateId = 1;
  private nextMessageId = 100;
  url = '';

  addBot(token: string, bot: FakeBot): void {
    this.bots.set(token, bot);
  }

  /** Queues an update (a user writing to the bot); the `update_id` is assigned here. */
  pushUpdate(token: string, update: Record<string, unknown>): number {
    const id = this.nextUpdateId++;
    const q = this.queues.get(token) ?? [];
    q.push({ update_id: id, ...update });
    this.queues.set(token, q);
    for (const w of this.waiters.get(token) ?? []) w();
    return id;
  }

  callsOf(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) =>
        this.reply(res, 500, { ok: false, error_code: 500, description: String(err) }),
      );
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const set of this.waiters.values()) for (const w of set) w();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private reply(res: ServerResponse, status: number, body: unknown): void {
    if (res.writableEnded) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async parse(req: IncomingMessage): Promise<Pick<FakeCall, 'fields' | 'files'>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    const fields: Record<string, unknown> = {};
    const files: FakeCall['files'] = {};
    if (body.length === 0) return { fields, files };
    if (type.startsWith('application/json')) return { fields: JSON.parse(body.toString('utf8')), files };
    if (type.startsWith('multipart/form-data')) {
      // A small multipart parser: grammY writes compact part headers (`name="x";filename=y`).
      const boundary = /boundary=(.+)$/.exec(type)?.[1] ?? '';
      for (const raw of body.toString('latin1').split(`--${boundary}`)) {
        const at = raw.indexOf('\r\n\r\n');
        if (at < 0) continue;
        const head = raw.slice(0, at);
        const value = raw.slice(at + 4).replace(/\r\n$/, '');
        const name = /name="?([^";\r\n]+)"?/.exec(head)?.[1];
        if (!name) continue;
        const filename = /filename="?([^";\r\n]+)"?/.exec(head)?.[1];
        if (filename !== undefined) {
          const ctype = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1] ?? '';
          files[name] = { name: filename, size: Buffer.from(value, 'latin1').length, type: ctype };
          continue;
        }
        const text = Buffer.from(value, 'latin1').toString('utf8');
        try {
          fields[name] = JSON.parse(text);
        } catch {
          fields[name] = text;
        }
      }
      // grammY sends files as `attach://<id>` references: resolve them to the part.
      for (const [k, v] of Object.entries(fields)) {
        if (typeof v === 'string' && v.startsWith('attach://')) {
          const part = files[v.slice('attach://'.length)];
          if (part) files[k] = part;
        }
      }
      return { fields, files };
    }
    return { fields: Object.fromEntries(new URLSearchParams(body.toString('utf8'))), files };
  }

  /** Files the bot can fetch: file_id → bytes (served by getFile and /file/bot<token>/<path>). */
  readonly files = new Map<string, Buffer>();

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fileUrl = /^\/file\/bot([^/]+)\/files\/(.+)$/.exec((req.url ?? '').split('?')[0]);
    if (fileUrl) {
      const bytes = this.bots.has(decodeURIComponent(fileUrl[1]))
        ? this.files.get(decodeURIComponent(fileUrl[2]))
        : undefined;
      if (!bytes) return this.reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
      return;
    }
    const m = /^\/bot([^/]+)\/(\w+)$/.exec((req.url ?? '').split('?')[0]);
    if (!m) return this.reply(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, method] = [m[0], decodeURIComponent(m[1]), m[2]];
    const bot = this.bots.get(token);
    const parsed = await this.parse(req);
    this.calls.push({ token, method, ...parsed });
    if (!bot) return this.reply(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    const f = parsed.fields;
    const ok = (result: unknown) => this.reply(res, 200, { ok: true, result });
    switch (method) {
      case 'getMe':
        return ok({ id: bot.id, is_bot: true, first_name: bot.username, username: bot.username });
      case 'deleteWebhook':
        this.webhooks.delete(token);
        return ok(true);
      case 'setWebhook':
        this.webhooks.set(token, { url: String(f.url), secret: f.secret_token as string | undefined });
        return ok(true);
      case 'getUpdates':
        return this.getUpdates(token, f, req, res);
      case 'sendChatAction':
        return ok(true);
      case 'getFile': {
        const fileId = String(f.file_id ?? '');
        const bytes = this.files.get(fileId);
        if (!bytes)
          return this.reply(res, 400, {
            ok: false,
            error_code: 400,
            description: 'Bad Request: invalid file_id',
          });
        return ok({
          file_id: fileId,
          file_unique_id: fileId,
          file_size: bytes.length,
          file_path: `files/${fileId}`,
        });
      }
      case 'sendMessage':
      case 'sendPhoto':
      case 'sendDocument':
      case 'sendVideo':
      case 'sendAudio':
      case 'sendVoice': {
        const id = this.nextMessageId++;
        return ok({
          message_id: id,
          date: Math.floor(Date.now() / 1000),
          chat: { id: Number(f.chat_id), type: 'private' },
          ...(typeof f.text === 'string' ? { text: f.text } : {}),
          ...(typeof f.caption === 'string' ? { caption: f.caption } : {}),
        });
      }
      default:
        return this.reply(res, 404, {
          ok: false,
          error_code: 404,
          description: 'Not Found: method not found',
        });
    }
  }

  private async getUpdates(
    token: string,
    f: Record<string, unknown>,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (this.serverErrors > 0) {
      this.serverErrors--;
      return this.reply(res, 502, { ok: false, error_code: 502, description: 'Bad Gateway' });
    }
    if (this.conflicts > 0) {
      this.conflicts--;
      return this.reply(res, 409, {
        ok: false,
        error_code: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      });
    }
    const offset = Number(f.offset ?? 0);
    const take = () => {
      const q = (this.queues.get(token) ?? []).filter((u) => (u.update_id as number) >= offset);
      this.queues.set(token, q);
      return q;
    };
    let ready = take();
    if (ready.length === 0) {
      const timeoutMs = Math.min(Number(f.timeout ?? 0), 30) * 1000;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(token) ?? new Set();
        this.waiters.set(token, set);
        const done = () => {
          clearTimeout(t);
          set.delete(done);
          resolve();
        };
        const t = setTimeout(done, timeoutMs);
        set.add(done);
        req.socket.once('close', done);
      });
      ready = take();
    }
    this.reply(res, 200, { ok: true, result: ready });
  }
}
