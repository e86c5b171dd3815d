// The event union is checked at compile time (a wrong payload is a tsc error) and names every schema it derives from.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EVENT_DATA, EVENT_TYPES, eventTypeName, type NewEvent } from './events.js';

const base = { instance_id: null, company_id: 'c' };

describe('event union', () => {
  it('accepts a payload of its type and rejects (tsc) a wrong one', () => {
    const ok: NewEvent = {
      ...base,
      type: 'message.ack',
      data: { id: 'a', message_id: null, chat_id: 'c', status: 'read' },
    };
    const missing: NewEvent = {
      ...base,
      type: 'message.ack',
      // @ts-expect-error a message.ack without its chat_id
      data: { id: 'a', message_id: null, status: 'read' },
    };
    const extra: NewEvent = {
      ...base,
      type: 'logout',
      // @ts-expect-error a field the logout schema does not have
      data: { reason: 'requested', account: null, phone: '+1' },
    };
    const swapped: NewEvent = {
      ...base,
      type: 'qr',
      // @ts-expect-error the data of another type
      data: { reason: 'requested', account: null },
    };
    expect(EVENT_DATA['message.ack'].safeParse(ok.data).success).toBe(true);
    for (const e of [missing, extra, swapped])
      expect(EVENT_DATA[e.type].safeParse(e.data).success).toBe(false);
  });

  it('lists every type once and names each schema as an OpenAPI component', () => {
    expect(EVENT_TYPES).toEqual(Object.keys(EVENT_DATA));
    expect(new Set(EVENT_TYPES).size).toBe(EVENT_TYPES.length);
    for (const type of EVENT_TYPES) {
      expect(z.globalRegistry.get(EVENT_DATA[type])?.id).toBe(`${eventTypeName(type)}EventData`);
      expect(z.globalRegistry.get(EVENT_DATA[type])?.description, type).toBeTruthy();
    }
    expect(eventTypeName('message.ack')).toBe('MessageAck');
    expect(eventTypeName('reconnect_failed')).toBe('ReconnectFailed');
  });
});
