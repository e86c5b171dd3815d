// The WhatsApp session against a fake socket emitting Baileys' own event shapes: login, every disconnect reason.
import { EventEmitter } from 'node:events';
import { Boom } from '@hapi/boom';
import {
  type AnyMessageContent,
  type ConnectionState,
  DisconnectReason,
  type proto,
  type UserFacingSocketConfig,
  type WAMessage,
} from 'baileys';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/gateway.js';
import type { ProviderEvent, SessionContext } from '../../ports/provider.js';
import { DISCONNECT_POLICY } from './disconnect-policy.js';
import { createWhatsAppProvider } from './index.js';
import { MemoryAuthStore } from './memory-auth.js';
import { type StoredMessageRef, type WaSocket, type WhatsAppKnobs, WhatsAppSession } from './session.js';

/** A socket that only emits what the test tells it to, in Baileys' shapes. */
class FakeSocket {
  readonly ev = new EventEmitter();
  user: { id: string; lid?: string } | undefined;
  ended = false;
  loggedOut = false;
  pingFails = false;
  readonly sent: Array<{ jid: string; content: AnyMessageContent; opts: Record<string, unknown> }> = [];
  readonly presence: string[] = [];
  readonly read: unknown[] = [];

  constructor(readonly config: UserFacingSocketConfig) {}

  emit(event: string, arg: unknown): void {
    this.ev.emit(event, arg);
  }
  update(u: Partial<ConnectionState>): void {
    this.emit('connection.update', u);
  }
  open(phone = '15550001111'): void {
    this.user = { id: `${phone}:7@s.whatsapp.net`, lid: '123456789:7@lid' };
    // as after a pairing: Baileys keeps the device identity in the creds
    this.config.auth.creds.me = { id: this.user.id, lid: this.user.lid };
    this.config.auth.creds.account = { details: Buffer.from([1]), accountSignature: Buffer.from([2]) };
    this.update({ connection: 'open' });
  }
  close(statusCode: number): void {
    this.update({
      connection: 'close',
      lastDisconnect: { error: new Boom('Connection Failure', { statusCode }), date: new Date() },
    });
  }
  end(): void {
    this.ended = true;
  }
  async logout(): Promise<void> {
    this.loggedOut = true;
  }
  async sendMessage(jid: string, content: AnyMessageContent, opts: Record<string, unknown>) {
    this.sent.push({ jid, content, opts });
    const text = (content as { text?: string }).text;
    return {
      key: { remoteJid: jid, id: String(opts.messageId), fromMe: true },
      message: text ? { conversation: text } : {},
      messageTimestamp: 1_700_000_000,
    } as WAMessage;
  }
  async requestPairingCode(phone: string): Promise<string> {
    return `PC${phone.slice(-6)}`;
  }
  async readMessages(keys: unknown[]): Promise<void> {
    this.read.push(...keys);
  }
  readonly groups: Array<{ subject: string; participants: string[] }> = [];
  async groupCreate(subject: string, participants: string[]): Promise<{ id: string; subject: string }> {
    this.groups.push({ subject, participants });
    return { id: '120363999000111222@g.us', subject };
  }
  async sendPresenceUpdate(p: string, jid: string): Promise<void> {
    this.presence.push(`${p}:${jid}`);
  }
  /** Pings sent; `pingCloses`: the socket closes under the ping (Baileys rejects it with 428). */
  pings = 0;
  pingCloses = false;
  async query(): Promise<unknown> {
    this.pings++;
    if (this.pingCloses) throw new Boom('Connection Closed', { statusCode: 428 });
    if (this.pingFails) throw new Boom('Timed Out', { statusCode: 408 });
    return { tag: 'iq', attrs: { type: 'result' } };
  }
}

const KNOBS: WhatsAppKnobs = {
  version: [2, 3000, 1],
  maxReconnectAttempts: 3,
  healthCheckIntervalMs: 0,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  connectTimeoutMs: 1000,
  keepAliveIntervalMs: 1000,
  maxMediaBytes: 1024,
  historyDays: 0,
  decryptRetryMs: 50,
};

