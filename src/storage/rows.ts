// Row mapping and keyset-cursor helpers shared by the SQL repositories.
import { SbError } from '../domain/errors.js';

export const iso = (v: unknown): string | null =>
  v === null || v === undefined
    ? null
    : v instanceof Date
      ? v.toISOString()
      : new Date(String(v)).toISOString();

export const isoReq = (v: unknown): string => iso(v) ?? new Date(0).toISOString();

/** Opaque cursor: base64url of a JSON array of the keyset values of the last row. */
export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): unknown[] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === arity &&
      v.every((x) => typeof x === 'string' || typeof x === 'number')
    ) {
      return v;
    }
  } catch {
    // fall through to the coded error below
  }
  throw new SbError('SB_ERR_VALIDATION', 'invalid cursor', {
    details: [{ path: 'cursor', message: 'invalid cursor' }],
  });
}
