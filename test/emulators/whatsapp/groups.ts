// Emulator groups: w:g2 queries (create, metadata, participating, participant changes), w:gp2 notifications,
// and sender keys (skmsg) both ways, using the sender-key implementation Baileys itself ships.
import { randomInt } from 'node:crypto';
import { type BinaryNode, getBinaryNodeChildren, proto, unpadRandomMax16 } from 'baileys';
import {
  GroupCipher,
  GroupSessionBuilder,
  SenderKeyDistributionMessage,
  SenderKeyName,
  SenderKeyRecord,
} from 'baileys/lib/Signal/Group/index.js';

/** A participant's role, as WhatsApp's `type` attribute says it. */
export type GroupRole = 'superadmin' | 'admin' | null;

/** One emulated group. */
export interface GroupState {
  /** `<digits>@g.us`. */
  id: string;
  subject: string;
  /** Creator's phone JID. */
  creator: string;
  /** Unix seconds. */
  creation: number;
  /** Phone JID → role. */
  participants: Map<string, GroupRole>;
}

/** An iq answered with `<iq type="error"><error code text/></iq>` (e.g. 429 rate-overlimit). */
export class IqError extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
  ) {
    super(`${code} ${text}`);
  }
}

/** Participant change actions of `w:g2` sets and `w:gp2` notifications. */
export type ParticipantAction = 'add' | 'remove' | 'promote' | 'demote';
const ACTIONS = new Set<string>(['add', 'remove', 'promote', 'demote']);

const pnJid = (jid: string): string => {
  const [user, server] = jid.split('@');
  return `${user!.split(':')[0]}@${server === 'c.us' ? 's.whatsapp.net' : server}`;
};

/** In-memory sender keys keyed by sender key name (the store `GroupCipher` / `GroupSessionBuilder` use). */
class SenderKeys {
  private readonly records = new Map<string, SenderKeyRecord>();
  readonly store = {
    loadSenderKey: async (name: SenderKeyName) => this.records.get(name.toString()) ?? new SenderKeyRecord(),
    storeSenderKey: async (name: SenderKeyName, record: SenderKeyRecord) => {
      this.records.set(name.toString(), record);
    },
  };
}

const senderName = (group: string, user: string): SenderKeyName =>
  new SenderKeyName(group, { id: user, deviceId: 0, toString: () => `${user}.0` } as never);

const pad = (bytes: Uint8Array): Buffer => {
  const n = randomInt(1, 17);
  return Buffer.concat([Buffer.from(bytes), Buffer.alloc(n, n)]);
};

/** All groups of the emulator, their `w:g2` answers and their sender keys. */
export class GroupDirectory {
  private readonly groups = new Map<string, GroupState>();
  /** Sender keys of simulated contacts (they encrypt) and of accounts' devices (the emulator decrypts). */
  private readonly keys = new SenderKeys();
  /** Accounts (phone digits) whose `w:g2` queries answer 429 rate-overlimit. */
  private readonly limited = new Set<string>();
  /** `w:g2` queries per account phone (tests prove the gateway does not query per message). */
  private readonly queryCounts = new Map<string, number>();

  /** How many `w:g2` iqs the account sent so far. */
  queries(accountPhone: string): number {
    return this.queryCounts.get(accountPhone) ?? 0;
  }

  /** Makes every `w:g2` query of the account answer 429 (true) or work again (false). */
  setRateLimited(accountPhone: string, on: boolean): void {
    if (on) this.limited.add(accountPhone);
    else this.limited.delete(accountPhone);
  }

  /** Creates a group; the creator is superadmin. */
  create(subject: string, creator: string, members: string[]): GroupState {
    const id = `120363${randomInt(10 ** 11, 10 ** 12 - 1)}@g.us`;
    const g: GroupState = {
      id,
      subject,
      creator: pnJid(creator),
      creation: Math.floor(Date.now() / 1000),
      participants: new Map([[pnJid(creator), 'superadmin']]),
    };
    for (const m of members) if (!g.participants.has(pnJid(m))) g.participants.set(pnJid(m), null);
    this.groups.set(id, g);
    return g;
  }

  /** A group by id (throws when unknown). */
  get(id: string): GroupState {
    const g = this.groups.get(id);
    if (!g) throw new Error(`unknown group ${id}`);
    return g;
  }

  /** Applies a participant change; returns the JIDs it affected. */
  change(id: string, action: ParticipantAction, jids: string[]): string[] {
    const g = this.get(id);
    const out: string[] = [];
    for (const j of jids.map(pnJid)) {
      if (action === 'add' && !g.participants.has(j)) g.participants.set(j, null);
      else if (action === 'remove' && g.participants.delete(j)) void 0;
      else if (action === 'promote' && g.participants.has(j)) g.participants.set(j, 'admin');
      else if (action === 'demote' && g.participants.has(j)) g.participants.set(j, null);
      else continue;
      out.push(j);
    }
    return out;
  }

  /** `<group …><participant …/>…</group>` as WhatsApp answers metadata queries. */
  groupNode(g: GroupState): BinaryNode {
    return {
      tag: 'group',
      attrs: {
        id: g.id.split('@')[0]!,
        subject: g.subject,
        s_t: String(g.creation),
        s_o: g.creator,
        creation: String(g.creation),
        creator: g.creator,
        size: String(g.participants.size),
        addressing_mode: 'pn',
      },
      content: [...g.participants].map(
        ([jid, role]): BinaryNode => ({
          tag: 'participant',
          attrs: role ? { jid, type: role } : { jid },
        }),
      ),
    };
  }

