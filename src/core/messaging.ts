// Messaging service: sending with idempotency keys, and reading chats, contacts and message history.
import { createHash } from 'node:crypto';
import { SbError } from '../domain/errors.js';
import type { Chat, Contact, Instance, Message, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { IdentityStore } from '../ports/identities.js';
import type { OutboundMessage, ProviderRegistry } from '../ports/provider.js';
import type { NewMessage, OutboundInsert, Page, Store } from '../ports/store.js';
import { requireScope } from './access.js';
import { normalizeRecipient } from './addressing.js';
import { commitWithEvents } from './commit.js';
import type { GroupCommitter } from './group-commit.js';
import type { InstanceService } from './instances.js';
import { createSendWriter, type SendWriteResult } from './send-writer.js';
import type { SessionSupervisor } from './supervisor.js';

export interface SendInput {
  to: string;
  text?: string;
  reply_to?: string | null;
  media?: OutboundMessage['media'];
  reaction?: OutboundMessage['reaction'];
}

/** Called before a send is accepted (rate limits, MCP policy…); throws to refuse. */
export type SendGuard = (inst: Instance, input: SendInput) => Promise<void>;

export interface MessagingDeps {
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  supervisor: SessionSupervisor;
  instances: InstanceService;
  guards?: SendGuard[];
  /** WhatsApp LID ↔ phone pairs: a LID recipient whose phone is known is stored under the phone chat. */
  identities?: IdentityStore;
}

/** The fingerprint of a send request, compared when its Idempotency-Key is used again. */
function fingerprint(chatId: string, input: SendInput): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        chatId,
        input.text ?? null,
        input.reply_to ?? null,
        input.media ?? null,
        input.reaction ?? null,
      ]),
    )
    .digest('hex');
}

export class MessagingService {
  /** Group commits the sends' pending rows (one INSERT for the sends that arrive while the previous one runs). */
  readonly pending: GroupCommitter<OutboundInsert, SendWriteResult>;

  constructor(private readonly deps: MessagingDeps) {
    this.pending = createSendWriter(deps.store);
  }

  /**
   * Sends a message. With an idempotency key, a repeat of the same request returns the first message and never
   * sends twice; the same key with a different body is refused with 409.
   */
  async send(
    p: Principal,
    instanceId: string,
    input: SendInput,
    idempotencyKey?: string,
  ): Promise<{ message: Message; replayed: boolean }> {
    requireScope(p, 'send');
    // The send cache saves reading the instance row; a cached row is only written against while unchanged, and
    // anything it would refuse (or a keyed request, whose replay must not depend on it) is read fresh.
    const cached = idempotencyKey ? null : await this.deps.instances.getForSend(p, instanceId);
    if (cached?.version && cached.instance.auth_status === 'client_ready') {
      const sent = await this.sendAs(cached.instance, cached.version, input, idempotencyKey);
      if (sent) return sent;
      this.deps.instances.forget(instanceId);
    }
    // Not in the cache, getForSend has just read the row fresh (version null): the send uses that read. Otherwise
    // (a keyed request, or a cached row the send refused or that moved) the row is read fresh here.
    const inst =
      cached && cached.version === null ? cached.instance : await this.deps.instances.getFresh(p, instanceId);
    return (await this.sendAs(inst, null, input, idempotencyKey))!;
  }

