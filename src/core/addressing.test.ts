// Recipient normalisation for WhatsApp-style and Telegram-style providers.
import { describe, expect, it } from 'vitest';
import { SbError } from '../domain/errors.js';
import { normalizeRecipient, phoneOfJid, toE164 } from './addressing.js';

describe('addressing', () => {
  it('normalises phone numbers in common notations to E.164', () => {
    expect(toE164('+49 151 2345 6789')).toBe('+4915123456789');
    expect(toE164('4915123456789')).toBe('+4915123456789');
    expect(toE164('+1 (415) 555-2671')).toBe('+14155552671');
    expect(toE164('12')).toBeNull();
    expect(toE164('hello')).toBeNull();
  });

  it('turns phones into WhatsApp JIDs and keeps JIDs', () => {
    expect(normalizeRecipient('+4915123456789', 'phone')).toBe('4915123456789@s.whatsapp.net');
    expect(normalizeRecipient('4915123456789@c.us', 'phone')).toBe('4915123456789@s.whatsapp.net');
    expect(normalizeRecipient('120363025246125486@g.us', 'phone')).toBe('120363025246125486@g.us');
    expect(() => normalizeRecipient('not a number', 'phone')).toThrow(SbError);
  });

  it('accepts Telegram chat ids and channel usernames only', () => {
    expect(normalizeRecipient('-1001234567890', 'chat_id')).toBe('-1001234567890');
    expect(normalizeRecipient('@my_channel', 'chat_id')).toBe('@my_channel');
    expect(() => normalizeRecipient('+49 151', 'chat_id')).toThrow(SbError);
  });

  it('reads the phone of a user JID', () => {
    expect(phoneOfJid('4915123456789@s.whatsapp.net')).toBe('+4915123456789');
    expect(phoneOfJid('4915123456789:3@s.whatsapp.net')).toBe('+4915123456789');
    expect(phoneOfJid('123@g.us')).toBeNull();
  });
});