  /** The `w:gp2` notification WhatsApp sends the members' devices for a participant change. */
  notification(g: GroupState, action: ParticipantAction, jids: string[], actor: string): BinaryNode {
    return {
      tag: 'notification',
      attrs: {
        from: g.id,
        type: 'w:gp2',
        id: String(randomInt(10 ** 9, 2 ** 31)),
        participant: pnJid(actor),
        t: String(Math.floor(Date.now() / 1000)),
      },
      content: [
        { tag: action, attrs: {}, content: jids.map((jid) => ({ tag: 'participant', attrs: { jid } })) },
      ],
    };
  }

  /** The `w:gp2` notification of a group created by someone else, with the account among its members. */
  createdNotification(g: GroupState): BinaryNode {
    return {
      tag: 'notification',
      attrs: {
        from: g.id,
        type: 'w:gp2',
        id: String(randomInt(10 ** 9, 2 ** 31)),
        participant: g.creator,
        t: String(g.creation),
      },
      content: [{ tag: 'create', attrs: {}, content: [this.groupNode(g)] }],
    };
  }

  /**
   * Answers a `w:g2` iq of the account `me` (phone JID). Returns the result content, and any notifications the
   * change causes (to send to the members' devices after the result).
   */
  answer(
    me: string,
    iq: BinaryNode,
  ): { content?: BinaryNode[]; notify?: Array<{ group: GroupState; node: BinaryNode }> } {
    const phone = me.split('@')[0]!;
    this.queryCounts.set(phone, this.queries(phone) + 1);
    if (this.limited.has(phone)) throw new IqError(429, 'rate-overlimit');
    const kids = Array.isArray(iq.content) ? iq.content : [];
    const first = kids[0];
    const to = iq.attrs.to ?? '';
    if (!first) return {};
    if (first.tag === 'create') {
      const members = getBinaryNodeChildren(first, 'participant').map((p) => p.attrs.jid!);
      const g = this.create(first.attrs.subject ?? '', me, members);
      return { content: [this.groupNode(g)] };
    }
    if (first.tag === 'participating') {
      const mine = [...this.groups.values()].filter((g) => g.participants.has(pnJid(me)));
      return { content: [{ tag: 'groups', attrs: {}, content: mine.map((g) => this.groupNode(g)) }] };
    }
    const g = this.groups.get(to);
    if (!g?.participants.has(pnJid(me))) throw new IqError(404, 'item-not-found');
    if (first.tag === 'query') return { content: [this.groupNode(g)] };
    if (ACTIONS.has(first.tag)) {
      const action = first.tag as ParticipantAction;
      if (g.participants.get(pnJid(me)) == null) throw new IqError(403, 'not-authorized');
      const jids = getBinaryNodeChildren(first, 'participant').map((p) => p.attrs.jid!);
      const done = this.change(g.id, action, jids);
      return {
        content: [
          { tag: action, attrs: {}, content: done.map((jid) => ({ tag: 'participant', attrs: { jid } })) },
        ],
        notify: done.length ? [{ group: g, node: this.notification(g, action, done, me) }] : [],
      };
    }
    if (first.tag === 'leave') {
      this.change(g.id, 'remove', [me]);
      return {};
    }
    return {};
  }

  /**
   * A contact's group message: the sender key distribution message (to go 1:1, inside a pkmsg/msg) and the
   * skmsg ciphertext of `message` under the contact's sender key for the group.
   */
  async encryptFrom(
    groupId: string,
    contactPhone: string,
    message: proto.IMessage,
  ): Promise<{ distribution: proto.IMessage; skmsg: Buffer }> {
    const name = senderName(groupId, contactPhone);
    const skdm = await new GroupSessionBuilder(this.keys.store as never).create(name);
    const skmsg = await new GroupCipher(this.keys.store as never, name).encrypt(
      pad(proto.Message.encode(message).finish()),
    );
    return {
      distribution: {
        senderKeyDistributionMessage: { groupId, axolotlSenderKeyDistributionMessage: skdm.serialize() },
      },
      skmsg: Buffer.from(skmsg),
    };
  }

  /** Keeps the sender key an account's device distributed for a group (from a decrypted 1:1 payload). */
  async acceptDistribution(groupId: string, accountPhone: string, skdm: Uint8Array): Promise<void> {
    const msg = new SenderKeyDistributionMessage(null, null, null, null, skdm);
    await new GroupSessionBuilder(this.keys.store as never).process(
      senderName(groupId, `acct-${accountPhone}`),
      msg,
    );
  }

  /** Decrypts an account's skmsg with the sender key it distributed earlier. */
  async decryptFrom(groupId: string, accountPhone: string, skmsg: Uint8Array): Promise<proto.Message> {
    const plain = await new GroupCipher(
      this.keys.store as never,
      senderName(groupId, `acct-${accountPhone}`),
    ).decrypt(skmsg);
    return proto.Message.decode(unpadRandomMax16(plain));
  }
}
