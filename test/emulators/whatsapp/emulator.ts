// Local WhatsApp server emulator that the real, unmodified Baileys client can connect to.

import { createHmac, randomBytes, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  type BinaryNode,
  decodeBinaryNode,
  encodeBinaryNode,
  getBinaryNodeChild,
  getBinaryNodeChildren,
  NOISE_WA_HEADER,
  proto,
  WA_ADV_ACCOUNT_SIG_PREFIX,
} from 'baileys';
import { type WebSocket, WebSocketServer } from 'ws';
import { createCertChain, generateRawKeyPair, type RawKeyPair, signRaw } from './cert-chain.js';
import { type UndecryptableMode, undecryptableCiphertext } from './decrypt.js';
import { GroupDirectory, IqError, type ParticipantAction } from './groups.js';
import { appStateSyncResult, type HistoryChunkSpec, historyNotification } from './history.js';
import { type SenderAddressing, senderAttrs } from './identities.js';
import { encryptMedia, MediaServer, type ReceivedMedia } from './media-server.js';
import { NoiseResponder } from './noise-responder.js';
import { type PreKeyBundle, SignalPeer } from './signal-peer.js';

const S_WHATSAPP_NET = 's.whatsapp.net';
const now = (): string => String(Math.floor(Date.now() / 1000));
const userOf = (jid: string): string => jid.split('@')[0]!.split(':')[0]!.split('_')[0]!;
const withPrefix = (key: Uint8Array): Buffer =>
  key.length === 33 ? Buffer.from(key) : Buffer.concat([Buffer.from([5]), key]);
const beUInt = (buf: Uint8Array | undefined | null): number =>
  buf?.length ? Buffer.from(buf).readUIntBE(0, buf.length) : 0;
const be = (value: number, bytes: number): Buffer => {
  const out = Buffer.alloc(bytes);
  out.writeUIntBE(value, 0, bytes);
  return out;
};
const childBuf = (node: BinaryNode | undefined, tag: string): Buffer | undefined => {
  const c = node ? getBinaryNodeChild(node, tag)?.content : undefined;
  return c instanceof Uint8Array ? Buffer.from(c) : undefined;
};
const kids = (node: BinaryNode | undefined): BinaryNode[] =>
  node && Array.isArray(node.content) ? node.content : [];

/** Stream errors the emulator can inject into a live connection. */
export type StreamErrorKind = 'conflict' | 'device_removed' | 'restart_required';

/** A message the account sent to a simulated contact, as decrypted by the emulator. */
export interface SentMessage {
  /** Recipient jid as addressed by the client (phone jid normally). */
  to: string;
  /** Recipient phone number (digits). */
  toPhone: string;
  /** Decrypted text (conversation or extended text), if any. */
  text?: string;
  /** Message id chosen by the client. */
  id: string;
  /** Full decrypted message. */
  message?: proto.IMessage;
  /** Set when the emulator could not decrypt the message. */
  error?: string;
  /** The group (`…@g.us`) for a group message. */
  group?: string;
  /** The media item (image, document, voice note…) as uploaded, fetched back and decrypted by the emulator. */
  media?: ReceivedMedia;
}

/** Summary of one emulated account. */
export interface AccountInfo {
  phone: string;
  lid: string;
  devices: number[];
}

interface Device {
  id: number;
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKeys: Map<number, Buffer>;
  offline: BinaryNode[];
  /** History chunks the account's phone still owes this device (sent after its first login). */
  history: HistoryChunkSpec[];
  /** Chunks sent but not yet acknowledged (`hist_sync` receipt): sent again at the next login, as the phone does. */
  historyUnacked: Map<string, HistoryChunkSpec>;
}

interface Account {
  phone: string;
  lid: string;
  accountKey: RawKeyPair;
  devices: Map<number, Device>;
  nextDeviceId: number;
  sent: SentMessage[];
  silent: boolean;
  /** The account's own phone (device 0) as a Signal peer: it sends history to linked devices. */
  phonePeer?: SignalPeer;
}

interface PendingPairing {
  refs: string[];
  noiseKey: Buffer;
  identityKey: Buffer;
  registrationId: number;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
}

interface Conn {
  ws: WebSocket;
  noise: NoiseResponder;
  stage: 'hello' | 'finish' | 'open';
  chain: Promise<void>;
  account?: Account;
  device?: Device;
  pairing?: PendingPairing;
  pending: Map<string, (node: BinaryNode) => void>;
  nextId: number;
  /** This socket stays open but gets no answers (a half-dead connection); a new connection is not affected. */
  silent?: boolean;
}

/** A failure inside one of the emulator's own handlers, with where it happened (see `faults`). */
export interface EmulatorFault {
  /** Which handler failed: `frame` (decoding/handshake: the socket is closed), `node`, `history`. */
  where: 'frame' | 'node' | 'history';
  /** The account of the connection, if it had logged in. */
  phone: string | null;
  /** The tag of the node being handled (`node` faults). */
  tag: string | null;
  message: string;
}

/** Options for {@link WhatsAppEmulator.start}. */
export interface EmulatorOptions {
  /** Port to listen on (0 or omitted: a free port). */
  port?: number;
  /** Host to bind (default 127.0.0.1). */
  host?: string;
  /** Start the media hosts (upload over HTTPS, download over HTTP; see media-server.ts). Default false. */
  media?: boolean;
}

/**
 * In-memory WhatsApp server speaking the real multi-device protocol (Noise XX, binary nodes,
 * Signal) well enough for Baileys to pair, log in, send and receive texts and receipts.
 * Emits `pair` ({phone, lid, device}), `login` ({phone, device}), `conflict` ({phone, device}: a second live
 * login of one device), `sent` (SentMessage & {accountPhone}) and `fault` (EmulatorFault).
 */
