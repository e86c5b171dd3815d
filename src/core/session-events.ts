// Provider-event ingestion: the facts a session reports (ProviderEvents) become storage writes and bus events, in
// order per session. The single place that learns from providers; opening and closing sessions is the supervisor's.
import type { InstanceStatus } from '../domain/statuses.js';
import { scrubDeep } from '../domain/text.js';
import type { EventBus } from '../ports/event-bus.js';
import type { IdentityStore } from '../ports/identities.js';
import type { ProviderEvent, ProviderLogger } from '../ports/provider.js';
import type { MessageSpool, SpoolRecord } from '../ports/spool.js';
import type { InstancePatch, Store } from '../ports/store.js';
import { phoneOfJid } from './addressing.js';
import type { GroupCommitter } from './group-commit.js';
import { InboundSpooler, type SpoolObserver } from './inbound-spooler.js';
import { createInboundWriter, type FactResult, type InboundFact } from './inbound-writer.js';
import { CONNECTED, markLoggedOut, transition } from './session-status.js';
import { settled } from './settled.js';

/** What ingestion knows of a live session (the supervisor's registry entry). */
export interface EventSource {
  readonly instanceId: string;
  /** The company when the session started; events and rows use the instance's current company instead. */
  readonly companyId: string;
  /** The provider stores each send under an id of its own choosing (`newMessageId`): acks need no id lock. */
  readonly preassignsIds: boolean;
  /** Set once the session is closed (or closing): only facts about messages still count. */
  closed: boolean;
  /** Serialises the handling of this session's provider events. */
  queue: Promise<void>;
}

export interface SessionEventsDeps<S extends EventSource> {
  store: Store;
  bus: EventBus;
  logger: ProviderLogger;
  /** Durable spool for inbound messages that cannot be committed while the database is down (absent: none). */
  spool?: MessageSpool | null;
  /** Counts spooled, replayed and dropped inbound messages. */
  spoolObserver?: SpoolObserver;
  /** WhatsApp LID ↔ phone pairs: a message still named by a LID whose phone is known is stored under the phone. */
  identities?: IdentityStore;
  /**
   * The session ended itself (login failed, logged out by the phone): the supervisor closes it once `write` (its
   * final status) committed. Resolves with what `write` returned.
   */
  endItself<T>(source: S, write: () => Promise<T>): Promise<T>;
}

type AuthEvent = Extract<ProviderEvent, { type: 'auth' }>;
type InboundMessage = SpoolRecord['message'];

export class SessionEvents<S extends EventSource> {
  /** Inbound message writes: retried, spooled while the database is down, replayed in order. */
  readonly inbound: InboundSpooler;
  /** Group commit of inbound messages and acks across sessions (see core/inbound-writer.ts). */
  readonly writer: GroupCommitter<InboundFact, FactResult>;

  constructor(private readonly deps: SessionEventsDeps<S>) {
    this.writer = createInboundWriter({ store: deps.store, bus: deps.bus });
    this.inbound = new InboundSpooler({
      spool: deps.spool ?? null,
      commit: (rec) => this.commitMessage(rec),
      logger: deps.logger,
      observer: deps.spoolObserver,
    });
  }

  /**
   * Handles `event` after the session's earlier ones; resolves after its writes committed. A failure goes to the
   * provider that emitted it (this rejects); the session's queue moves on.
   */
  emit(source: S, event: ProviderEvent): Promise<void> {
    // Messenger input may hold bytes PostgreSQL refuses (U+0000, lone surrogates): scrubbed here, the one point
    // every provider event passes, so a contact's name or text never drops a message.
    const clean = scrubDeep(event);
    const run = settled(source.queue).then(() => this.handle(source, clean));
    source.queue = settled(run);
    return run;
  }

