// WhatsApp groups per session: a metadata cache (one fetch per group, refreshed by WhatsApp's group events), the
// neutral group view, participant/admin change events, and WhatsApp's rate-overlimit turned into a clear 429.
import type { GroupMetadata, GroupParticipant, ParticipantAction } from 'baileys';
import { SbError } from '../../domain/errors.js';
import type { ProviderEvent } from '../../ports/provider.js';
import { bareJid, phoneOf } from './mapper.js';

/** A group as the API shows it. */
export interface GroupView {
  id: string;
  subject: string;
  description: string | null;
  owner: string | null;
  owner_phone: string | null;
  /** ISO time of creation, when WhatsApp told it. */
  created_at: string | null;
  size: number;
  /** Only admins may send (announcement group). */
  announce: boolean;
  /** Only admins may edit the group info. */
  restrict: boolean;
  participants: Array<{ id: string; phone: string | null; admin: 'admin' | 'superadmin' | null }>;
}

/** The part of Baileys' socket the cache uses. */
export interface GroupSocket {
  groupMetadata(jid: string): Promise<GroupMetadata>;
  groupFetchAllParticipating(): Promise<{ [id: string]: GroupMetadata }>;
}

/** Seconds a caller should wait after WhatsApp answered rate-overlimit (WhatsApp sends no hint; this is ours). */
export const RATE_LIMIT_RETRY_S = 60;

/** True for WhatsApp's `429 rate-overlimit` (Baileys: a Boom with `data: 429`, or status 429). */
export function isRateOverlimit(err: unknown): boolean {
  const e = err as { data?: unknown; output?: { statusCode?: number }; message?: string } | null;
  return e?.data === 429 || e?.output?.statusCode === 429 || /rate-overlimit/i.test(e?.message ?? '');
}

/** WhatsApp's refusal as SB_ERR_RATE_LIMITED (429 with Retry-After); anything else unchanged. */
export function rateLimitError(err: unknown): unknown {
  if (!isRateOverlimit(err)) return err;
  return new SbError('SB_ERR_RATE_LIMITED', 'WhatsApp answered rate-overlimit; try again later', {
    cause: err,
    headers: { 'Retry-After': String(RATE_LIMIT_RETRY_S) },
    details: { retry_after_seconds: RATE_LIMIT_RETRY_S, source: 'whatsapp' },
  });
}

const participantView = (p: GroupParticipant): GroupView['participants'][number] => {
  const x = p as GroupParticipant & { phoneNumber?: string };
  const id = bareJid(x.phoneNumber && phoneOf(x.phoneNumber) ? x.phoneNumber : x.id);
  return { id, phone: phoneOf(id), admin: p.admin === 'admin' || p.admin === 'superadmin' ? p.admin : null };
};

/** Baileys' group metadata → the API's view. */
export function groupView(m: GroupMetadata): GroupView {
  const ownerPn = (m as GroupMetadata & { ownerPn?: string }).ownerPn;
  const owner = ownerPn ?? m.owner ?? null;
  return {
    id: m.id,
    subject: m.subject ?? '',
    description: m.desc ?? null,
    owner: owner ? bareJid(owner) : null,
    owner_phone: phoneOf(owner),
    created_at: m.creation ? new Date(m.creation * 1000).toISOString() : null,
    size: m.size ?? m.participants?.length ?? 0,
    announce: !!m.announce,
    restrict: !!m.restrict,
    participants: (m.participants ?? []).map(participantView),
  };
}

/**
 * Group metadata of one session. Listing fetches all groups once (`w:g2 participating`); a group not yet cached is
 * fetched once; Baileys' `cachedGroupMetadata` reads from here, so sending to a group never queries per message.
 * WhatsApp's `groups.upsert`, `groups.update` and `group-participants.update` keep it current.
 */
export class GroupCache {
  private readonly byId = new Map<string, GroupMetadata>();
  private listed = false;

  constructor(
    private readonly emit: (e: ProviderEvent) => Promise<void>,
    /** Called with every group learned or renamed (the session names the group's chat after its subject). */
    private readonly onMeta: (g: {
      id: string;
      subject: string;
      creation?: number;
    }) => Promise<void> = async () => {},
    /** Where a failed metadata fetch for a send is reported (Baileys then fetches the metadata itself). */
    private readonly warn: (obj: Record<string, unknown>, msg: string) => void = () => {},
  ) {}

  private async keep(g: GroupMetadata): Promise<void> {
    const old = this.byId.get(g.id);
    this.byId.set(g.id, g);
    if (g.subject !== undefined && old?.subject !== g.subject) await this.onMeta(g);
  }

