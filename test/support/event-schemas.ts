// Test helper: what is wrong with an event's payload per its type's schema (src/domain/events.ts), strictly.
import { z } from 'zod';
import { EVENT_DATA, EVENT_TYPES, type EventType, messageSchema } from '../../src/domain/events.js';

/** Every mismatch of one event with its type's `data` schema (unknown fields too); empty when it matches. */
export function eventProblems(e: { type: string; data: unknown }): string[] {
  if (!(EVENT_TYPES as string[]).includes(e.type)) return [`unknown event type ${e.type}`];
  const out = EVENT_DATA[e.type as EventType].safeParse(e.data);
  const issues = out.success ? [] : out.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (e.type === 'message') {
    // The Message component stays open for API responses; here its fields are checked strictly too.
    const m = z.strictObject(messageSchema.shape).safeParse((e.data as { message?: unknown }).message);
    if (!m.success) issues.push(...m.error.issues.map((i) => `message.${i.path.join('.')}: ${i.message}`));
  }
  return issues.map((i) => `${e.type}: ${i}`);
}
