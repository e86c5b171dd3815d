// Date-time input parsing: strict ISO 8601 or Unix time, real calendar dates, years 0001–9999 only.
import { describe, expect, it } from 'vitest';
import { parseDateTimeInput } from './dates.js';

const iso = (s: string) => parseDateTimeInput(s)?.toISOString() ?? null;

describe('parseDateTimeInput', () => {
  it('accepts ISO dates and date-times with or without an offset, and Unix seconds or milliseconds', () => {
    expect(iso('2030-01-01')).toBe('2030-01-01T00:00:00.000Z');
    expect(iso('2030-01-01T10:00')).toBe('2030-01-01T10:00:00.000Z');
    expect(iso('2030-01-01T10:00:05.123Z')).toBe('2030-01-01T10:00:05.123Z');
    expect(iso('2030-01-01T10:00:00+05:30')).toBe('2030-01-01T04:30:00.000Z');
    expect(iso('2024-02-29T23:59:59-01:00')).toBe('2024-03-01T00:59:59.000Z');
    expect(iso('0001-01-01T00:00:00Z')).toBe('0001-01-01T00:00:00.000Z');
    expect(iso('9999-12-31T23:59:59Z')).toBe('9999-12-31T23:59:59.000Z');
    expect(iso('0099-06-01')).toBe('0099-06-01T00:00:00.000Z');
    expect(iso('1900000000')).toBe('2030-03-17T17:46:40.000Z');
    expect(iso('1900000000000')).toBe('2030-03-17T17:46:40.000Z');
  });

  it('refuses years PostgreSQL or a 4-digit ISO string cannot hold, impossible dates and loose formats', () => {
    for (const bad of [
      '10000-01-01',
      '+010000-01-01T00:00:00Z',
      '-010000-01-01T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:00:00-05:00',
      '0001-01-01T00:30:00+01:00',
      '2023-02-29',
      '2024-02-30T00:00:00Z',
      '2024-04-31',
      '2024-13-01',
      '2024-00-10',
      '2024-01-01T24:00:00Z',
      '2024-01-01T23:60:00Z',
      '2024-01-01T23:00:60Z',
      '2024-01-01T10:00:00+24:00',
      '1/2/3',
      '12',
      'Tue, 01 Dec 2026 10:00:00 GMT',
      '99999999999999',
      '',
      '2024-01-01\u0000',
    ]) {
      expect(parseDateTimeInput(bad), bad).toBeNull();
    }
  });
});
