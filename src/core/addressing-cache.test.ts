// Recipient normalisation is cached: libphonenumber parses a number once, and the cache stays bounded.
import { describe, expect, it, vi } from 'vitest';

const parsed = vi.hoisted(() => ({ calls: 0 }));
vi.mock('libphonenumber-js', async (importOriginal) => {
  const real = await importOriginal<typeof import('libphonenumber-js')>();
  return {
    ...real,
    parsePhoneNumberFromString: (...args: Parameters<typeof real.parsePhoneNumberFromString>) => {
      parsed.calls++;
      return real.parsePhoneNumberFromString(...args);
    },
  };
});

const { normalizeRecipient, toE164, E164_CACHE_MAX } = await import('./addressing.js');

describe('recipient normalisation cache', () => {
  it('parses a number once, however it is asked for again, and caches refusals too', () => {
    parsed.calls = 0;
    expect(normalizeRecipient('+49 151 2345 6789', 'phone')).toBe('4915123456789@s.whatsapp.net');
    expect(normalizeRecipient('+49 151 2345 6789', 'phone')).toBe('4915123456789@s.whatsapp.net');
    expect(toE164('+49 151 2345 6789')).toBe('+4915123456789');
    expect(parsed.calls).toBe(1);
    expect(() => normalizeRecipient('+1 555 000', 'phone')).toThrow(/expected a phone number/);
    expect(() => normalizeRecipient('+1 555 000', 'phone')).toThrow(/expected a phone number/);
    expect(parsed.calls).toBe(2);
  });

  it('holds at most E164_CACHE_MAX numbers, dropping the least recently used', () => {
    const number = (i: number) => `+4915${String(100_000_000 + i).slice(-8)}`;
    parsed.calls = 0;
    toE164(number(0));
    for (let i = 1; i <= E164_CACHE_MAX; i++) {
      toE164(number(i));
      if (i % 1000 === 0) toE164(number(0)); // kept in use: never the least recently used
    }
    expect(parsed.calls).toBe(E164_CACHE_MAX + 1);
    toE164(number(0));
    expect(parsed.calls).toBe(E164_CACHE_MAX + 1);
    toE164(number(1)); // the least recently used one went when the cache overflowed
    expect(parsed.calls).toBe(E164_CACHE_MAX + 2);
  });
});
