// Emulator media: WhatsApp's media encryption (HKDF keys, AES-256-CBC, truncated HMAC, sha256 / enc sha256) and an
// upload (HTTPS, as Baileys requires) / download (HTTP) server on 127.0.0.1. Written from the protocol description,
// independently of Baileys' own implementation, so a test checks one against the other.
import { execFileSync } from 'node:child_process';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, globalAgent as httpsGlobalAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { BinaryNode, proto } from 'baileys';

/** A valid 1×1 PNG, for tests that send an image. */
export const TINY_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** Media kinds and the HKDF info each uses (`WhatsApp <X> Keys`). */
const HKDF_INFO: Record<string, string> = {
  image: 'Image',
  sticker: 'Image',
  video: 'Video',
  audio: 'Audio',
  ptt: 'Audio',
  document: 'Document',
};

/** Message fields of a media message, by proto field name → our kind. */
const MEDIA_FIELDS: Record<string, string> = {
  imageMessage: 'image',
  videoMessage: 'video',
  audioMessage: 'audio',
  documentMessage: 'document',
  stickerMessage: 'sticker',
};

/** iv, cipher key and MAC key of a media key for a kind (HKDF-SHA256, 112 bytes, empty salt). */
export function mediaKeys(
  mediaKey: Uint8Array,
  kind: string,
): { iv: Buffer; cipherKey: Buffer; macKey: Buffer } {
  const info = HKDF_INFO[kind];
  if (!info) throw new Error(`no media keys for ${kind}`);
  const x = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.alloc(0), `WhatsApp ${info} Keys`, 112));
  return { iv: x.subarray(0, 16), cipherKey: x.subarray(16, 48), macKey: x.subarray(48, 80) };
}

/** An encrypted media file as WhatsApp stores it (ciphertext + 10-byte MAC) with its hashes. */
export interface EncryptedMedia {
  mediaKey: Buffer;
  /** AES-256-CBC ciphertext followed by the first 10 bytes of HMAC-SHA256(macKey, iv ‖ ciphertext). */
  enc: Buffer;
  fileSha256: Buffer;
  fileEncSha256: Buffer;
  fileLength: number;
}

