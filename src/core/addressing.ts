// Recipient normalisation: phone numbers to E.164 WhatsApp JIDs, JIDs kept, Telegram chat ids checked.
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { SbError } from '../domain/errors.js';

const JID = /^[0-9A-Za-z._:-]+@(s\.whatsapp\.net|c\.us|g\.us|lid|broadcast|newsletter)$/;

const invalid = (field: string, message: string) =>
  new SbError('SB_ERR_VALIDATION', `${field}: ${message}`, { details: [{ path: field, message }] });

/** How many numbers the E.164 cache holds (least recently used dropped first). */
export const E164_CACHE_MAX = 10_000;
/** Digits (with `+`) → E.164 or null: libphonenumber's parse is the costliest step of a send's own work. */
const e164Cache = new Map<string, string | null>();

/** E.164 (`+4915123456789`) for a phone number in any common notation, or null when it is not valid. */
export function toE164(phone: string): string | null {
  const digits = phone.trim().replace(/[\s()./-]/g, '');
  if (!/^\+?\d{6,16}$/.test(digits)) return null;
  const key = digits.startsWith('+') ? digits : `+${digits}`;
  const hit = e164Cache.get(key);
  if (hit !== undefined) {
    // Most recently used goes last (a Map iterates in insertion order).
    e164Cache.delete(key);
    e164Cache.set(key, hit);
    return hit;
  }
  const parsed = parsePhoneNumberFromString(key);
  const e164 = parsed?.isValid() ? parsed.number : null;
  if (e164Cache.size >= E164_CACHE_MAX) e164Cache.delete(e164Cache.keys().next().value!);
  e164Cache.set(key, e164);
  return e164;
}

/**
 * Turns what a caller wrote as a recipient into the provider's chat id.
 * `phone` addressing: a phone number → `<digits>@s.whatsapp.net`; JIDs kept (`@c.us` → `@s.whatsapp.net`).
 * `chat_id` addressing: a numeric chat id (may be negative) or an `@channel` username.
 */
export function normalizeRecipient(to: string, addressing: 'phone' | 'chat_id', field = 'to'): string {
  const t = to.trim();
  if (addressing === 'chat_id') {
    if (/^-?\d{1,20}$/.test(t) || /^@[A-Za-z][A-Za-z0-9_]{4,31}$/.test(t)) return t;
    throw invalid(field, 'expected a Telegram chat id (digits, may be negative) or an @channel username');
  }
  if (JID.test(t)) return t.endsWith('@c.us') ? t.replace(/@c\.us$/, '@s.whatsapp.net') : t;
  const e164 = toE164(t);
  if (!e164) throw invalid(field, 'expected a phone number (E.164, e.g. +4915123456789) or a WhatsApp JID');
  return `${e164.slice(1)}@s.whatsapp.net`;
}

/** The phone number in E.164 for a WhatsApp user JID, or null for groups and LIDs. */
export function phoneOfJid(jid: string): string | null {
  const m = /^(\d{6,16})(?::\d+)?@s\.whatsapp\.net$/.exec(jid);
  return m ? `+${m[1]}` : null;
}