  /** Every group the account is in; fetched from WhatsApp on the first call (or with `refresh`). */
  async list(sock: GroupSocket, refresh = false): Promise<GroupMetadata[]> {
    if (!this.listed || refresh) {
      const all = await sock.groupFetchAllParticipating().catch((e) => {
        throw rateLimitError(e);
      });
      const before = new Map(this.byId);
      this.byId.clear();
      for (const g of Object.values(all)) {
        const old = before.get(g.id);
        if (old) this.byId.set(g.id, old);
        await this.keep(g);
      }
      this.listed = true;
    }
    return [...this.byId.values()];
  }

  /** One group, from the cache or fetched once. */
  async get(sock: GroupSocket, id: string): Promise<GroupMetadata> {
    const hit = this.byId.get(id);
    if (hit) return hit;
    const meta = await sock.groupMetadata(id).catch((e) => {
      throw rateLimitError(e);
    });
    await this.keep(meta);
    return meta;
  }

  /** For Baileys' `cachedGroupMetadata`: the cached entry, or a fetch that fills the cache (undefined on failure). */
  async forSend(sock: GroupSocket | null, id: string): Promise<GroupMetadata | undefined> {
    const hit = this.byId.get(id);
    if (hit || !sock) return hit;
    try {
      return await this.get(sock, id);
    } catch (err) {
      // Not cached, then: Baileys fetches the metadata itself for this send.
      this.warn(
        { err: err instanceof Error ? err.message : String(err), group_id: id },
        'group metadata fetch failed',
      );
      return undefined;
    }
  }

  /** New groups (created, or the account was added): cached and announced. */
  async onUpsert(list: GroupMetadata[]): Promise<void> {
    for (const g of list) {
      await this.keep(g);
      await this.emit({
        type: 'group',
        event: 'group.update',
        data: { action: 'create', group: groupView(g) },
      });
    }
  }

  /** Changed group fields (subject, description, settings); a full listing arrives here too. */
  async onUpdate(list: Array<Partial<GroupMetadata>>): Promise<void> {
    for (const u of list) {
      if (!u.id) continue;
      const old = this.byId.get(u.id);
      if (old) await this.keep({ ...old, ...dropUndefined(u) } as GroupMetadata);
      // A full entry (a re-listing after WhatsApp's "groups dirty" notice) for a group not cached yet.
      else if (Array.isArray(u.participants) && u.subject !== undefined) await this.keep(u as GroupMetadata);
      const changed = Object.keys(dropUndefined(u)).filter(
        (k) => !['id', 'author', 'authorPn', 'authorUsername', 'participants'].includes(k),
      );
      // A full listing (no author) is not a change anyone made.
      if (!u.author || changed.length === 0) continue;
      const fields: Record<string, unknown> = {};
      for (const k of changed) fields[k === 'desc' ? 'description' : k] = (u as Record<string, unknown>)[k];
      await this.emit({
        type: 'group',
        event: 'group.update',
        data: { action: 'update', group_id: u.id, author: bareJid(u.author), changes: fields },
      });
    }
  }

  /** Participants added, removed, promoted or demoted: the cached list follows, and the change is announced. */
  async onParticipants(u: {
    id: string;
    author?: string;
    authorPn?: string;
    participants: GroupParticipant[] | string[];
    action: ParticipantAction;
  }): Promise<void> {
    const people = u.participants.map((p) =>
      participantView(typeof p === 'string' ? ({ id: p } as GroupParticipant) : p),
    );
    const meta = this.byId.get(u.id);
    if (meta) {
      const ids = new Set(people.map((p) => p.id));
      let list = meta.participants.filter((p) => !ids.has(participantView(p).id));
      if (u.action === 'add') list = [...list, ...people.map((p) => ({ id: p.id, admin: null }))];
      if (u.action === 'promote' || u.action === 'demote') {
        list = [
          ...list,
          ...people.map((p) => ({ id: p.id, admin: u.action === 'promote' ? ('admin' as const) : null })),
        ];
      }
      this.byId.set(u.id, { ...meta, participants: list, size: list.length });
    }
    const author = u.authorPn ?? u.author;
    await this.emit({
      type: 'group',
      event: 'group.participants',
      data: {
        group_id: u.id,
        action: u.action,
        author: author ? bareJid(author) : null,
        author_phone: phoneOf(author),
        participants: people.map(({ id, phone }) => ({ id, phone })),
      },
    });
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