/** Encrypts plaintext media the way WhatsApp clients do. */
export function encryptMedia(plain: Buffer, kind: string, mediaKey = randomBytes(32)): EncryptedMedia {
  const { iv, cipherKey, macKey } = mediaKeys(mediaKey, kind);
  const c = createCipheriv('aes-256-cbc', cipherKey, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const mac = createHmac('sha256', macKey).update(iv).update(ct).digest().subarray(0, 10);
  const enc = Buffer.concat([ct, mac]);
  return {
    mediaKey,
    enc,
    fileSha256: createHash('sha256').update(plain).digest(),
    fileEncSha256: createHash('sha256').update(enc).digest(),
    fileLength: plain.length,
  };
}

/** Checks the hashes and the MAC of an encrypted file and decrypts it; throws on any mismatch. */
export function decryptMedia(
  enc: Buffer,
  kind: string,
  m: { mediaKey: Uint8Array; fileSha256?: Uint8Array | null; fileEncSha256?: Uint8Array | null },
): Buffer {
  if (m.fileEncSha256 && !createHash('sha256').update(enc).digest().equals(Buffer.from(m.fileEncSha256)))
    throw new Error('fileEncSha256 does not match the uploaded file');
  const { iv, cipherKey, macKey } = mediaKeys(m.mediaKey, kind);
  const ct = enc.subarray(0, enc.length - 10);
  const mac = createHmac('sha256', macKey).update(iv).update(ct).digest().subarray(0, 10);
  if (!timingSafeEqual(mac, enc.subarray(enc.length - 10))) throw new Error('media MAC mismatch');
  const d = createDecipheriv('aes-256-cbc', cipherKey, iv);
  const plain = Buffer.concat([d.update(ct), d.final()]);
  if (m.fileSha256 && !createHash('sha256').update(plain).digest().equals(Buffer.from(m.fileSha256)))
    throw new Error('fileSha256 does not match the decrypted file');
  return plain;
}

/** A media item found in a message the account sent, decrypted from what it uploaded. */
export interface ReceivedMedia {
  kind: string;
  mimetype: string | null;
  data?: Buffer;
  fileName?: string | null;
  /** A voice note (audio with ptt). */
  ptt?: boolean;
  error?: string;
}

/** A self-signed certificate for 127.0.0.1 (openssl; test machines have it). */
function selfSignedCert(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'wa-emu-media-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      ], // biome-ignore format: one argument list
      { stdio: 'ignore' },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const listen = (server: Server): Promise<number> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

/**
 * WhatsApp's media hosts for the emulator: `POST /mms/<type>/<encSha256>?auth=&token=` over HTTPS (Baileys' upload;
 * it answers `{url, direct_path}`), and `GET /d/<id>` over plain HTTP for media the emulator's contacts send (their
 * messages carry only that `url`, so Baileys fetches it without TLS: no certificate to trust for downloads).
 */
export class MediaServer {
  /** The CA (= the self-signed certificate) to trust for uploads, PEM. */
  readonly ca: Buffer;
  /** `127.0.0.1:<https port>`, the host a `media_conn` answer names. */
  readonly uploadHost: string;
  /** `http://127.0.0.1:<port>` for downloads. */
  readonly downloadBase: string;
  private readonly files = new Map<string, Buffer>();
  private readonly auth = randomBytes(16).toString('base64url');
  /** Largest upload accepted, bytes (WhatsApp's own limits are per type; 64 MiB here). */
  static readonly MAX_UPLOAD = 64 * 1024 * 1024;

  private constructor(
    private readonly https: Server,
    private readonly http: Server,
    ca: Buffer,
    httpsPort: number,
    httpPort: number,
  ) {
    this.ca = ca;
    this.uploadHost = `127.0.0.1:${httpsPort}`;
    this.downloadBase = `http://127.0.0.1:${httpPort}`;
  }

  static async start(): Promise<MediaServer> {
    const { key, cert } = selfSignedCert();
    let self: MediaServer | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      self!.handle(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(JSON.stringify({ error: String(e) }));
      });
    };
    const https = createHttpsServer({ key, cert }, handler);
    const http = createHttpServer(handler);
    const [a, b] = await Promise.all([listen(https), listen(http)]);
    self = new MediaServer(https, http, cert, a, b);
    return self;
  }

  async close(): Promise<void> {
    this.https.closeAllConnections?.();
    this.http.closeAllConnections?.();
    await Promise.all(
      [this.https, this.http].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  }

  /** The `<media_conn>` answer: auth token, ttl and our upload host. */
  mediaConnNode(): BinaryNode {
    return {
      tag: 'media_conn',
      attrs: { auth: this.auth, ttl: '3600', auth_ttl: '3600', max_buckets: '1' },
      content: [
        {
          tag: 'host',
          attrs: { hostname: this.uploadHost, maxContentLengthBytes: String(MediaServer.MAX_UPLOAD) },
        },
      ],
    };
  }

  /** Stores an encrypted file for download; returns its URL (plain HTTP on 127.0.0.1). */
  put(enc: Buffer): string {
    const id = randomBytes(12).toString('hex');
    this.files.set(`/d/${id}`, enc);
    return `${this.downloadBase}/d/${id}`;
  }

  /** The first media item of a message the account sent, fetched from our store and decrypted (or why not). */
  open(message: proto.IMessage | undefined): ReceivedMedia | undefined {
    const [field, kind] =
      Object.entries(MEDIA_FIELDS).find(([f]) => message?.[f as keyof proto.IMessage]) ?? [];
    if (!field || !kind) return undefined;
    const m = message![field as keyof proto.IMessage] as proto.Message.IImageMessage &
      proto.Message.IDocumentMessage &
      proto.Message.IAudioMessage;
    const out: ReceivedMedia = {
      kind,
      mimetype: m.mimetype ?? null,
      fileName: m.fileName ?? null,
      ptt: kind === 'audio' ? !!m.ptt : undefined,
    };
    try {
      const path = m.directPath?.split('?')[0] ?? '';
      const enc = this.files.get(path);
      if (!enc) throw new Error(`no uploaded file at ${path}`);
      if (!m.mediaKey) throw new Error('no mediaKey');
      out.data = decryptMedia(enc, kind, m as { mediaKey: Uint8Array });
      if (m.fileLength != null && Number(m.fileLength) !== out.data.length)
        throw new Error('fileLength mismatch');
    } catch (e) {
      out.error = e instanceof Error ? e.message : String(e);
    }
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && url.pathname.startsWith('/mms/')) {
      if (url.searchParams.get('auth') !== this.auth) {
        res.statusCode = 401;
        res.end(JSON.stringify({ error: 'bad auth' }));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > MediaServer.MAX_UPLOAD) {
          res.statusCode = 413;
          res.end(JSON.stringify({ error: 'too large' }));
          return;
        }
        chunks.push(c as Buffer);
      }
      const body = Buffer.concat(chunks);
      const token = url.pathname.split('/').pop() ?? '';
      if (createHash('sha256').update(body).digest('base64url') !== token.replace(/=+$/, '')) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'enc sha256 mismatch' }));
        return;
      }
      const id = randomBytes(12).toString('hex');
      const directPath = `/v/t62.7118-24/${id}.enc`;
      this.files.set(directPath, body);
      res.end(JSON.stringify({ url: `https://${this.uploadHost}${directPath}`, direct_path: directPath }));
      return;
    }
    const file = req.method === 'GET' ? this.files.get(url.pathname) : undefined;
    if (!file) {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
      return;
    }
    res.setHeader('content-type', 'application/octet-stream');
    res.end(file);
  }
}

/**
 * Trusts the media host's certificate for Baileys' uploads in this process (they go through `https.request` with
 * the global agent). Returns a function that restores the previous setting. Another process: NODE_EXTRA_CA_CERTS.
 */
export function trustMediaHost(ca: Buffer): () => void {
  const before = httpsGlobalAgent.options.ca;
  httpsGlobalAgent.options.ca = [...rootCertificates, ca.toString()];
  return () => {
    httpsGlobalAgent.options.ca = before;
  };
}
