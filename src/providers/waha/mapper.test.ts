// WAHA status, ack, id and message mapping.
import { describe, expect, it } from 'vitest';
import { signWahaBody, verifyWahaHmac } from './hmac.js';
import { ackStatus, authOf, fromWahaJid, mapWahaMessage, sentMessageId, toWahaChatId } from './mapper.js';

describe('waha mapper', () => {
  it('maps every WAHA status', () => {
    expect(authOf('WORKING', false)).toBe('client_ready');
    expect(authOf('STARTING', false)).toBeNull();
    expect(authOf('STARTING', true)).toBe('reconnecting');
    expect(authOf('SCAN_QR_CODE', false)).toBeNull();
    expect(authOf('STOPPED', true)).toBe('disconnected');
    expect(authOf('FAILED', true)).toBe('failed');
  });

  it('maps acks and ids', () => {
    expect([-1, 0, 1, 2, 3, 4].map(ackStatus)).toEqual(['failed', null, 'sent', 'delivered', 'read', 'read']);
    expect(fromWahaJid('491511@c.us')).toBe('491511@s.whatsapp.net');
    expect(fromWahaJid('123-456@g.us')).toBe('123-456@g.us');
    expect(toWahaChatId('491511@s.whatsapp.net')).toBe('491511@c.us');
    expect(sentMessageId({ id: 'true_1@c.us_A' })).toBe('true_1@c.us_A');
    expect(sentMessageId({ id: { _serialized: 'true_1@c.us_B' } })).toBe('true_1@c.us_B');
    expect(sentMessageId({ key: { fromMe: true, remoteJid: '1@s.whatsapp.net', id: 'C' } })).toBe(
      'true_1@s.whatsapp.net_C',
    );
    expect(sentMessageId({})).toBeNull();
  });

  it('maps group media messages with the participant as sender', () => {
    const m = mapWahaMessage(
      {
        id: 'false_1-2@g.us_X',
        timestamp: 1_700_000_000,
        from: '1-2@g.us',
        participant: '4915123456789@c.us',
        fromMe: false,
        body: 'look',
        hasMedia: true,
        media: { url: 'http://waha/api/files/x.jpg', mimetype: 'image/jpeg' },
        _data: { notifyName: 'Eve' },
      },
      '4915112345678@s.whatsapp.net',
    )!;
    expect(m).toMatchObject({
      chat_id: '1-2@g.us',
      from: '4915123456789@s.whatsapp.net',
      is_group: true,
      group_id: '1-2@g.us',
      type: 'image',
      contact_name: 'Eve',
      media: { url: 'http://waha/api/files/x.jpg', mimetype: 'image/jpeg', filename: null },
      timestamp: '2023-11-14T22:13:20.000Z',
    });
    expect(mapWahaMessage({ nope: true }, null)).toBeNull();
  });

  it('verifies WAHA HMACs', () => {
    const sig = signWahaBody('{"a":1}', 'k');
    expect(verifyWahaHmac('{"a":1}', sig, 'k')).toBe(true);
    expect(verifyWahaHmac('{"a":2}', sig, 'k')).toBe(false);
    expect(verifyWahaHmac('{"a":1}', undefined, 'k')).toBe(false);
    expect(verifyWahaHmac('{"a":1}', 'zz', 'k')).toBe(false);
  });
});
