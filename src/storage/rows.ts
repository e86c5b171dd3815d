// Row mapping and keyset-cursor helpers shared by the SQL repositories.
import { SbError } from '../domain/errors.js';
import type { Message } from '../domain/model.js';

/** The message fields a batch writes, as a provider or a new row has them (the optional ones default to empty). */
export type MessageFields = Pick<
  Message,
  'chat_id' | 'from' | 'to' | 'body' | 'type' | 'is_from_me' | 'is_group' | 'timestamp'
> &
  Partial<Pick<Message, 'group_id' | 'contact_name' | 'reply_to' | 'media' | 'mentions'>> & {
    message_id: string | null;
  };

/** One message as an element of a `jsonb_to_recordset` batch, under the `messages` table's column names. */
export const messageRecord = (m: MessageFields) => ({
  message_id: m.message_id,
  chat_id: m.chat_id,
  from_id: m.from,
  to_id: m.to,
  body: m.body,
  type: m.type,
  is_from_me: m.is_from_me,
  is_group: m.is_group,
  group_id: m.group_id ?? null,
  contact_name: m.contact_name ?? null,
  reply_to: m.reply_to ?? null,
  media: m.media ?? null,
  mentions: m.mentions ?? [],
  ts: m.timestamp,
});

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

/** A value as a json/jsonb parameter: JSON text, or null for null and undefined. */
export const jsonParam = (v: unknown): string | null =>
  v === null || v === undefined ? null : JSON.stringify(v);