export class WhatsAppEmulator extends EventEmitter {
  /** Websocket URL to pass to Baileys as `waWebSocketUrl`. */
  readonly url: string;
  /** Root public key (32 bytes) of the emulator's certificate chain; trust it via `trustEmulator`. */
  readonly rootPublicKey: Buffer;
  /** Encoded `proto.CertChain` the emulator presents in every server hello. */
  readonly certChain: Buffer;
  /** The server's static Noise public key (the leaf certificate's key). */
  readonly staticPublicKey: Buffer;
  /** Failures inside the emulator's handlers, oldest first: a test that expects none can say so. */
  readonly faults: EmulatorFault[] = [];
  private readonly staticKey: RawKeyPair;
  private readonly accountsByPhone = new Map<string, Account>();
  private readonly contacts = new Map<string, SignalPeer>();
  private readonly contactsByLid = new Map<string, SignalPeer>();
  private readonly conns = new Set<Conn>();
  private readonly pairingByRef = new Map<string, Conn>();
  /** Messages sent undecryptable on purpose, by message id: what to do when the client asks for a retry. */
  private readonly undecryptable = new Map<
    string,
    { accountPhone: string; fromPhone: string; text: string; mode: UndecryptableMode; retries: number }
  >();
  /** Second live logins of one device, per account phone (WhatsApp replaces the older one with a 440 conflict). */
  private readonly conflictLog: Array<{ phone: string; device: number; at: number }> = [];
  /** Groups, their w:g2 answers and sender keys (groups.ts). */
  readonly groups = new GroupDirectory();
  /** Media hosts, when started with `media: true`. */
  media?: MediaServer;

  private constructor(
    private readonly wss: WebSocketServer,
    host: string,
    port: number,
    root: RawKeyPair,
  ) {
    super();
    this.url = `ws://${host}:${port}/ws/chat`;
    this.staticKey = generateRawKeyPair();
    this.staticPublicKey = this.staticKey.public;
    this.certChain = createCertChain(this.staticKey.public, root).encoded;
    this.rootPublicKey = root.public;
    wss.on('connection', (ws) => this.onConnection(ws));
  }

  /** Starts an emulator listening on `ws://host:port/ws/chat`. */
  static async start(opts: EmulatorOptions = {}): Promise<WhatsAppEmulator> {
    const host = opts.host ?? '127.0.0.1';
    const wss = new WebSocketServer({ host, port: opts.port ?? 0, path: '/ws/chat' });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    const port = (wss.address() as AddressInfo).port;
    const emu = new WhatsAppEmulator(wss, host, port, generateRawKeyPair());
    if (opts.media) emu.media = await MediaServer.start();
    return emu;
  }

