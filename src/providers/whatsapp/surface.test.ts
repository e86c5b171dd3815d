// Unit tests of the WhatsApp surface helpers: LID pairs, mentions, voice notes, the group cache and rate limits.
import type { GroupMetadata } from 'baileys';
import { describe, expect, it } from 'vitest';
import { SbError } from '../../domain/errors.js';
import type { ProviderEvent } from '../../ports/provider.js';
import { GroupCache, groupView, isRateOverlimit, rateLimitError } from './groups.js';
import { pairOf, pairOfKey } from './identities.js';
import { mapMessage, mediaContent } from './mapper.js';
import { mentionsIn } from './outbound.js';

const PN = '4915112345678@s.whatsapp.net';
const LID = '123456789012345@lid';

describe('LID pairs', () => {
  it('pairs a LID and a phone JID in either order, dropping device suffixes', () => {
    expect(pairOf(LID, PN)).toEqual({ lid: LID, pn: PN });
    expect(pairOf('4915112345678:3@s.whatsapp.net', '123456789012345:3@lid')).toEqual({ lid: LID, pn: PN });
    expect(pairOf(PN, PN)).toBeNull();
    expect(pairOf(LID, undefined)).toBeNull();
    expect(pairOf('120363000000000001@g.us', PN)).toBeNull();
  });

  it('reads 1:1 alts and group participant alts from a message key', () => {
    expect(pairOfKey({ remoteJid: LID, remoteJidAlt: PN } as never)).toEqual({ lid: LID, pn: PN });
    expect(
      pairOfKey({ remoteJid: '1203630001@g.us', participant: PN, participantAlt: LID } as never),
    ).toEqual({ lid: LID, pn: PN });
    expect(pairOfKey({ remoteJid: PN } as never)).toBeNull();
  });
});

describe('outbound', () => {
  it('finds @digits mentions, once each, not inside e-mail addresses', () => {
    expect(mentionsIn('hi @4915112345678 and @4915112345678, mail a@123456789')).toEqual([PN]);
    expect(mentionsIn('@12345 too short')).toEqual([]);
    expect(mentionsIn(undefined)).toEqual([]);
  });

  it('sends Ogg audio as a voice note and other audio as a file', () => {
    const data = Buffer.from('x');
    expect(mediaContent(data, { mimetype: 'audio/ogg; codecs=opus' })).toMatchObject({
      audio: data,
      ptt: true,
    });
    expect(mediaContent(data, { mimetype: 'audio/mpeg' })).not.toHaveProperty('ptt');
    // WebP is a sticker, unless it has a caption (a sticker cannot carry one): then an image
    expect(mediaContent(data, { mimetype: 'image/webp' })).toEqual({ sticker: data, mimetype: 'image/webp' });
    expect(mediaContent(data, { mimetype: 'image/webp', caption: 'c' })).toMatchObject({
      image: data,
      caption: 'c',
    });
    expect(mediaContent(data, { mimetype: 'application/pdf', filename: 'a.pdf' })).toMatchObject({
      document: data,
      fileName: 'a.pdf',
    });
  });
});

describe('inbound mapping', () => {
  const key = { remoteJid: '120363000000000001@g.us', id: 'M1', participant: PN };
  it('keeps the mentioned JIDs of a text and of a media caption (device suffix dropped, once each)', () => {
    const text = mapMessage(
      {
        key,
        message: {
          extendedTextMessage: {
            text: 'hi @4915112345678 @123456789012345',
            contextInfo: { mentionedJid: ['4915112345678:2@s.whatsapp.net', LID, PN] },
          },
        },
      } as never,
      null,
    );
    expect(text?.mentions).toEqual([PN, LID]);
    const image = mapMessage(
      { key, message: { imageMessage: { caption: 'look', contextInfo: { mentionedJid: [PN] } } } } as never,
      null,
    );
    expect(image).toMatchObject({ type: 'image', body: 'look', mentions: [PN] });
    const plain = mapMessage({ key, message: { conversation: 'no one' } } as never, null);
    expect(plain?.mentions).toBeUndefined();
  });

  it('maps a sticker to type sticker with its media facts', () => {
    const m = mapMessage(
      { key, message: { stickerMessage: { mimetype: 'image/webp', fileLength: 42, width: 512 } } } as never,
      null,
    );
    expect(m).toMatchObject({ type: 'sticker', media: { mimetype: 'image/webp', size: 42, width: 512 } });
  });
});

describe('group cache', () => {
  const meta = (id: string, participants: string[]): GroupMetadata =>
    ({
      id,
      subject: 'Team',
      owner: PN,
      creation: 1_700_000_000,
      participants: participants.map((p, i) => ({ id: p, admin: i === 0 ? 'superadmin' : null })),
    }) as GroupMetadata;

  it('fetches the list once, then serves and updates it from events', async () => {
    const events: ProviderEvent[] = [];
    const cache = new GroupCache(async (e) => {
      events.push(e);
    });
    let fetches = 0;
    const sock = {
      groupFetchAllParticipating: async () => {
        fetches++;
        return { 'g1@g.us': meta('g1@g.us', [PN, '4915100000001@s.whatsapp.net']) };
      },
      groupMetadata: async (id: string) => {
        fetches++;
        return meta(id, [PN]);
      },
    };
    expect((await cache.list(sock)).length).toBe(1);
    await cache.list(sock);
    expect(await cache.forSend(sock, 'g1@g.us')).toBeDefined();
    expect(fetches).toBe(1);
    await cache.onParticipants({
      id: 'g1@g.us',
      author: PN,
      participants: [{ id: '4915100000002@s.whatsapp.net' }] as never,
      action: 'add',
    });
    const view = groupView((await cache.get(sock, 'g1@g.us'))!);
    expect(view.size).toBe(3);
    expect(view.participants[0]).toEqual({ id: PN, phone: '+4915112345678', admin: 'superadmin' });
    expect(events).toEqual([
      {
        type: 'group',
        event: 'group.participants',
        data: {
          group_id: 'g1@g.us',
          action: 'add',
          author: PN,
          author_phone: '+4915112345678',
          participants: [{ id: '4915100000002@s.whatsapp.net', phone: '+4915100000002' }],
        },
      },
    ]);
    await cache.onUpdate([{ id: 'g1@g.us', subject: 'Renamed', author: PN }]);
    expect((await cache.get(sock, 'g1@g.us')).subject).toBe('Renamed');
    expect(events.at(-1)).toMatchObject({ event: 'group.update', data: { changes: { subject: 'Renamed' } } });
    expect(fetches).toBe(1);
  });

  it('turns WhatsApp rate-overlimit into SB_ERR_RATE_LIMITED with Retry-After, and leaves other errors alone', () => {
    const boom = Object.assign(new Error('rate-overlimit'), { data: 429 });
    expect(isRateOverlimit(boom)).toBe(true);
    const e = rateLimitError(boom) as SbError;
    expect(e).toBeInstanceOf(SbError);
    expect(e.code).toBe('SB_ERR_RATE_LIMITED');
    expect(e.headers['Retry-After']).toBe('60');
    const other = new Error('item-not-found');
    expect(rateLimitError(other)).toBe(other);
  });
});