  /** Persists one provider fact and publishes its events. */
  private async handle(source: S, event: ProviderEvent): Promise<void> {
    const { instanceId } = source;
    // Facts about messages still count after the session closed (a stopping session reports what it still holds).
    if (source.closed && event.type !== 'message' && event.type !== 'ack' && event.type !== 'decrypt_failed')
      return;
    const deps = this.deps;
    switch (event.type) {
      case 'qr':
        await transition(
          deps,
          instanceId,
          { qr: event.qr, auth_status: 'qr_ready' },
          async (tx, emit, _before, after) => {
            const ev = await emit({
              type: 'qr',
              instance_id: instanceId,
              company_id: after.company_id,
              data: { qr: event.qr },
            });
            // Coalesced: the log keeps only the latest QR of an instance (an unscanned QR rotates every ~20 s).
            await tx.events.deleteOlderOfType(instanceId, 'qr', ev.id);
          },
        );
        break;
      case 'auth':
        await this.handleAuth(source, event);
        break;
      case 'message':
        await this.inbound.write({
          instance_id: instanceId,
          company_id: source.companyId,
          message: event.message,
          spooled_at: new Date().toISOString(),
        });
        break;
      case 'ack':
        // Group-committed with other sessions' facts; an ack that overtook its send's commit is kept for it (on
        // the row when the provider chose the id, else stashed under the id until the send records it).
        await this.writer.submit({
          kind: 'ack',
          instance_id: instanceId,
          message_id: event.message_id,
          status: event.status,
          preassigned: source.preassignsIds,
        });
        break;
      case 'error':
        await transition(
          deps,
          instanceId,
          { last_error: event.message },
          async (_tx, emit, _before, after) => {
            await emit({
              type: 'error',
              instance_id: instanceId,
              company_id: after.company_id,
              data: { message: event.message, code: event.code ?? null },
            });
          },
        );
        break;
      case 'group':
        await transition(deps, instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          await emit(
            event.event === 'group.participants'
              ? { ...base, type: event.event, data: event.data }
              : { ...base, type: event.event, data: event.data },
          );
        });
        break;
      case 'reconnect_failed':
      case 'health_check_failed':
        await transition(deps, instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          if (event.type === 'reconnect_failed') {
            const { type, ...data } = event;
            await emit({ ...base, type, data });
          } else {
            const { type, ...data } = event;
            await emit({ ...base, type, data });
          }
        });
        break;
      case 'decrypt_failed':
        await transition(deps, instanceId, {}, async (_tx, emit, _before, after) => {
          const { type: _t, ...data } = event;
          await emit({
            type: 'message.decrypt_failed',
            instance_id: instanceId,
            company_id: after.company_id,
            data,
          });
        });
        break;
      case 'history': {
        // History is stored by the provider (never as `message` events); its progress is published here.
        const { type: _t, totals, complete, ...chunk } = event;
        await transition(deps, instanceId, {}, async (_tx, emit, _before, after) => {
          const base = { instance_id: instanceId, company_id: after.company_id };
          await emit({ type: 'history.progress', ...base, data: { ...chunk, complete } });
          if (complete && totals)
            await emit({ type: 'history.synced', ...base, data: { sync_type: chunk.sync_type, ...totals } });
        });
        break;
      }
    }
  }

  private async handleAuth(source: S, event: AuthEvent): Promise<unknown> {
    const { instanceId } = source;
    if (event.auth_status === 'logged_out') {
      // The messenger ended the login (phone removed the device): close our side, never reconnect.
      return this.deps.endItself(source, () =>
        markLoggedOut(this.deps, instanceId, event.reason ?? 'remote'),
      );
    }
    const patch: InstancePatch = { auth_status: event.auth_status };
    if (event.account !== undefined) patch.account = event.account;
    if (CONNECTED.has(event.auth_status)) patch.qr = null;
    if (event.auth_status === 'failed') {
      patch.status = 'error' satisfies InstanceStatus;
      patch.last_error = event.reason ?? 'login failed';
    }
    const write = () =>
      transition(
        this.deps,
        instanceId,
        patch,
        async (_tx, emit, before, after) => {
          if (event.auth_status === 'client_ready' && before.auth_status !== 'client_ready') {
            await emit({
              type: 'connected',
              instance_id: instanceId,
              company_id: after.company_id,
              data: {
                account: after.account,
                phone: after.account ? (phoneOfJid(after.account) ?? after.account) : null,
              },
            });
          }
        },
        event.reason,
      );
    return event.auth_status === 'failed' ? this.deps.endItself(source, write) : write();
  }

  /**
   * Stores one inbound message with its chat, contact and event (idempotent on instance id + message id), group
   * committed with the facts other sessions report meanwhile. The spooler calls it, at once or on replay.
   */
  private async commitMessage(rec: SpoolRecord): Promise<void> {
    // A LID whose phone became known while the message waited is stored under the phone (issue 18).
    const message = await this.canonicalLids(rec.instance_id, rec.message);
    await this.writer.submit({ kind: 'message', rec: { ...rec, message } });
  }

  /**
   * A chat or sender still named by a LID whose phone became known while the message waited (issue 18: the pair was
   * learned and merged in between) is stored under the phone, so the merge leaves nothing behind. Mentioned LIDs
   * (WhatsApp mentions by LID in LID-addressed groups) become phone JIDs the same way when the phone is known.
   */
  private async canonicalLids(instanceId: string, m: InboundMessage): Promise<InboundMessage> {
    const ids = this.deps.identities;
    const lidMentions = m.mentions?.some((j) => j.endsWith('@lid')) ?? false;
    if (!ids || !(m.chat_id.endsWith('@lid') || m.from?.endsWith('@lid') || lidMentions)) return m;
    const pn = async (jid: string | null) =>
      jid?.endsWith('@lid') ? ((await ids.pnForLid(instanceId, jid.replace(/:\d+@/, '@'))) ?? jid) : jid;
    const from = await pn(m.from);
    const chat = m.is_group ? m.chat_id : ((await pn(m.chat_id)) ?? m.chat_id);
    const mentions = lidMentions
      ? [...new Set(await Promise.all((m.mentions ?? []).map(async (j) => (await pn(j)) ?? j)))]
      : m.mentions;
    return {
      ...m,
      chat_id: chat,
      from,
      contact_phone: m.contact_phone ?? (from ? phoneOfJid(from) : null),
      ...(mentions ? { mentions } : {}),
    };
  }
}
