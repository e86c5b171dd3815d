// HTTP/JSON control API over a WhatsAppEmulator, for tests that drive the emulator from another process.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StreamErrorKind, WhatsAppEmulator } from './emulator.js';
import type { ParticipantAction } from './groups.js';
import type { HistoryChunkSpec } from './history.js';
import type { SenderAddressing } from './identities.js';

/** A running control server. */
export interface ControlServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT`. */
  url: string;
  server: Server;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || !v) throw new Error(`missing string field "${name}"`);
  return v;
};

/**
 * Serves the emulator's control API as JSON:
 * - `GET  /info` → `{url, rootPublicKey}` (base64 root key)
 * - `GET  /accounts` → `AccountInfo[]`
 * - `GET  /sent?phone=P` → `SentMessage[]` (without the raw proto)
 * - `GET  /live?phone=P` → `{count}`
 * - `GET  /conflicts?phone=P` → `{count}` (second live logins of one device; all accounts without `phone`)
 * - `POST /scan-qr {qr, phone?}` → `{phone, lid}`
 * - `POST /deliver-text {toPhone, fromPhone, text, id?, pushName?}` → `{id}`
 * - `POST /receipt {accountPhone, messageId, type: 'delivered'|'read'}`
 * - `POST /stream-error {accountPhone, kind: 'conflict'|'device_removed'|'restart_required'}`
 * - `POST /drop {accountPhone}`
 * - `POST /silent {accountPhone, silent}`
 * - `POST /silence-live {accountPhone}` → `{count}` (current sockets stay open, get nothing; a reconnect works)
 * - `POST /send-history {accountPhone, chunk}` (a `HistoryChunkSpec`, sent to the live devices now)
 * - `POST /deliver-undecryptable {toPhone, fromPhone, text, mode: 'recover'|'never', id?}` → `{id}`
 * - `GET  /retries?id=M` → `{count}` (retry receipts the client sent for message M)
 * - `GET  /contact-lid?phone=P` → `{lid}`
 * - `POST /group {creatorPhone, subject, participants}` → `{id}`
 * - `POST /group-change {groupId, action, phones, actorPhone}` → `{changed}`
 * - `POST /deliver-group-text {groupId, fromPhone, text, id?, pushName?, mentions?}` → `{id}`
 * - `POST /group-rate-limit {accountPhone, on}`
 * - `POST /deliver-media {toPhone, fromPhone, kind, base64, mimetype, fileName?, caption?, ptt?}` → `{id}`
 * Errors answer 400 `{error}`.
 */
export async function startControlServer(
  emulator: WhatsAppEmulator,
  port = 0,
  host = '127.0.0.1',
): Promise<ControlServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method} ${url.pathname}`;
    const phone = url.searchParams.get('phone') ?? '';
    switch (route) {
      case 'GET /info':
        return { url: emulator.url, rootPublicKey: emulator.rootPublicKey.toString('base64') };
      case 'GET /accounts':
        return emulator.accounts();
      case 'GET /sent':
        return emulator.sentMessages(phone).map(({ message: _m, media, ...rest }) => ({
          ...rest,
          ...(media ? { media: { ...media, data: media.data?.toString('base64') } } : {}),
        }));
      case 'GET /live':
        return { count: emulator.liveConnections(phone) };
      case 'GET /conflicts':
        return { count: emulator.conflicts(phone || undefined) };
      case 'GET /retries':
        return { count: emulator.retryReceipts(url.searchParams.get('id') ?? '') };
      case 'GET /contact-lid':
        return { lid: emulator.contactLid(phone) };
    }
    if (req.method !== 'POST') {
      res.statusCode = 404;
      return { error: `no route ${route}` };
    }
    const body = await readJson(req);
    switch (url.pathname) {
      case '/scan-qr':
        return emulator.scanQr(str(body.qr, 'qr'), {
          phone: typeof body.phone === 'string' ? body.phone : undefined,
          history: Array.isArray(body.history) ? (body.history as HistoryChunkSpec[]) : undefined,
        });
      case '/deliver-text':
        return {
          id: await emulator.deliverText({
            toPhone: str(body.toPhone, 'toPhone'),
            fromPhone: str(body.fromPhone, 'fromPhone'),
            text: str(body.text, 'text'),
            id: typeof body.id === 'string' ? body.id : undefined,
            pushName: typeof body.pushName === 'string' ? body.pushName : undefined,
            addressing:
              typeof body.addressing === 'string' ? (body.addressing as SenderAddressing) : undefined,
          }),
        };
      case '/group':
        return emulator.createGroup({
          creatorPhone: str(body.creatorPhone, 'creatorPhone'),
          subject: str(body.subject, 'subject'),
          participants: Array.isArray(body.participants) ? body.participants.map(String) : [],
        });
      case '/group-change':
        return {
          changed: emulator.changeGroup({
            groupId: str(body.groupId, 'groupId'),
            action: str(body.action, 'action') as ParticipantAction,
            phones: Array.isArray(body.phones) ? body.phones.map(String) : [],
            actorPhone: str(body.actorPhone, 'actorPhone'),
          }),
        };
      case '/deliver-group-text':
        return {
          id: await emulator.deliverGroupText({
            groupId: str(body.groupId, 'groupId'),
            fromPhone: str(body.fromPhone, 'fromPhone'),
            text: str(body.text, 'text'),
            id: typeof body.id === 'string' ? body.id : undefined,
            pushName: typeof body.pushName === 'string' ? body.pushName : undefined,
            mentions: Array.isArray(body.mentions) ? body.mentions.map(String) : undefined,
          }),
        };
      case '/group-rate-limit':
        emulator.setGroupRateLimit(str(body.accountPhone, 'accountPhone'), body.on !== false);
        return { ok: true };
      case '/deliver-media':
        return {
          id: await emulator.deliverMedia({
            toPhone: str(body.toPhone, 'toPhone'),
            fromPhone: str(body.fromPhone, 'fromPhone'),
            kind: str(body.kind, 'kind') as 'image' | 'video' | 'document' | 'audio',
            data: Buffer.from(str(body.base64, 'base64'), 'base64'),
            mimetype: str(body.mimetype, 'mimetype'),
            fileName: typeof body.fileName === 'string' ? body.fileName : undefined,
            caption: typeof body.caption === 'string' ? body.caption : undefined,
            ptt: body.ptt === true,
          }),
        };
      case '/receipt':
        emulator.sendReceipt({
          accountPhone: str(body.accountPhone, 'accountPhone'),
          messageId: str(body.messageId, 'messageId'),
          type: body.type === 'read' ? 'read' : 'delivered',
        });
        return { ok: true };
      case '/stream-error':
        emulator.injectStreamError(
          str(body.accountPhone, 'accountPhone'),
          str(body.kind, 'kind') as StreamErrorKind,
        );
        return { ok: true };
      case '/drop':
        emulator.dropConnection(str(body.accountPhone, 'accountPhone'));
        return { ok: true };
      case '/silent':
        emulator.setSilent(str(body.accountPhone, 'accountPhone'), body.silent !== false);
        return { ok: true };
      case '/silence-live':
        return { count: emulator.silenceLiveConnections(str(body.accountPhone, 'accountPhone')) };
      case '/send-history':
        if (!body.chunk || typeof body.chunk !== 'object') throw new Error('chunk: expected a history chunk');
        await emulator.sendHistory(str(body.accountPhone, 'accountPhone'), body.chunk as HistoryChunkSpec);
        return { ok: true };
      case '/deliver-undecryptable':
        return {
          id: await emulator.deliverUndecryptable({
            toPhone: str(body.toPhone, 'toPhone'),
            fromPhone: str(body.fromPhone, 'fromPhone'),
            text: str(body.text, 'text'),
            mode: body.mode === 'never' ? 'never' : 'recover',
            id: typeof body.id === 'string' ? body.id : undefined,
          }),
        };
    }
    res.statusCode = 404;
    return { error: `no route ${route}` };
  };
  const server = createServer((req, res) => {
    handle(req, res)
      .then((out) => out)
      .catch((e: unknown) => {
        res.statusCode = 400;
        return { error: e instanceof Error ? e.message : String(e) };
      })
      .then((out) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(out ?? null));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