describe('WhatsApp session (fake Baileys socket)', () => {
  const auth = new MemoryAuthStore();
  const open: WhatsAppSession[] = [];
  let n = 0;

  afterEach(async () => {
    for (const s of open.splice(0)) await s.stop();
  });

  const setup = async (
    opts: {
      knobs?: Partial<WhatsAppKnobs>;
      owns?: boolean;
      stored?: Record<string, StoredMessageRef>;
      id?: string;
      previous?: SessionContext['previous'];
      auth?: MemoryAuthStore;
    } = {},
  ) => {
    const inst = { id: opts.id ?? `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
    const events: ProviderEvent[] = [];
    const sockets: FakeSocket[] = [];
    const contacts: Array<{ contact_id: string; phone: string | null }> = [];
    const warnings: string[] = [];
    const ctx: SessionContext = {
      instanceId: inst.id,
      companyId: 'wa-sess',
      previous: opts.previous ?? { auth_status: 'pending', account: null },
      settings: {},
      emit: async (e) => {
        events.push(e);
      },
      logger: {
        debug() {},
        info() {},
        warn(_obj, msg) {
          warnings.push(msg ?? '');
        },
        error() {},
      },
    };
    const session = new WhatsAppSession({
      ctx,
      auth: opts.auth ?? auth,
      knobs: { ...KNOBS, ...opts.knobs },
      makeSocket: (config) => {
        const s = new FakeSocket(config);
        sockets.push(s);
        return s as unknown as WaSocket;
      },
      findMessage: async (_i, id) => opts.stored?.[id] ?? null,
      upsertContact: async (c) => {
        contacts.push(c);
      },
      ownsSession: async () => opts.owns ?? true,
      fetchMedia: async () => Buffer.alloc(10, 1),
      downloadMedia: async (raw) => Buffer.from(`bytes of ${raw.key.id}`),
      random: () => 0.5,
    });
    open.push(session);
    await session.start();
    const last = () => sockets[sockets.length - 1]!;
    const authStatuses = () => events.flatMap((e) => (e.type === 'auth' ? [e.auth_status] : []));
    /** Pairs via QR and opens, the way Baileys does it (QR, pair success, 515, reconnect, open). */
    const login = async () => {
      last().update({ qr: '2@ref,noise,identity,adv' });
      last().emit('creds.update', {});
      const s = await auth.loadCreds(inst.id);
      expect(s).not.toBeNull();
      return last();
    };
    return { id: inst.id, session, events, sockets, last, authStatuses, login, contacts, warnings };
  };

  /** A session logged in with saved creds and an open socket. */
  const connected = async (opts: Parameters<typeof setup>[0] = {}) => {
    const t = await setup(opts);
    t.last().open();
    await eventually(() => t.authStatuses().includes('client_ready'));
    return t;
  };

  it('passes every QR rotation on, and a scan (new login, 515, open) ends in client_ready with the phone', async () => {
    const t = await setup();
    expect(
      t.sockets[0]!.config.shouldSyncHistoryMessage?.({} as proto.Message.IHistorySyncNotification),
    ).toBe(false);
    t.last().update({ qr: 'qr-1' });
    t.last().update({ qr: 'qr-2' });
    await eventually(() => t.events.filter((e) => e.type === 'qr').length === 2);
    expect(t.events.filter((e) => e.type === 'qr').map((e) => (e as { qr: string }).qr)).toEqual([
      'qr-1',
      'qr-2',
    ]);
    // Baileys sets creds.me on pair success, emits creds.update and isNewLogin, then closes with 515
    t.sockets[0]!.config.auth.creds.me = { id: '15550001111:7@s.whatsapp.net' };
    t.last().emit('creds.update', { me: t.sockets[0]!.config.auth.creds.me });
    t.last().update({ isNewLogin: true, qr: undefined });
    await eventually(() => t.authStatuses().includes('authenticated'));
    t.last().close(DisconnectReason.restartRequired);
    await eventually(() => t.sockets.length === 2);
    expect(t.authStatuses()).not.toContain('reconnecting');
    t.last().open();
    await eventually(() => t.authStatuses().includes('client_ready'));
    expect(t.events.at(-1)).toEqual({
      type: 'auth',
      auth_status: 'client_ready',
      account: '15550001111@s.whatsapp.net',
    });
    await eventually(async () => (await auth.loadCreds(t.id))?.me?.id === '15550001111:7@s.whatsapp.net');
  });

  it('an unscanned QR series that WhatsApp ends (408) just starts a new one, without "reconnecting"', async () => {
    const t = await setup();
    t.last().update({ qr: 'qr-1' });
    t.last().close(DisconnectReason.timedOut);
    await eventually(() => t.sockets.length === 2);
    t.last().update({ qr: 'qr-2' });
    await eventually(() => t.events.filter((e) => e.type === 'qr').length === 2);
    expect(t.authStatuses()).toEqual([]);
  });

  it('has a rule for every DisconnectReason', () => {
    for (const code of Object.values(DisconnectReason).filter((v) => typeof v === 'number')) {
      expect(DISCONNECT_POLICY[code as number], `code ${code}`).toBeDefined();
    }
  });

  it('515 after login reconnects at once', async () => {
    const t = await connected();
    t.last().close(DisconnectReason.restartRequired);
    await eventually(() => t.sockets.length === 2);
    expect(t.authStatuses().at(-1)).toBe('reconnecting');
    expect(t.sockets[0]!.ended || true).toBe(true);
  });

  for (const code of [
    DisconnectReason.connectionClosed,
    DisconnectReason.connectionLost,
    DisconnectReason.timedOut,
    DisconnectReason.unavailableService,
  ]) {
    it(`${code} reconnects with backoff, and gives up after MAX_RECONNECT_ATTEMPTS with reconnect_failed`, async () => {
      const t = await connected();
      t.last().close(code);
      await eventually(() => t.sockets.length === 2);
      expect(t.authStatuses().at(-1)).toBe('reconnecting');
      // a successful open resets the attempt counter
      t.last().open();
      await eventually(() => t.authStatuses().filter((s) => s === 'client_ready').length === 2);
      for (let i = 0; i < KNOBS.maxReconnectAttempts; i++) {
        const n = t.sockets.length;
        t.last().close(code);
        await eventually(() => t.sockets.length === n + 1);
      }
      t.last().close(code);
      await eventually(() => t.events.some((e) => e.type === 'reconnect_failed'));
      expect(t.events.find((e) => e.type === 'reconnect_failed')).toEqual({
        type: 'reconnect_failed',
        attempts: KNOBS.maxReconnectAttempts,
      });
      expect(t.authStatuses().at(-1)).toBe('failed');
      expect(t.sockets.length).toBe(2 + KNOBS.maxReconnectAttempts);
    });
  }

  it('401 logged out: wipes the auth state, reports logged_out, never reconnects', async () => {
    const t = await connected();
    await auth.setKeys(t.id, { session: { a: Buffer.from('x') } });
    t.last().emit('creds.update', {});
    await eventually(async () => (await auth.loadCreds(t.id)) !== null);
    t.last().close(DisconnectReason.loggedOut);
    await eventually(() => t.authStatuses().includes('logged_out'));
    expect(await auth.loadCreds(t.id)).toBeNull();
    expect(await auth.countKeys(t.id)).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.sockets.length).toBe(1);
  });

  it('403 forbidden: failed, never reconnects', async () => {
    const t = await connected();
    t.last().close(DisconnectReason.forbidden);
    await eventually(() => t.authStatuses().includes('failed'));
    await new Promise((r) => setTimeout(r, 50));
    expect(t.sockets.length).toBe(1);
  });

  it('440 replaced: one retry at most, then stays disconnected (never fights the other client)', async () => {
    const t = await connected();
    t.last().close(DisconnectReason.connectionReplaced);
    await eventually(() => t.sockets.length === 2);
    t.last().open();
    await eventually(() => t.authStatuses().filter((s) => s === 'client_ready').length === 2);
    t.last().close(DisconnectReason.connectionReplaced);
    await eventually(() => t.authStatuses().at(-1) === 'disconnected');
    expect(t.events.some((e) => e.type === 'error' && e.code === 'connection_replaced')).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.sockets.length).toBe(2);
  });

  it('440 when this process no longer owns the session: no retry at all', async () => {
    const t = await connected({ owns: false });
    t.last().close(DisconnectReason.connectionReplaced);
    await eventually(() => t.authStatuses().at(-1) === 'disconnected');
    await new Promise((r) => setTimeout(r, 50));
    expect(t.sockets.length).toBe(1);
  });

  it('440 through the factory: the retry asks the cluster lease whether this replica still owns the session', async () => {
    const sockets: FakeSocket[] = [];
    const asked: string[] = [];
    const factory = createWhatsAppProvider({
      auth: new MemoryAuthStore(),
      healthCheckIntervalMs: 0,
      makeSocket: (c) => {
        const s = new FakeSocket(c);
        sockets.push(s);
        return s as unknown as WaSocket;
      },
      leases: {
        replicaId: 'me',
        acquire: async () => true,
        release: async () => {},
        owner: async (id) => {
          asked.push(id);
          return 'another-replica';
        },
      },
    });
    const events: ProviderEvent[] = [];
    const session = factory.createSession({
      instanceId: 'inst-lease',
      companyId: 'c',
      previous: { auth_status: 'pending', account: null },
      settings: {},
      emit: async (e) => {
        events.push(e);
      },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    }) as WhatsAppSession;
    open.push(session);
    await session.start();
    sockets[0]!.open();
    sockets[0]!.close(DisconnectReason.connectionReplaced);
    await eventually(() => events.some((e) => e.type === 'auth' && e.auth_status === 'disconnected'));
    expect(asked).toEqual(['inst-lease']);
    await new Promise((r) => setTimeout(r, 30));
    expect(sockets.length).toBe(1);
  });

  it('500 bad session: clears the Signal sessions (not the login) and reconnects', async () => {
    const t = await connected();
    t.last().emit('creds.update', {});
    await auth.setKeys(t.id, {
      session: { '491511.0': Buffer.from('s') },
      'sender-key': { g: Buffer.from('k') },
      'pre-key': { '1': { public: Buffer.alloc(32), private: Buffer.alloc(32) } },
    });
    t.last().close(DisconnectReason.badSession);
    await eventually(() => t.sockets.length === 2);
    expect(await auth.countKeys(t.id)).toBe(1);
    expect(await auth.loadCreds(t.id)).not.toBeNull();
  });

  it('stores inbound notify and append (offline catch-up) messages, skips our own send echo, prefers phone JIDs', async () => {
    const t = await connected();
    const inbound: WAMessage = {
      key: {
        remoteJid: '98765@lid',
        remoteJidAlt: '4915112345678@s.whatsapp.net',
        id: 'IN1',
        fromMe: false,
      },
      message: { conversation: 'hello' },
      messageTimestamp: 1_700_000_100,
      pushName: 'Anna',
    };
    const caughtUp: WAMessage = {
      key: { remoteJid: '4915100000000@s.whatsapp.net', id: 'IN2', fromMe: false },
      message: {
        imageMessage: { mimetype: 'image/jpeg', caption: 'pic', fileLength: 1234, width: 10, height: 20 },
      },
      messageTimestamp: 1_700_000_200,
    };
    t.last().emit('messages.upsert', { type: 'notify', messages: [inbound] });
    t.last().emit('messages.upsert', { type: 'append', messages: [caughtUp] });
    const sent = await t.session.send({ to: '4915112345678@s.whatsapp.net', text: 'out' });
    t.last().emit('messages.upsert', {
      type: 'append',
      messages: [
        {
          key: { remoteJid: '4915112345678@s.whatsapp.net', id: sent.message_id, fromMe: true },
          message: { conversation: 'out' },
        },
      ],
    });
    // a group message with reply, and a protocol message that must be ignored
    t.last().emit('messages.upsert', {
      type: 'notify',
      messages: [
        {
          key: {
            remoteJid: '1203630@g.us',
            id: 'G1',
            fromMe: false,
            participant: '55@lid',
            participantAlt: '4915122222222@s.whatsapp.net',
          },
          message: { extendedTextMessage: { text: 'in group', contextInfo: { stanzaId: 'IN1' } } },
          messageTimestamp: 1_700_000_300,
        },
        {
          key: { remoteJid: '4915112345678@s.whatsapp.net', id: 'P1', fromMe: false },
          message: { protocolMessage: { type: 0 } },
        },
      ],
    });
    await eventually(() => t.events.filter((e) => e.type === 'message').length === 3);
    const msgs = t.events.flatMap((e) => (e.type === 'message' ? [e.message] : []));
    expect(msgs[0]).toMatchObject({
      message_id: 'IN1',
      chat_id: '4915112345678@s.whatsapp.net',
      from: '4915112345678@s.whatsapp.net',
      to: '15550001111@s.whatsapp.net',
      body: 'hello',
      type: 'text',
      contact_name: 'Anna',
      contact_phone: '+4915112345678',
      timestamp: new Date(1_700_000_100_000).toISOString(),
    });
    expect(msgs[1]).toMatchObject({
      message_id: 'IN2',
      type: 'image',
      body: 'pic',
      media: { mimetype: 'image/jpeg', size: 1234 },
    });
    expect(msgs[2]).toMatchObject({
      message_id: 'G1',
      chat_id: '1203630@g.us',
      is_group: true,
      group_id: '1203630@g.us',
      from: '4915122222222@s.whatsapp.net',
      reply_to: 'IN1',
      contact_phone: '+4915122222222',
    });
  });

  it('turns messages.update statuses into acks', async () => {
    const t = await connected();
    t.last().emit('messages.update', [
      { key: { remoteJid: 'x@s.whatsapp.net', id: 'M1', fromMe: true }, update: { status: 3 } },
      { key: { remoteJid: 'x@s.whatsapp.net', id: 'M1', fromMe: true }, update: { status: 4 } },
      { key: { remoteJid: 'x@s.whatsapp.net', id: 'M2', fromMe: false }, update: { status: 4 } },
      { key: { remoteJid: 'x@s.whatsapp.net', id: 'M3', fromMe: true }, update: { starred: true } },
    ]);
    await eventually(() => t.events.filter((e) => e.type === 'ack').length === 2);
    expect(t.events.filter((e) => e.type === 'ack')).toEqual([
      { type: 'ack', message_id: 'M1', status: 'delivered' },
      { type: 'ack', message_id: 'M1', status: 'read' },
    ]);
  });

  it('keeps contacts and the LID ↔ phone mapping', async () => {
    const t = await connected();
    t.last().emit('contacts.upsert', [
      { id: '777@lid', phoneNumber: '4915133333333@s.whatsapp.net', notify: 'Bob' },
      { id: '4915144444444@s.whatsapp.net', name: 'Carl' },
    ]);
    t.last().emit('lid-mapping.update', { lid: '888@lid', pn: '4915155555555@s.whatsapp.net' });
    await eventually(() => t.contacts.length === 3);
    expect(t.contacts).toEqual([
      { contact_id: '4915133333333@s.whatsapp.net', name: 'Bob', phone: '+4915133333333' },
      { contact_id: '4915144444444@s.whatsapp.net', name: 'Carl', phone: '+4915144444444' },
      { contact_id: '4915155555555@s.whatsapp.net', name: null, phone: '+4915155555555' },
    ]);
  });

  it('sends text, replies, reactions and media (with a size limit); answers getMessage for retries', async () => {
    const stored: Record<string, StoredMessageRef> = {
      IN9: { chat_id: 'c@s.whatsapp.net', body: 'original', is_from_me: false, from: 'c@s.whatsapp.net' },
    };
    const t = await connected({ stored });
    const sock = t.last();
    const a = await t.session.send({ to: 'c@s.whatsapp.net', text: 'hi', reply_to: 'IN9' });
    expect(a.message_id).toMatch(/^3EB0[0-9A-F]{16}$/);
    expect(a.timestamp).toBe(new Date(1_700_000_000_000).toISOString());
    expect(sock.sent[0]!.content).toEqual({ text: 'hi' });
    expect((sock.sent[0]!.opts.quoted as WAMessage).key).toEqual({
      remoteJid: 'c@s.whatsapp.net',
      id: 'IN9',
      fromMe: false,
    });
    expect((sock.sent[0]!.opts.quoted as WAMessage).message).toEqual({ conversation: 'original' });
    await t.session.send({ to: 'c@s.whatsapp.net', reaction: { message_id: 'IN9', emoji: '👍' } });
    expect(sock.sent[1]!.content).toEqual({
      react: { text: '👍', key: { remoteJid: 'c@s.whatsapp.net', id: 'IN9', fromMe: false } },
    });
    await t.session.send({
      to: 'c@s.whatsapp.net',
      media: { base64: Buffer.from('png-bytes').toString('base64'), mimetype: 'image/png', caption: 'cap' },
    });
    expect(sock.sent[2]!.content).toMatchObject({ image: Buffer.from('png-bytes'), caption: 'cap' });
    await t.session.send({
      to: 'c@s.whatsapp.net',
      media: { url: 'https://x.test/a.pdf', filename: 'a.pdf' },
    });
    expect(sock.sent[3]!.content).toMatchObject({ document: Buffer.alloc(10, 1), fileName: 'a.pdf' });
    await expect(
      t.session.send({ to: 'c@s.whatsapp.net', media: { base64: Buffer.alloc(2000).toString('base64') } }),
    ).rejects.toMatchObject({ code: 'SB_ERR_PAYLOAD_TOO_LARGE' });
    const getMessage = sock.config.getMessage!;
    expect(await getMessage({ id: a.message_id, remoteJid: 'c@s.whatsapp.net' })).toEqual({
      conversation: 'hi',
    });
    expect(await getMessage({ id: 'IN9', remoteJid: 'c@s.whatsapp.net' })).toEqual({
      conversation: 'original',
    });
    expect(await getMessage({ id: 'nope', remoteJid: 'c@s.whatsapp.net' })).toBeUndefined();
    await t.session.control('typing', { chat_id: 'c@s.whatsapp.net' });
    await t.session.control('mark_read', { chat_id: 'c@s.whatsapp.net', message_ids: ['IN9'] });
    expect(sock.presence).toEqual(['composing:c@s.whatsapp.net']);
    expect(sock.read).toEqual([{ remoteJid: 'c@s.whatsapp.net', id: 'IN9', fromMe: false }]);
    const group = await t.session.control('create_group', {
      subject: 'Team',
      participants: ['c@s.whatsapp.net'],
    });
    expect(group).toMatchObject({ group_id: '120363999000111222@g.us', subject: 'Team' });
    expect(sock.groups).toEqual([{ subject: 'Team', participants: ['c@s.whatsapp.net'] }]);
  });

  it('keeps inbound media references and downloads the bytes on demand', async () => {
    const t = await connected();
    t.last().emit('messages.upsert', {
      type: 'notify',
      messages: [
        {
          key: { remoteJid: '4915100000000@s.whatsapp.net', id: 'IMG1', fromMe: false },
          message: {
            documentMessage: {
              mimetype: 'application/pdf',
              fileName: 'a.pdf',
              mediaKey: Buffer.alloc(32, 7),
            },
          },
          messageTimestamp: 1_700_000_200,
        },
      ],
    });
    await eventually(() => t.events.some((e) => e.type === 'message'));
    const ev = t.events.find((e) => e.type === 'message') as Extract<ProviderEvent, { type: 'message' }>;
    expect(ev.message.media).toMatchObject({ mimetype: 'application/pdf', filename: 'a.pdf' });
    // the media key stays in the provider's store, never in the event
    expect(JSON.stringify(ev)).not.toContain('mediaKey');
    expect(await t.session.control('download_media', { message_id: 'IMG1' })).toEqual({
      data: Buffer.from('bytes of IMG1'),
      mimetype: 'application/pdf',
      filename: 'a.pdf',
    });
    await expect(t.session.control('download_media', { message_id: 'NOPE' })).rejects.toMatchObject({
      code: 'SB_ERR_MESSAGE_NOT_FOUND',
    });
  });

  it('holds back an ack that races its own send until the send has returned', async () => {
    const t = await connected();
    const sock = t.last();
    const original = sock.sendMessage.bind(sock);
    sock.sendMessage = async (jid, content, opts) => {
      // the receipt arrives (as Baileys' merged upsert) before sendMessage resolves
      sock.emit('messages.upsert', {
        type: 'append',
        messages: [
          { key: { remoteJid: jid, id: String(opts.messageId), fromMe: true }, status: 3, message: {} },
        ],
      });
      await new Promise((r) => setTimeout(r, 20));
      return original(jid, content, opts);
    };
    let returned = 0;
    const sent = await t.session.send({ to: 'c@s.whatsapp.net', text: 'race' }).then((r) => {
      returned = t.events.length;
      return r;
    });
    await eventually(() => t.events.some((e) => e.type === 'ack'));
    const i = t.events.findIndex((e) => e.type === 'ack');
    expect(t.events[i]).toEqual({ type: 'ack', message_id: sent.message_id, status: 'delivered' });
    expect(i).toBeGreaterThanOrEqual(returned);
    expect(t.events.some((e) => e.type === 'message')).toBe(false);
  });

  it('refuses to send while not connected', async () => {
    const t = await setup();
    await expect(t.session.send({ to: 'c@s.whatsapp.net', text: 'x' })).rejects.toMatchObject({
      code: 'SB_ERR_NOT_CONNECTED',
    });
  });

  it('gives a pairing code once the socket is up, and refuses one when already logged in', async () => {
    const t = await setup();
    const pending = t.session.control('pairing_code', { phone: '+49 151 1234 5678' });
    t.last().update({ qr: 'qr-1' });
    expect(await pending).toEqual({ code: 'PC345678' });
    await expect(t.session.control('pairing_code', { phone: '12' })).rejects.toMatchObject({
      code: 'SB_ERR_VALIDATION',
    });
    t.last().open();
    await eventually(() => t.authStatuses().includes('client_ready'));
    await expect(t.session.control('pairing_code', { phone: '4915112345678' })).rejects.toMatchObject({
      code: 'SB_ERR_INVALID_STATE',
    });
  });

  it('health check: an open socket that does not answer a ping is restarted with health_check_failed', async () => {
    const t = await connected({ knobs: { healthCheckIntervalMs: 20 } });
    t.last().pingFails = true;
    await eventually(() => t.events.some((e) => e.type === 'health_check_failed'));
    await eventually(() => t.sockets.length === 2);
    expect(t.sockets[0]!.ended).toBe(true);
    // the old socket's close does not trigger the disconnect policy a second time
    t.sockets[0]!.close(DisconnectReason.connectionClosed);
    t.last().open();
    await eventually(() => t.authStatuses().filter((s) => s === 'client_ready').length === 2);
    await new Promise((r) => setTimeout(r, 60));
    expect(t.sockets.length).toBe(2);
    expect(t.events.filter((e) => e.type === 'health_check_failed')).toHaveLength(1);
  });

  it('health check: a ping cut short by a closing socket is left to the disconnect policy', async () => {
    const t = await connected({ knobs: { healthCheckIntervalMs: 20 } });
    t.last().pingCloses = true;
    await eventually(() => t.last().pings >= 3);
    expect(t.events.filter((e) => e.type === 'health_check_failed')).toEqual([]);
    expect(t.sockets).toHaveLength(1);
    await t.session.stop();
  });

  it('saved creds log in again on start, unless the instance was logged out while stopped', async () => {
    const t = await connected();
    t.last().emit('creds.update', {});
    await eventually(async () => (await auth.loadCreds(t.id)) !== null);
    await t.session.stop();
    const again = await setup({ id: t.id, previous: { auth_status: 'disconnected', account: 'x' } });
    expect(again.sockets[0]!.config.auth.creds.me?.id).toBe('15550001111:7@s.whatsapp.net');
    await again.session.stop();
    const out = await setup({ id: t.id, previous: { auth_status: 'logged_out', account: null } });
    expect(out.sockets[0]!.config.auth.creds.me).toBeUndefined();
    expect(await auth.loadCreds(t.id)).toBeNull();
  });

  it('stop: creds it cannot save are reported in the log, not dropped silently', async () => {
    const failing = Object.assign(Object.create(auth) as MemoryAuthStore, {
      saveCreds: async () => {
        throw new Error('disk full');
      },
    });
    const t = await setup({ auth: failing });
    await t.session.stop();
    expect(t.warnings).toContain('saving whatsapp creds at stop failed');
  });

  it('stop ends the socket and ignores its late events; logout logs out and wipes', async () => {
    const t = await connected();
    t.last().emit('creds.update', {});
    await t.session.stop();
    expect(t.last().ended).toBe(true);
    const n = t.events.length;
    t.last().close(DisconnectReason.connectionClosed);
    await new Promise((r) => setTimeout(r, 30));
    expect(t.events.length).toBe(n);
    expect(await auth.loadCreds(t.id)).not.toBeNull();
    const u = await connected();
    await u.session.logout();
    expect(u.last().loggedOut).toBe(true);
    expect(await auth.loadCreds(u.id)).toBeNull();
  });
});
