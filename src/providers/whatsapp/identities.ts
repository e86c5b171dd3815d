// LID ↔ phone identities on the WhatsApp side: learned from message keys, Baileys' events and its LID store.
import type { WAMessageKey } from 'baileys';
import type { IdentityPair, IdentityStore } from '../../ports/identities.js';
import type { ProviderLogger, ProviderMessage } from '../../ports/provider.js';
import { bareJid, phoneOf } from './mapper.js';

const isLid = (jid: string | null | undefined): jid is string => !!jid && /^\d+(:\d+)?@lid$/.test(jid);
const isPn = (jid: string | null | undefined): jid is string => !!phoneOf(jid);

/** A LID ↔ phone pair from two JIDs in either order (device suffixes dropped), or null when they are not one of each. */
export function pairOf(a: string | null | undefined, b: string | null | undefined): IdentityPair | null {
  if (isLid(a) && isPn(b)) return { lid: bareJid(a), pn: bareJid(b) };
  if (isPn(a) && isLid(b)) return { lid: bareJid(b), pn: bareJid(a) };
  return null;
}

/**
 * The pair a message key tells: 1:1 `remoteJid`/`remoteJidAlt` (Baileys 7 fills the alt from `sender_pn` or
 * `sender_lid`), groups `participant`/`participantAlt` (from `participant_pn` / `participant_lid`).
 */
export function pairOfKey(key: WAMessageKey): IdentityPair | null {
  const k = key as WAMessageKey & { remoteJidAlt?: string; participantAlt?: string };
  return pairOf(k.remoteJid, k.remoteJidAlt) ?? pairOf(k.participant, k.participantAlt);
}

/** Baileys' own LID store (filled by usync answers when it sends); optional so fake sockets need not have it. */
export interface LidLookup {
  getPNForLID(lid: string): Promise<string | null>;
  getLIDForPN(pn: string): Promise<string | null>;
}

/** Per-session view of the identity store: learns pairs and rewrites LIDs to phone JIDs wherever one is known. */
export class SessionIdentities {
  /** Pairs already written in this session (saves a round trip per message). */
  private readonly known = new Map<string, string>();

  constructor(
    private readonly instanceId: string,
    private readonly store: IdentityStore | undefined,
    private readonly logger: ProviderLogger,
  ) {}

  /** Records a pair (and merges what was stored under the LID); a no-op for pairs already seen. */
  async learn(pair: IdentityPair | null): Promise<void> {
    if (!pair || !this.store || this.known.get(pair.lid) === pair.pn) return;
    const r = await this.store.link(this.instanceId, pair);
    this.known.set(pair.lid, pair.pn);
    if (r.changed) this.logger.info({ merged: r.merged }, 'whatsapp LID linked to a phone number');
  }

  /** The phone JID for a LID JID when known (the argument unchanged otherwise). */
  async toPn(jid: string, lookup?: LidLookup): Promise<string> {
    if (!isLid(jid)) return jid;
    const lid = bareJid(jid);
    const cached = this.known.get(lid);
    if (cached) return cached;
    const stored = this.store ? await this.store.pnForLid(this.instanceId, lid) : null;
    if (stored) {
      this.known.set(lid, stored);
      return stored;
    }
    const fromBaileys = lookup ? await this.askBaileys(lookup, lid) : null;
    const pair = pairOf(lid, fromBaileys);
    if (!pair) return jid;
    await this.learn(pair);
    return pair.pn;
  }

  /** After a send: asks Baileys' LID store (usync filled it) for the other half of the recipient and records it. */
  async learnFromSend(to: string, lookup?: LidLookup): Promise<void> {
    if (!lookup || to.endsWith('@g.us')) return;
    try {
      if (isPn(to) && !(await this.hasPn(to))) await this.learn(pairOf(to, await lookup.getLIDForPN(to)));
      else if (isLid(to)) await this.toPn(to, lookup);
    } catch (err) {
      this.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'LID lookup after send failed',
      );
    }
  }

  /** Baileys' LID store, asked for a LID's phone: a failed lookup is logged and leaves the LID as it is. */
  private async askBaileys(lookup: LidLookup, lid: string): Promise<string | null> {
    try {
      return await lookup.getPNForLID(lid);
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), lid }, 'LID lookup failed');
      return null;
    }
  }

  private async hasPn(pn: string): Promise<boolean> {
    for (const v of this.known.values()) if (v === bareJid(pn)) return true;
    return this.store ? (await this.store.lidForPn(this.instanceId, bareJid(pn))) !== null : false;
  }

  /** Rewrites a mapped message's LIDs (chat, sender) to phone JIDs where known, and fills the sender's phone. */
  async canonical(m: ProviderMessage, lookup?: LidLookup): Promise<ProviderMessage> {
    const chat = m.is_group ? m.chat_id : await this.toPn(m.chat_id, lookup);
    const from = m.from ? await this.toPn(m.from, lookup) : m.from;
    const to = m.to ? await this.toPn(m.to, lookup) : m.to;
    return {
      ...m,
      chat_id: chat,
      from,
      to,
      contact_phone: m.is_from_me ? (m.contact_phone ?? null) : (phoneOf(from) ?? m.contact_phone ?? null),
    };
  }
}