  /** Closes every connection and the server. */
  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    this.conns.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.media?.close();
  }

  // ---------------------------------------------------------------- control API

  /**
   * Completes pairing for a QR string Baileys emitted (`connection.update` → `qr`), inventing the
   * account (or adding a device to the existing account with that phone). Resolves once the client
   * accepted the pairing and was told to restart (515).
   */
  async scanQr(
    qr: string,
    opts: { phone?: string; history?: HistoryChunkSpec[] } = {},
  ): Promise<{ phone: string; lid: string }> {
    const parts = qr.slice(qr.indexOf('#') + 1).split(',');
    const [ref, noiseB64, identityB64, advB64] = parts;
    const conn = ref ? this.pairingByRef.get(ref) : undefined;
    if (!conn?.pairing || !noiseB64 || !identityB64 || !advB64) throw new Error('unknown or expired QR');
    const pairing = conn.pairing;
    if (!Buffer.from(noiseB64, 'base64').equals(pairing.noiseKey))
      throw new Error('QR noise key does not match the connection');
    const identityKey = Buffer.from(identityB64, 'base64');
    const phone = opts.phone ?? this.inventPhone();
    let account = this.accountsByPhone.get(phone);
    if (!account) {
      account = {
        phone,
        lid: this.inventLid(),
        accountKey: generateRawKeyPair(),
        devices: new Map(),
        nextDeviceId: 1,
        sent: [],
        silent: false,
      };
      this.accountsByPhone.set(phone, account);
    }
    const deviceId = account.nextDeviceId++;
    const deviceDetails = proto.ADVDeviceIdentity.encode({
      rawId: randomInt(1, 2 ** 31),
      timestamp: Math.floor(Date.now() / 1000),
      keyIndex: deviceId,
    }).finish();
    const accountSignature = signRaw(
      account.accountKey.private,
      Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, deviceDetails, identityKey]),
    );
    const details = proto.ADVSignedDeviceIdentity.encode({
      details: deviceDetails,
      accountSignatureKey: account.accountKey.public,
      accountSignature,
    }).finish();
    const hmac = createHmac('sha256', Buffer.from(advB64, 'base64')).update(details).digest();
    const identityHmac = proto.ADVSignedDeviceIdentityHMAC.encode({ details, hmac }).finish();
    const reply = await this.query(conn, {
      tag: 'iq',
      attrs: { from: S_WHATSAPP_NET, type: 'set', t: now() },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            { tag: 'device-identity', attrs: {}, content: identityHmac },
            { tag: 'platform', attrs: { name: 'smbi' } },
            {
              tag: 'device',
              attrs: { jid: `${phone}:${deviceId}@${S_WHATSAPP_NET}`, lid: `${account.lid}:${deviceId}@lid` },
            },
          ],
        },
      ],
    });
    if (!getBinaryNodeChild(reply, 'pair-device-sign')) throw new Error('client rejected pairing');
    account.devices.set(deviceId, {
      id: deviceId,
      noiseKey: pairing.noiseKey,
      identityKey: pairing.identityKey,
      registrationId: pairing.registrationId,
      signedPreKey: pairing.signedPreKey,
      preKeys: new Map(),
      offline: [],
      // As the phone does after a link: history follows the first login (one empty chunk when none is given).
      history: [...(opts.history ?? [{ conversations: [], progress: 100 }])],
      historyUnacked: new Map(),
    });
    for (const r of pairing.refs) this.pairingByRef.delete(r);
    conn.pairing = undefined;
    this.emit('pair', { phone, lid: account.lid, device: deviceId });
    this.streamError(conn, 'restart_required');
    return { phone, lid: account.lid };
  }

  /** A simulated contact sends a Signal-encrypted text to every device of the account. Returns the message id. */
  async deliverText(opts: {
    toPhone: string;
    fromPhone: string;
    text: string;
    id?: string;
    pushName?: string;
    /**
     * How the stanza names the sender: `pn` (default: `from` phone JID + `sender_lid`), `lid` (`from` LID +
     * `sender_pn`, `addressing_mode="lid"`), `lid-only` (`from` LID, no phone anywhere).
     */
    addressing?: SenderAddressing;
  }): Promise<string> {
    const account = this.mustAccount(opts.toPhone);
    const peer = this.contact(opts.fromPhone);
    const id = opts.id ?? `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    if (account.devices.size === 0) throw new Error(`account ${account.phone} has no devices`);
    for (const device of account.devices.values()) {
      const address = this.deviceAddress(account);
      if (!peer.hasSession(`${address}.${device.id}`)) {
        const bundle = this.takeDeviceBundle(device);
        await peer.initSession(address, device.id, bundle);
      }
      const { type, ciphertext } = await peer.encrypt(address, device.id, { conversation: opts.text });
      const stanza: BinaryNode = {
        tag: 'message',
        attrs: {
          ...senderAttrs(peer, opts.addressing ?? 'pn'),
          id,
          t: now(),
          type: 'text',
          notify: opts.pushName ?? `Contact ${peer.phone}`,
        },
        content: [{ tag: 'enc', attrs: { v: '2', type }, content: ciphertext }],
      };
      const live = this.liveConns(account).filter((c) => c.device === device);
      if (live.length) for (const c of live) this.send(c, stanza);
      // Queued for a device with no connection: delivered after its next <success>, marked offline (as WhatsApp does).
      else device.offline.push({ ...stanza, attrs: { ...stanza.attrs, offline: '1' } });
    }
    return id;
  }

  /** The account's phone sends a history chunk to every live device now (e.g. a duplicate or a RECENT chunk). */
  async sendHistory(accountPhone: string, chunk: HistoryChunkSpec): Promise<void> {
    const account = this.mustAccount(accountPhone);
    for (const c of this.liveConns(account))
      await this.sendFromPhone(c, historyNotification(chunk, account.phone));
  }

  /**
   * A contact sends a text the device cannot decrypt (ciphertext no session opens, as after lost keys). The client
   * answers with a retry receipt; with `mode: 'recover'` the contact then re-sends it properly (same id), with
   * `'never'` every re-send is broken again. Needs an established session (deliver one normal text first).
   */
  async deliverUndecryptable(opts: {
    toPhone: string;
    fromPhone: string;
    text: string;
    mode: UndecryptableMode;
    id?: string;
  }): Promise<string> {
    const id = opts.id ?? `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    this.undecryptable.set(id, {
      accountPhone: opts.toPhone,
      fromPhone: opts.fromPhone,
      text: opts.text,
      mode: opts.mode,
      retries: 0,
    });
    await this.sendContactText(opts.toPhone, opts.fromPhone, opts.text, id, true);
    return id;
  }

  /** Retry receipts the client sent for a message id (each asks the sender to encrypt it again). */
  retryReceipts(messageId: string): number {
    return this.undecryptable.get(messageId)?.retries ?? 0;
  }

  /** Encrypts a text from a contact to every live device of the account, optionally with a broken MAC. */
  private async sendContactText(
    toPhone: string,
    fromPhone: string,
    text: string,
    id: string,
    broken: boolean,
    retryCount?: number,
  ): Promise<void> {
    const account = this.mustAccount(toPhone);
    const peer = this.contact(fromPhone);
    const address = this.deviceAddress(account);
    for (const c of this.liveConns(account)) {
      const device = c.device!;
      if (!peer.hasSession(`${address}.${device.id}`))
        throw new Error('no session with the device yet: deliver a normal text first');
      const { type, ciphertext } = broken
        ? undecryptableCiphertext()
        : await peer.encrypt(address, device.id, { conversation: text });
      const enc: BinaryNode = {
        tag: 'enc',
        attrs: { v: '2', type, ...(retryCount ? { count: String(retryCount) } : {}) },
        content: ciphertext,
      };
      this.send(c, {
        tag: 'message',
        attrs: {
          from: `${peer.phone}@${S_WHATSAPP_NET}`,
          sender_lid: `${peer.lid}@lid`,
          id,
          t: now(),
          type: 'text',
          notify: `Contact ${peer.phone}`,
        },
        content: [enc],
      });
    }
  }

  /** A retry receipt from the client: the contact re-sends the message (properly or not, per its mode). */
  private async onRetryReceipt(node: BinaryNode): Promise<void> {
    const id = node.attrs.id ?? '';
    const pending = this.undecryptable.get(id);
    if (!pending) return;
    pending.retries++;
    const broken = pending.mode === 'never';
    await this.sendContactText(
      pending.accountPhone,
      pending.fromPhone,
      pending.text,
      id,
      broken,
      pending.retries,
    );
  }

  /** A contact creates a group with the given members (phones; accounts among them get a w:gp2 create notification). */
  createGroup(opts: { creatorPhone: string; subject: string; participants: string[] }): { id: string } {
    this.contact(opts.creatorPhone);
    const g = this.groups.create(
      opts.subject,
      `${opts.creatorPhone}@${S_WHATSAPP_NET}`,
      opts.participants.map((p) => `${p}@${S_WHATSAPP_NET}`),
    );
    this.notifyGroup(g.id, this.groups.createdNotification(g));
    return { id: g.id };
  }

  /** `actorPhone` adds/removes/promotes/demotes members of a group; the members' devices get the w:gp2 notification. */
  changeGroup(opts: {
    groupId: string;
    action: ParticipantAction;
    phones: string[];
    actorPhone: string;
  }): string[] {
    const done = this.groups.change(
      opts.groupId,
      opts.action,
      opts.phones.map((p) => `${p}@${S_WHATSAPP_NET}`),
    );
    const g = this.groups.get(opts.groupId);
    const node = this.groups.notification(g, opts.action, done, `${opts.actorPhone}@${S_WHATSAPP_NET}`);
    // a removed account hears of its removal too
    this.notifyGroup(g.id, node, opts.action === 'remove' ? done : []);
    return done;
  }

  /** A contact sends a text to a group: a 1:1 pkmsg/msg with its sender key plus the skmsg, to every account member. */
  async deliverGroupText(opts: {
    groupId: string;
    fromPhone: string;
    text: string;
    id?: string;
    pushName?: string;
    /** Phones mentioned: as phone JIDs, or (with `addressing: 'lid'`, as WhatsApp does in LID groups) as LIDs. */
    mentions?: string[];
    /** `pn` (default): participant = phone JID + `participant_lid`; `lid`: participant = LID + `participant_pn`. */
    addressing?: 'pn' | 'lid';
  }): Promise<string> {
    const g = this.groups.get(opts.groupId);
    const peer = this.contact(opts.fromPhone);
    const id = opts.id ?? `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    const message: proto.IMessage = opts.mentions?.length
      ? {
          extendedTextMessage: {
            text: opts.text,
            contextInfo: {
              mentionedJid: opts.mentions.map((p) =>
                opts.addressing === 'lid' ? `${this.lidOfPhone(p)}@lid` : `${p}@${S_WHATSAPP_NET}`,
              ),
            },
          },
        }
      : { conversation: opts.text };
    const { distribution, skmsg } = await this.groups.encryptFrom(g.id, peer.phone, message);
    for (const member of g.participants.keys()) {
      const account = this.accountsByPhone.get(userOf(member));
      if (!account) continue;
      for (const device of account.devices.values()) {
        const { type, ciphertext } = await this.encryptFromPeer(account, device, peer, distribution);
        this.deliver(account, device, {
          tag: 'message',
          attrs: {
            from: g.id,
            ...(opts.addressing === 'lid'
              ? { participant: `${peer.lid}@lid`, participant_pn: `${peer.phone}@${S_WHATSAPP_NET}` }
              : { participant: `${peer.phone}@${S_WHATSAPP_NET}`, participant_lid: `${peer.lid}@lid` }),
            id,
            t: now(),
            type: 'text',
            notify: opts.pushName ?? `Contact ${peer.phone}`,
          },
          content: [
            { tag: 'enc', attrs: { v: '2', type }, content: ciphertext },
            { tag: 'enc', attrs: { v: '2', type: 'skmsg' }, content: skmsg },
          ],
        });
      }
    }
    return id;
  }

  /**
   * A contact sends a media item (image, video, document, audio; `ptt` = voice note): encrypted with a fresh media
   * key, stored on the media host, and announced in a 1:1 message with its url and hashes. Needs `media: true`.
   */
  async deliverMedia(opts: {
    toPhone: string;
    fromPhone: string;
    /** `sticker`: a WebP sticker (media keys "WhatsApp Image Keys", as WhatsApp uses for stickers). */
    kind: 'image' | 'video' | 'document' | 'audio' | 'sticker';
    data: Buffer;
    mimetype: string;
    fileName?: string;
    caption?: string;
    ptt?: boolean;
    id?: string;
  }): Promise<string> {
    if (!this.media) throw new Error('start the emulator with { media: true }');
    const account = this.mustAccount(opts.toPhone);
    const peer = this.contact(opts.fromPhone);
    const e = encryptMedia(opts.data, opts.kind);
    const common = {
      url: this.media.put(e.enc),
      mimetype: opts.mimetype,
      mediaKey: e.mediaKey,
      fileSha256: e.fileSha256,
      fileEncSha256: e.fileEncSha256,
      fileLength: e.fileLength,
      mediaKeyTimestamp: Math.floor(Date.now() / 1000),
    };
    const message: proto.IMessage =
      opts.kind === 'image'
        ? { imageMessage: { ...common, caption: opts.caption } }
        : opts.kind === 'video'
          ? { videoMessage: { ...common, caption: opts.caption } }
          : opts.kind === 'audio'
            ? { audioMessage: { ...common, ptt: !!opts.ptt, seconds: 1 } }
            : opts.kind === 'sticker'
              ? { stickerMessage: { ...common, width: 512, height: 512, isAnimated: false } }
              : { documentMessage: { ...common, fileName: opts.fileName ?? 'file', caption: opts.caption } };
    const id = opts.id ?? `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    for (const device of account.devices.values()) {
      const { type, ciphertext } = await this.encryptFromPeer(account, device, peer, message);
      this.deliver(account, device, {
        tag: 'message',
        attrs: { ...senderAttrs(peer, 'pn'), id, t: now(), type: 'media', notify: `Contact ${peer.phone}` },
        content: [{ tag: 'enc', attrs: { v: '2', type, mediatype: opts.kind }, content: ciphertext }],
      });
    }
    return id;
  }

  /** While on, every w:g2 query of the account is answered `429 rate-overlimit`. */
  setGroupRateLimit(accountPhone: string, on: boolean): void {
    this.groups.setRateLimited(accountPhone, on);
  }

  /** A simulated contact's LID user part (digits), inventing the contact on first use. */
  contactLid(phone: string): string {
    return this.contact(phone).lid;
  }

  /** The LID (digits) of a phone: an account's own, else the (possibly new) contact's. */
  private lidOfPhone(phone: string): string {
    return this.accountsByPhone.get(phone.replace(/\D/g, ''))?.lid ?? this.contact(phone).lid;
  }

  /** The contact a message was sent to reports it delivered or read. */
  sendReceipt(opts: { accountPhone: string; messageId: string; type: 'delivered' | 'read' }): void {
    const account = this.mustAccount(opts.accountPhone);
    const sent = account.sent.find((m) => m.id === opts.messageId);
    if (!sent) throw new Error(`no sent message ${opts.messageId}`);
    const attrs: Record<string, string> = {
      from: `${sent.toPhone}@${S_WHATSAPP_NET}`,
      id: opts.messageId,
      t: now(),
    };
    if (opts.type === 'read') attrs.type = 'read';
    for (const c of this.liveConns(account)) this.send(c, { tag: 'receipt', attrs });
  }

  /** Sends a stream error to every live connection of the account, then closes them. */
  injectStreamError(accountPhone: string, kind: StreamErrorKind): void {
    const account = this.mustAccount(accountPhone);
    for (const c of this.liveConns(account)) {
      if (kind === 'device_removed' && c.device) account.devices.delete(c.device.id);
      this.streamError(c, kind);
    }
  }

  /** Abruptly terminates the account's connections (no stream error). */
  dropConnection(accountPhone: string): void {
    for (const c of this.liveConns(this.mustAccount(accountPhone))) c.ws.terminate();
  }

  /** While silent, the emulator ignores every stanza from the account (pings and iqs go unanswered). */
  setSilent(accountPhone: string, silent: boolean): void {
    this.mustAccount(accountPhone).silent = silent;
  }

  /**
   * The account's current connections go silent: the sockets stay open but nothing is answered or sent, as with a
   * half-dead TCP path. A new connection (the client's reconnect) works normally. Returns how many went silent.
   */
  silenceLiveConnections(accountPhone: string): number {
    const live = this.liveConns(this.mustAccount(accountPhone));
    for (const c of live) c.silent = true;
    return live.length;
  }

  /** Messages the account sent to simulated contacts, decrypted. */
  sentMessages(accountPhone: string): SentMessage[] {
    return [...(this.accountsByPhone.get(accountPhone)?.sent ?? [])];
  }

  /** Number of open, logged-in connections for the account. */
  liveConnections(accountPhone: string): number {
    const account = this.accountsByPhone.get(accountPhone);
    return account ? this.liveConns(account).length : 0;
  }

  /**
   * How many times a device of the account (all accounts when omitted) logged in while it already had a live
   * connection: each one is a second live login that WhatsApp would have answered with a 440 conflict.
   */
  conflicts(accountPhone?: string): number {
    return this.conflictLog.filter((c) => accountPhone === undefined || c.phone === accountPhone).length;
  }

  /** All accounts known to the emulator. */
  accounts(): AccountInfo[] {
    return [...this.accountsByPhone.values()].map((a) => ({
      phone: a.phone,
      lid: a.lid,
      devices: [...a.devices.keys()],
    }));
  }

  // ---------------------------------------------------------------- internals

  private mustAccount(phone: string): Account {
    const a = this.accountsByPhone.get(phone);
    if (!a) throw new Error(`unknown account ${phone}`);
    return a;
  }

  private inventPhone(): string {
    let p: string;
    do p = `1555${randomInt(1_000_000, 9_999_999)}`;
    while (this.accountsByPhone.has(p) || this.contacts.has(p));
    return p;
  }

  private inventLid(): string {
    return String(randomInt(10 ** 13, 2 ** 47));
  }

  private contact(phone: string): SignalPeer {
    const digits = phone.replace(/\D/g, '');
    let peer = this.contacts.get(digits);
    if (!peer) {
      peer = new SignalPeer(digits, this.inventLid());
      this.contacts.set(digits, peer);
      this.contactsByLid.set(peer.lid, peer);
    }
    return peer;
  }

  /** Sends a stanza to the device's live connections, or queues it for its next login. */
  private deliver(account: Account, device: Device, stanza: BinaryNode): void {
    const live = this.liveConns(account).filter((c) => c.device === device);
    if (live.length) for (const c of live) this.send(c, stanza);
    else device.offline.push(stanza);
  }

  /** Encrypts a message from a contact to one device of the account (starting the session on first use). */
  private async encryptFromPeer(
    account: Account,
    device: Device,
    peer: SignalPeer,
    message: proto.IMessage,
  ): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Buffer }> {
    const address = this.deviceAddress(account);
    if (!peer.hasSession(`${address}.${device.id}`)) {
      await peer.initSession(address, device.id, this.takeDeviceBundle(device));
    }
    return peer.encrypt(address, device.id, message);
  }

  /** Sends a group notification to every account member's devices (plus `alsoTo`, e.g. members just removed). */
  private notifyGroup(groupId: string, node: BinaryNode, alsoTo: string[] = []): void {
    const g = this.groups.get(groupId);
    const members = new Set([...g.participants.keys(), ...alsoTo]);
    for (const m of members) {
      const account = this.accountsByPhone.get(userOf(m));
      if (!account) continue;
      for (const device of account.devices.values()) this.deliver(account, device, node);
    }
  }

  /** A w:g2 iq: the group directory answers; a refusal (429, 404, 403) is an error iq. */
  private onGroupIq(conn: Conn, iq: BinaryNode, account: Account): void {
    try {
      const r = this.groups.answer(`${account.phone}@${S_WHATSAPP_NET}`, iq);
      this.result(conn, iq, r.content);
      for (const n of r.notify ?? []) this.notifyGroup(n.group.id, n.node);
    } catch (e) {
      if (!(e instanceof IqError)) throw e;
      this.send(conn, {
        tag: 'iq',
        attrs: { from: iq.attrs.to ?? S_WHATSAPP_NET, type: 'error', id: iq.attrs.id ?? '' },
        content: [{ tag: 'error', attrs: { code: String(e.code), text: e.text } }],
      });
    }
  }

  /** A group message from the account: the sender key from a member's pkmsg/msg, then the skmsg decrypted. */
  private async onGroupMessage(
    conn: Conn,
    node: BinaryNode,
    account: Account,
    device: Device,
  ): Promise<void> {
    const group = node.attrs.to ?? '';
    const id = node.attrs.id ?? '';
    let record: SentMessage = { to: group, toPhone: '', id, group };
    try {
      for (const t of getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to')) {
        const peer = t.attrs.jid ? this.findPeer(t.attrs.jid) : undefined;
        const enc = getBinaryNodeChild(t, 'enc');
        if (!peer || !(enc?.content instanceof Uint8Array)) continue;
        const msg = await peer.decrypt(
          this.deviceAddress(account),
          device.id,
          enc.attrs.type ?? 'msg',
          Buffer.from(enc.content),
        );
        const skdm = msg.senderKeyDistributionMessage?.axolotlSenderKeyDistributionMessage;
        if (skdm) await this.groups.acceptDistribution(group, account.phone, skdm);
      }
      const sk = getBinaryNodeChildren(node, 'enc').find((e) => e.attrs.type === 'skmsg');
      if (!(sk?.content instanceof Uint8Array)) throw new Error('no skmsg in the group message');
      const message = await this.groups.decryptFrom(group, account.phone, sk.content);
      const text = message.conversation ?? message.extendedTextMessage?.text ?? undefined;
      record = { ...record, text: text ?? undefined, message };
    } catch (e) {
      record = { ...record, error: e instanceof Error ? e.message : String(e) };
    }
    account.sent.push(record);
    this.emit('sent', { ...record, accountPhone: account.phone });
    const attrs: Record<string, string> = { class: 'message', id, from: group, t: now() };
    if (record.error) attrs.error = '479';
    this.send(conn, { tag: 'ack', attrs });
  }

  private deviceAddress(account: Account): string {
    return `${account.lid}_1`;
  }

  private takeDeviceBundle(device: Device): PreKeyBundle {
    const first = device.preKeys.entries().next();
    if (first.done) throw new Error('device has no uploaded prekeys (has it logged in since pairing?)');
    const [keyId, pub] = first.value;
    device.preKeys.delete(keyId);
    return {
      registrationId: device.registrationId,
      identityKey: withPrefix(device.identityKey),
      signedPreKey: {
        keyId: device.signedPreKey.keyId,
        publicKey: withPrefix(device.signedPreKey.publicKey),
        signature: device.signedPreKey.signature,
      },
      preKey: { keyId, publicKey: withPrefix(pub) },
    };
  }

  /** Sends the history a device is owed once it can be encrypted to (after its login and its prekey upload). */
  private async flushHistory(conn: Conn): Promise<void> {
    const { account, device } = conn;
    if (!account || !device || device.history.length === 0 || device.preKeys.size === 0) return;
    for (const chunk of device.history.splice(0)) {
      const id = await this.sendFromPhone(conn, historyNotification(chunk, account.phone));
      device.historyUnacked.set(id, chunk);
      this.emit('history', { phone: account.phone, device: device.id, id });
    }
  }

  /** A Signal-encrypted 1:1 message from the account's own phone (device 0) to the connection's device. */
  private async sendFromPhone(conn: Conn, message: proto.IMessage): Promise<string> {
    const account = conn.account!;
    const device = conn.device!;
    account.phonePeer ??= new SignalPeer(account.phone, account.lid);
    const peer = account.phonePeer;
    const address = this.deviceAddress(account);
    if (!peer.hasSession(`${address}.${device.id}`))
      await peer.initSession(address, device.id, this.takeDeviceBundle(device));
    const { type, ciphertext } = await peer.encrypt(address, device.id, message);
    const id = `3EB0${randomBytes(9).toString('hex').toUpperCase()}`;
    this.send(conn, {
      tag: 'message',
      attrs: {
        from: `${account.phone}@${S_WHATSAPP_NET}`,
        sender_lid: `${account.lid}@lid`,
        id,
        t: now(),
        type: 'text',
        category: 'peer',
      },
      content: [{ tag: 'enc', attrs: { v: '2', type }, content: ciphertext }],
    });
    return id;
  }

  private liveConns(account: Account): Conn[] {
    return [...this.conns].filter(
      (c) => c.account === account && c.stage === 'open' && c.device && c.ws.readyState === c.ws.OPEN,
    );
  }

  private onConnection(ws: WebSocket): void {
    const conn: Conn = {
      ws,
      noise: new NoiseResponder(this.staticKey, this.certChain, NOISE_WA_HEADER),
      stage: 'hello',
      chain: Promise.resolve(),
      pending: new Map(),
      nextId: 1,
    };
    this.conns.add(conn);
    ws.on('message', (data: Buffer) => {
      // A frame that cannot be read leaves the stream out of step: recorded, and the socket is closed.
      conn.chain = conn.chain
        .then(() => this.onData(conn, data))
        .catch((err) => {
          this.fault('frame', conn, err);
          ws.terminate();
        });
    });
    ws.on('close', () => {
      this.conns.delete(conn);
      for (const r of conn.pairing?.refs ?? []) this.pairingByRef.delete(r);
    });
    ws.on('error', () => ws.terminate());
  }

  private async onData(conn: Conn, data: Buffer): Promise<void> {
    for (const frame of conn.noise.push(data)) {
      if (conn.stage === 'hello') {
        conn.ws.send(conn.noise.onClientHello(frame));
        conn.stage = 'finish';
      } else if (conn.stage === 'finish') {
        const { clientStatic, payload } = conn.noise.onClientFinish(frame);
        conn.stage = 'open';
        this.onClientPayload(conn, clientStatic, payload);
      } else {
        const node = await decodeBinaryNode(frame);
        if (conn.account?.silent || conn.silent) continue;
        // One node's failure does not stop the connection (as on WhatsApp); it is recorded with its tag.
        this.onNode(conn, node).catch((err) => this.fault('node', conn, err, node));
      }
    }
  }

  private onClientPayload(conn: Conn, clientStatic: Buffer, payload: proto.ClientPayload): void {
    const reg = payload.devicePairingData;
    if (reg) {
      const refs = [0, 1, 2].map(() => randomBytes(24).toString('base64'));
      conn.pairing = {
        refs,
        noiseKey: clientStatic,
        identityKey: Buffer.from(reg.eIdent ?? []),
        registrationId: beUInt(reg.eRegid),
        signedPreKey: {
          keyId: beUInt(reg.eSkeyId),
          publicKey: Buffer.from(reg.eSkeyVal ?? []),
          signature: Buffer.from(reg.eSkeySig ?? []),
        },
      };
      for (const r of refs) this.pairingByRef.set(r, conn);
      this.send(conn, {
        tag: 'iq',
        attrs: { from: S_WHATSAPP_NET, type: 'set', xmlns: 'md', id: this.nextId(conn) },
        content: [
          {
            tag: 'pair-device',
            attrs: {},
            content: refs.map((r) => ({ tag: 'ref', attrs: {}, content: Buffer.from(r) })),
          },
        ],
      });
      return;
    }
    const phone = payload.username != null ? String(payload.username) : '';
    const account = this.accountsByPhone.get(phone);
    const device = account?.devices.get(payload.device ?? 0);
    if (!account || !device?.noiseKey.equals(clientStatic)) {
      this.send(conn, { tag: 'failure', attrs: { reason: '401', location: 'emulator' } });
      setTimeout(() => conn.ws.close(), 50);
      return;
    }
    // As WhatsApp does: a device logged in twice keeps the newer socket and ends the older with a 440 conflict.
    const older = this.liveConns(account).filter((c) => c !== conn && c.device === device);
    conn.account = account;
    conn.device = device;
    for (const c of older) {
      this.conflictLog.push({ phone, device: device.id, at: Date.now() });
      this.emit('conflict', { phone, device: device.id });
      this.streamError(c, 'conflict');
    }
    this.send(conn, {
      tag: 'success',
      attrs: { t: now(), lid: `${account.lid}@lid`, location: 'emulator', creation: now() },
    });
    // History a previous connection never acknowledged goes again (first, in its order).
    device.history.unshift(...device.historyUnacked.values());
    device.historyUnacked.clear();
    const queued = device.offline.splice(0);
    for (const n of queued) this.send(conn, n);
    this.send(conn, {
      tag: 'ib',
      attrs: { from: S_WHATSAPP_NET },
      content: [{ tag: 'offline', attrs: { count: String(queued.length) } }],
    });
    this.emit('login', { phone, device: device.id });
    void this.flushHistory(conn).catch((err) => this.historyFailed(conn, err));
  }

  /** Records a fault (with the connection's account and the node's tag) and emits it as `fault`. */
  private fault(where: EmulatorFault['where'], conn: Conn, err: unknown, node?: BinaryNode): void {
    const f: EmulatorFault = {
      where,
      phone: conn.account?.phone ?? null,
      tag: node?.tag ?? null,
      message: err instanceof Error ? err.message : String(err),
    };
    this.faults.push(f);
    this.emit('fault', f);
  }

  /** History that cannot be delivered: recorded, and the socket closed (the client reconnects and gets it again). */
  private historyFailed(conn: Conn, err: unknown): void {
    this.fault('history', conn, err);
    conn.ws.terminate();
  }

  private nextId(conn: Conn): string {
    return `emu-${conn.nextId++}`;
  }

  private send(conn: Conn, node: BinaryNode): void {
    if (conn.ws.readyState !== conn.ws.OPEN || conn.silent) return;
    conn.ws.send(conn.noise.frame(Buffer.from(encodeBinaryNode(node))));
  }

  private query(conn: Conn, node: BinaryNode, timeoutMs = 10_000): Promise<BinaryNode> {
    const id = this.nextId(conn);
    node.attrs.id = id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.pending.delete(id);
        reject(new Error(`client did not answer ${node.tag} ${id}`));
      }, timeoutMs);
      conn.pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(conn, node);
    });
  }

  private streamError(conn: Conn, kind: StreamErrorKind): void {
    const node: BinaryNode =
      kind === 'conflict'
        ? { tag: 'stream:error', attrs: {}, content: [{ tag: 'conflict', attrs: { type: 'replaced' } }] }
        : kind === 'device_removed'
          ? {
              tag: 'stream:error',
              attrs: { code: '401' },
              content: [{ tag: 'conflict', attrs: { type: 'device_removed' } }],
            }
          : { tag: 'stream:error', attrs: { code: '515' } };
    this.send(conn, node);
    setTimeout(() => {
      if (conn.ws.readyState === conn.ws.OPEN) conn.ws.close();
    }, 200);
  }

  private result(conn: Conn, req: BinaryNode, content?: BinaryNode[]): void {
    this.send(conn, {
      tag: 'iq',
      attrs: { from: S_WHATSAPP_NET, type: 'result', id: req.attrs.id ?? '' },
      content,
    });
  }

  private async onNode(conn: Conn, node: BinaryNode): Promise<void> {
    const id = node.attrs.id;
    if (
      node.tag === 'iq' &&
      (node.attrs.type === 'result' || node.attrs.type === 'error') &&
      id &&
      conn.pending.has(id)
    ) {
      const cb = conn.pending.get(id)!;
      conn.pending.delete(id);
      cb(node);
      return;
    }
    if (node.tag === 'iq') return this.onIq(conn, node);
    if (node.tag === 'message') return this.onMessage(conn, node);
    if (node.tag === 'receipt' && node.attrs.type === 'retry') return this.onRetryReceipt(node);
    if (node.tag === 'receipt' && node.attrs.type === 'hist_sync')
      conn.device?.historyUnacked.delete(node.attrs.id ?? '');
    // acks, receipts, presence, ib telemetry: nothing to answer.
  }

  private onIq(conn: Conn, iq: BinaryNode): void {
    if (iq.attrs.xmlns === 'w:g2' && conn.account) this.onGroupIq(conn, iq, conn.account);
    else this.result(conn, iq, this.answerIq(conn, iq));
    // A prekey upload makes the device reachable: history it is owed can go now.
    if (iq.attrs.xmlns === 'encrypt' && iq.attrs.type === 'set')
      void this.flushHistory(conn).catch((err) => this.historyFailed(conn, err));
  }

  /** Content of the result for a client iq (undefined: an empty result). */
  private answerIq(conn: Conn, iq: BinaryNode): BinaryNode[] | undefined {
    const xmlns = iq.attrs.xmlns;
    const first = kids(iq)[0];
    const device = conn.device;
    const account = conn.account;
    if (xmlns === 'encrypt' && device && account) {
      if (first?.tag === 'count') return [{ tag: 'count', attrs: { value: String(device.preKeys.size) } }];
      if (first?.tag === 'digest') return [this.digestNode(device)];
      if (first?.tag === 'key') return [{ tag: 'list', attrs: {}, content: this.bundlesFor(kids(first)) }];
      if (first?.tag === 'rotate') {
        const skey = getBinaryNodeChild(first, 'skey');
        if (skey) device.signedPreKey = this.parseSkey(skey);
        return undefined;
      }
      if (iq.attrs.type === 'set' && getBinaryNodeChild(iq, 'list')) {
        device.registrationId = beUInt(childBuf(iq, 'registration')) || device.registrationId;
        device.identityKey = childBuf(iq, 'identity') ?? device.identityKey;
        for (const k of getBinaryNodeChildren(getBinaryNodeChild(iq, 'list'), 'key')) {
          const value = childBuf(k, 'value');
          if (value) device.preKeys.set(beUInt(childBuf(k, 'id')), value);
        }
        const skey = getBinaryNodeChild(iq, 'skey');
        if (skey) device.signedPreKey = this.parseSkey(skey);
        return undefined;
      }
    }
    if (xmlns === 'usync' && account) return this.usyncResult(iq, account);
    if (xmlns === 'w:sync:app:state') return appStateSyncResult(iq);
    if (xmlns === 'w:m' && first?.tag === 'media_conn' && this.media) return [this.media.mediaConnNode()];
    if (xmlns === 'abt') return [{ tag: 'props', attrs: { protocol: '1' } }];
    if (xmlns === 'blocklist' && iq.attrs.type === 'get') return [{ tag: 'list', attrs: {} }];
    if (xmlns === 'privacy' && iq.attrs.type === 'get') return [{ tag: 'privacy', attrs: {} }];
    if (xmlns === 'md' && first?.tag === 'remove-companion-device' && account && device) {
      account.devices.delete(device.id);
      setTimeout(() => conn.ws.close(), 50);
      return undefined;
    }
    // w:p pings, passive/active, w:stats and everything else: an empty result.
    return undefined;
  }

  private parseSkey(skey: BinaryNode): Device['signedPreKey'] {
    return {
      keyId: beUInt(childBuf(skey, 'id')),
      publicKey: childBuf(skey, 'value') ?? Buffer.alloc(32),
      signature: childBuf(skey, 'signature') ?? Buffer.alloc(64),
    };
  }

  private digestNode(device: Device): BinaryNode {
    return {
      tag: 'digest',
      attrs: {},
      content: [
        { tag: 'type', attrs: {}, content: Buffer.from([5]) },
        { tag: 'registration', attrs: {}, content: be(device.registrationId, 4) },
        { tag: 'identity', attrs: {}, content: device.identityKey },
        {
          tag: 'skey',
          attrs: {},
          content: [{ tag: 'id', attrs: {}, content: be(device.signedPreKey.keyId, 3) }],
        },
        {
          tag: 'list',
          attrs: {},
          content: [...device.preKeys.keys()].map((k) => ({ tag: 'id', attrs: {}, content: be(k, 3) })),
        },
      ],
    };
  }

  private findPeer(jid: string): SignalPeer | undefined {
    const user = userOf(jid);
    if (jid.endsWith('@lid')) return this.contactsByLid.get(user);
    if (this.accountsByPhone.has(user)) return undefined;
    return this.contact(user);
  }

  private bundlesFor(users: BinaryNode[]): BinaryNode[] {
    const out: BinaryNode[] = [];
    for (const u of users) {
      const jid = u.attrs.jid;
      const peer = jid ? this.findPeer(jid) : undefined;
      if (!jid || !peer) continue;
      const b = peer.takeBundle();
      out.push({
        tag: 'user',
        attrs: { jid },
        content: [
          { tag: 'registration', attrs: {}, content: be(b.registrationId, 4) },
          { tag: 'type', attrs: {}, content: Buffer.from([5]) },
          { tag: 'identity', attrs: {}, content: b.identityKey.subarray(1) },
          {
            tag: 'skey',
            attrs: {},
            content: [
              { tag: 'id', attrs: {}, content: be(b.signedPreKey.keyId, 3) },
              { tag: 'value', attrs: {}, content: b.signedPreKey.publicKey.subarray(1) },
              { tag: 'signature', attrs: {}, content: b.signedPreKey.signature },
            ],
          },
          {
            tag: 'key',
            attrs: {},
            content: [
              { tag: 'id', attrs: {}, content: be(b.preKey.keyId, 3) },
              { tag: 'value', attrs: {}, content: b.preKey.publicKey.subarray(1) },
            ],
          },
        ],
      });
    }
    return out;
  }

  private usyncResult(iq: BinaryNode, account: Account): BinaryNode[] {
    const usync = getBinaryNodeChild(iq, 'usync');
    const protocols = new Set(kids(getBinaryNodeChild(usync, 'query')).map((n) => n.tag));
    const users: BinaryNode[] = [];
    for (const u of getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user')) {
      const contactChild = getBinaryNodeChild(u, 'contact');
      const phoneQuery =
        typeof contactChild?.content === 'string'
          ? contactChild.content
          : contactChild?.content instanceof Uint8Array
            ? Buffer.from(contactChild.content).toString()
            : undefined;
      const jid =
        u.attrs.jid ?? (phoneQuery ? `${phoneQuery.replace(/\D/g, '')}@${S_WHATSAPP_NET}` : undefined);
      if (!jid) continue;
      const user = userOf(jid);
      const isSelf = user === account.phone || user === account.lid;
      const peer = isSelf ? undefined : this.findPeer(jid);
      if (!isSelf && !peer) continue;
      const content: BinaryNode[] = [];
      if (protocols.has('devices')) {
        content.push({
          tag: 'devices',
          attrs: {},
          content: [
            { tag: 'device-list', attrs: {}, content: isSelf ? [] : [{ tag: 'device', attrs: { id: '0' } }] },
          ],
        });
      }
      if (protocols.has('lid') && peer && !jid.endsWith('@lid'))
        content.push({ tag: 'lid', attrs: { val: `${peer.lid}@lid` } });
      if (protocols.has('contact')) content.push({ tag: 'contact', attrs: { type: 'in' } });
      users.push({ tag: 'user', attrs: { jid }, content });
    }
    return [
      {
        tag: 'usync',
        attrs: { ...(usync?.attrs ?? {}), index: '0', last: 'true' },
        content: [
          { tag: 'result', attrs: {} },
          { tag: 'list', attrs: {}, content: users },
        ],
      },
    ];
  }

  private async onMessage(conn: Conn, node: BinaryNode): Promise<void> {
    const account = conn.account;
    const device = conn.device;
    const to = node.attrs.to ?? '';
    const id = node.attrs.id ?? '';
    if (!account || !device) return;
    if (to.endsWith('@g.us')) return this.onGroupMessage(conn, node, account, device);
    let error: string | undefined;
    const targets = getBinaryNodeChildren(getBinaryNodeChild(node, 'participants'), 'to');
    const peer = this.findPeer(to);
    if (peer) {
      let record: SentMessage | undefined;
      for (const t of targets) {
        const tPeer = t.attrs.jid ? this.findPeer(t.attrs.jid) : undefined;
        const enc = getBinaryNodeChild(t, 'enc');
        if (tPeer !== peer || !(enc?.content instanceof Uint8Array)) continue;
        try {
          const msg = await peer.decrypt(
            this.deviceAddress(account),
            device.id,
            enc.attrs.type ?? 'msg',
            Buffer.from(enc.content),
          );
          const text = msg.conversation ?? msg.extendedTextMessage?.text ?? undefined;
          record = {
            to,
            toPhone: peer.phone,
            text: text ?? undefined,
            id,
            message: msg,
            media: this.media?.open(msg),
          };
        } catch (e) {
          record = { to, toPhone: peer.phone, id, error: e instanceof Error ? e.message : String(e) };
        }
      }
      record ??= { to, toPhone: peer.phone, id, error: 'no encrypted payload for the recipient' };
      error = record.error;
      account.sent.push(record);
      this.emit('sent', { ...record, accountPhone: account.phone });
    }
    const attrs: Record<string, string> = { class: 'message', id, from: to, t: now() };
    if (error) attrs.error = '479';
    this.send(conn, { tag: 'ack', attrs });
  }
}
