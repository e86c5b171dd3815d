// Inbound mapping for a WhatsApp session: Baileys' messages, receipts and contacts become normalised provider events.
import type { BaileysEventMap, WAMessage } from 'baileys';
import type { SessionContext } from '../../ports/provider.js';
import type { WhatsAppAuthPort } from './auth-store.js';
import { DecryptWatch } from './decrypt-watch.js';
import { type LidLookup, pairOf, pairOfKey, type SessionIdentities } from './identities.js';
import { ackStatus, bareJid, mapMessage, phoneOf } from './mapper.js';
import type { SentLedger } from './sent-ledger.js';
import type { WhatsAppSessionDeps } from './session-deps.js';

/** Message types whose bytes can be downloaded later. */
const MEDIA_KINDS = new Set(['image', 'video', 'audio', 'document', 'sticker']);

/** What inbound handling needs from its session. */
export interface InboundDeps {
  ctx: SessionContext;
  auth: WhatsAppAuthPort;
  upsertContact?: WhatsAppSessionDeps['upsertContact'];
  ids: SessionIdentities;
  decrypt: DecryptWatch;
  sent: SentLedger;
  /** The logged-in account (bare JID), once known. */
  account(): string | null;
  /** The live socket's LID ↔ phone lookup, if any. */
  lidMapping(): LidLookup | undefined;
}

/** Handles the inbound socket events of one session (called one at a time, in Baileys' order). */
export class InboundHandler {
  constructor(private readonly deps: InboundDeps) {}

  /** messages.upsert: new messages (ours echoed back are acks at most), decrypt failures watched. */
  async onUpsert(messages: WAMessage[]): Promise<void> {
    const { ctx, ids, decrypt, sent } = this.deps;
    for (const m of messages) {
      if (DecryptWatch.isFailure(m)) {
        decrypt.failed(m);
        continue;
      }
      decrypt.resolved(m.key.id);
      if (m.key.fromMe && m.key.id && sent.has(m.key.id)) {
        // Our own send echoed back; Baileys may have merged an early receipt into it.
        const status = ackStatus(m.status);
        if (status === 'delivered' || status === 'read') await sent.emitAck(m.key.id, status);
        continue;
      }
      await ids.learn(pairOfKey(m.key));
      const first = mapMessage(m, this.deps.account());
      if (!first) continue;
      const mapped = await ids.canonical(first, this.deps.lidMapping());
      if (mapped.media && MEDIA_KINDS.has(mapped.type)) {
        await this.deps.auth.saveMediaRef(ctx.instanceId, mapped.message_id, {
          key: m.key,
          message: m.message,
        });
      }
      await ctx.emit({ type: 'message', message: mapped });
    }
  }

  /** messages.update: receipts of our own messages become acks. */
  async onUpdates(updates: BaileysEventMap['messages.update']): Promise<void> {
    for (const u of updates) {
      const status = ackStatus(u.update?.status);
      if (!status || !u.key.id || !u.key.fromMe) continue;
      await this.deps.sent.emitAck(u.key.id, status);
    }
  }

  /** contacts.upsert: identities learned, contacts kept current. */
  async onContacts(list: BaileysEventMap['contacts.upsert']): Promise<void> {
    for (const c of list) {
      await this.deps.ids.learn(
        pairOf(c.id, c.phoneNumber) ?? pairOf(c.lid, c.id) ?? pairOf(c.lid, c.phoneNumber),
      );
      await this.saveContact(c.id, c.name ?? c.notify ?? null, c.phoneNumber ?? null);
    }
  }

  /** lid-mapping.update: a LID ↔ phone pair. */
  async onLidMapping(m: BaileysEventMap['lid-mapping.update']): Promise<void> {
    await this.deps.ids.learn(pairOf(m.lid, m.pn));
    if (m.pn) await this.saveContact(m.pn, null, m.pn);
  }

  /** Stores a contact under its phone JID when one is known (groups are not contacts). */
  async saveContact(id: string, name: string | null, pn: string | null): Promise<void> {
    const upsert = this.deps.upsertContact;
    if (!upsert || !id || id.endsWith('@g.us')) return;
    const contactId = phoneOf(id) ? bareJid(id) : pn && phoneOf(pn) ? bareJid(pn) : bareJid(id);
    await upsert({ contact_id: contactId, name, phone: phoneOf(contactId) ?? phoneOf(pn) });
  }
}