  /** The send itself; null (nothing written) when `version` is given and the instance row moved past it. */
  private async sendAs(
    inst: Instance,
    version: string | null,
    input: SendInput,
    idempotencyKey?: string,
  ): Promise<{ message: Message; replayed: boolean } | null> {
    const factory = this.deps.instances.provider(inst.provider);
    const chatId = await this.canonicalChat(inst.id, normalizeRecipient(input.to, factory.addressing));
    if (input.media && !factory.capabilities.has('media')) {
      throw new SbError('SB_ERR_UNSUPPORTED', `provider ${inst.provider} cannot send media`);
    }
    if (input.reaction && !factory.capabilities.has('reactions')) {
      throw new SbError('SB_ERR_UNSUPPORTED', `provider ${inst.provider} cannot send reactions`);
    }
    // Only a keyed request can be repeated, so only it needs the fingerprint a repeat is compared with.
    const requestHash = idempotencyKey ? fingerprint(chatId, input) : null;
    if (idempotencyKey) {
      const existing = await this.deps.store.messages.getByIdempotencyKey(inst.id, idempotencyKey);
      if (existing) return this.replay(existing, requestHash);
    }
    if (inst.auth_status !== 'client_ready' || !(await this.deps.supervisor.reachable(inst.id))) {
      throw new SbError(
        'SB_ERR_NOT_CONNECTED',
        `instance is not connected (${inst.status}/${inst.auth_status})`,
        {
          details: { status: inst.status, auth_status: inst.auth_status },
        },
      );
    }
    for (const guard of this.deps.guards ?? []) await guard(inst, input);
    const now = new Date().toISOString();
    // A provider that chooses its ids gets one now: the row is stored under its final id before the send, so an
    // ack that overtakes the send finds it (no stash, no id lock). Others learn the id from the provider's reply.
    const preassigned = factory.newMessageId?.() ?? null;
    const row: NewMessage = {
      instance_id: inst.id,
      company_id: inst.company_id,
      message_id: preassigned,
      chat_id: chatId,
      from: inst.account,
      to: chatId,
      body: input.text ?? input.media?.caption ?? input.reaction?.emoji ?? null,
      type: input.reaction ? 'reaction' : input.media ? 'media' : 'text',
      is_from_me: true,
      is_group: chatId.endsWith('@g.us') || chatId.startsWith('-'),
      group_id: chatId.endsWith('@g.us') ? chatId : null,
      contact_name: null,
      reply_to: input.reply_to ?? null,
      // What the provider will mention (WhatsApp's `@<digits>` in a text or caption), stored as inbound mentions are.
      mentions: input.reaction
        ? []
        : (factory.mentionsIn?.((input.media ? (input.media.caption ?? input.text) : input.text) ?? '') ??
          []),
      media: input.media
        ? {
            mimetype: input.media.mimetype ?? null,
            filename: input.media.filename ?? null,
            url: input.media.url ?? null,
          }
        : null,
      status: 'pending',
      timestamp: now,
      idempotency_key: idempotencyKey ?? null,
      request_hash: requestHash,
    };
    // Group committed with concurrent sends; resolves once the row is committed, before the provider is called.
    const pending = await this.pending.submit({ message: row, version });
    if (!pending) {
      if (version) return null;
      throw new SbError('SB_ERR_INTERNAL', 'the pending row of a send was not written');
    }
    if (!pending.inserted) return this.replay(pending, requestHash);
    const msg = pending.message;
    try {
      const result = await this.deps.supervisor.send(inst.id, {
        to: chatId,
        text: input.text,
        reply_to: input.reply_to ?? null,
        media: input.media ?? null,
        reaction: input.reaction ?? null,
        ...(preassigned ? { message_id: preassigned } : {}),
      });
      // The finalise step is group committed with other sends and inbound facts: the row gets the provider's id
      // (or an ack that overtook it), the chat and activity move, and the event is written — in one transaction.
      const sent = await this.deps.supervisor.writer.submit({
        kind: 'sent',
        sent: {
          id: msg.id,
          instance_id: inst.id,
          message_id: result.message_id,
          timestamp: result.timestamp,
          preassigned: preassigned !== null && result.message_id === preassigned,
        },
      });
      if (!sent) throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', 'the message was removed while it was sent');
      return { message: sent, replayed: false };
    } catch (err) {
      await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
        await tx.messages.update(inst.id, msg.id, { status: 'failed' });
        await emit({
          type: 'error',
          instance_id: inst.id,
          company_id: inst.company_id,
          data: { message: 'send failed', code: 'send_failed', id: msg.id },
        });
      });
      if (err instanceof SbError) throw err;
      throw new SbError(
        'SB_ERR_PROVIDER',
        `the provider failed to send: ${err instanceof Error ? err.message : err}`,
        {
          cause: err,
          details: { id: msg.id },
        },
      );
    }
  }

  private replay(found: { message: Message; request_hash: string | null }, requestHash: string | null) {
    if (found.request_hash && found.request_hash !== requestHash) {
      throw new SbError(
        'SB_ERR_IDEMPOTENCY_CONFLICT',
        'this Idempotency-Key was used with a different request',
        {
          details: { id: found.message.id },
        },
      );
    }
    return { message: found.message, replayed: true };
  }

  async listMessages(
    p: Principal,
    instanceId: string,
    f: { chat_id?: string; before?: string; limit: number; cursor?: string },
  ): Promise<Page<Message>> {
    const inst = await this.deps.instances.get(p, instanceId);
    const chat_id = f.chat_id ? await this.canonicalChat(inst.id, f.chat_id) : undefined;
    return this.deps.store.messages.list({ instance_id: inst.id, ...f, chat_id });
  }

  /** A `…@lid` chat whose phone is known → the phone JID (one person, one chat); anything else unchanged. */
  private async canonicalChat(instanceId: string, chatId: string): Promise<string> {
    if (!chatId.endsWith('@lid') || !this.deps.identities) return chatId;
    return (await this.deps.identities.pnForLid(instanceId, chatId.replace(/:\d+@/, '@'))) ?? chatId;
  }

  async getMessage(p: Principal, instanceId: string, id: string): Promise<Message> {
    const inst = await this.deps.instances.get(p, instanceId);
    const m =
      (await this.deps.store.messages.get(inst.id, id)) ??
      (await this.deps.store.messages.getByMessageId(inst.id, id));
    if (!m) throw new SbError('SB_ERR_MESSAGE_NOT_FOUND', `message ${id} not found`);
    return m;
  }

  async listChats(
    p: Principal,
    instanceId: string,
    f: { limit: number; cursor?: string },
  ): Promise<Page<Chat>> {
    const inst = await this.deps.instances.get(p, instanceId);
    return this.deps.store.chats.list({ instance_id: inst.id, ...f });
  }

  async listContacts(
    p: Principal,
    instanceId: string,
    f: { query?: string; limit: number; cursor?: string },
  ): Promise<Page<Contact>> {
    const inst = await this.deps.instances.get(p, instanceId);
    return this.deps.store.contacts.list({ instance_id: inst.id, ...f });
  }
}
