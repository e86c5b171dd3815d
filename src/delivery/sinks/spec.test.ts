// Sink settings: templates, stream subjects, credential splitting and redaction, scrubbing of error texts.
import { describe, expect, it } from 'vitest';
import {
  amqpConnectUrl,
  createSinkBody,
  redactedUrl,
  renderTemplate,
  scrub,
  sinkColumns,
  streamSubjects,
  templateSchema,
} from './spec.js';

const event = { id: 42, type: 'message.ack', company_id: 'acme.eu', instance_id: 'i-1' };

describe('sink templates', () => {
  it('renders ids as single tokens and keeps the dots of a type', () => {
    expect(renderTemplate('switchboard.{company_id}.{instance_id}.{type}', event)).toBe(
      'switchboard.acme_eu.i-1.message.ack',
    );
    expect(renderTemplate('sb.{instance_id}.{event_id}', { ...event, instance_id: null })).toBe('sb._.42');
  });

  it('accepts tokens and known placeholders only, with a literal first token', () => {
    expect(templateSchema.safeParse('switchboard.{company_id}.{type}').success).toBe(true);
    for (const bad of ['{type}.x', 'a..b', 'a.{secret}', 'a.b*', 'a.>', 'a b', '']) {
      expect(templateSchema.safeParse(bad).success, bad).toBe(false);
    }
    expect(streamSubjects('switchboard.{company_id}.{type}')).toEqual(['switchboard.>']);
  });
});

describe('sink credentials', () => {
  it('keeps AMQP credentials out of the stored URL and shows the password as ***', () => {
    const body = createSinkBody.parse({
      kind: 'rabbitmq',
      url: 'amqp://app:s%40cret@rabbit:5672/prod',
      exchange: 'events',
    });
    const cols = sinkColumns(body);
    expect(cols.url).toBe('amqp://rabbit:5672/prod');
    expect(cols.credentials).toBe(JSON.stringify({ username: 'app', password: 's@cret' }));
    const ep = { url: cols.url, credentials: cols.credentials ?? null };
    expect(redactedUrl(ep)).toBe('amqp://app:***@rabbit:5672/prod');
    expect(amqpConnectUrl(ep)).toBe('amqp://app:s%40cret@rabbit:5672/prod');
    expect(cols.options).toEqual({
      exchange: 'events',
      exchange_type: 'topic',
      routing_key: 'switchboard.{company_id}.{instance_id}.{type}',
    });
  });

  it('takes a NATS token or user/password from the server URL or the fields', () => {
    const token = sinkColumns(createSinkBody.parse({ kind: 'nats', servers: ['nats://t0ken@nats:4222'] }));
    expect(token.url).toBe('nats://nats:4222');
    expect(JSON.parse(token.credentials!)).toEqual({ token: 't0ken' });
    const user = sinkColumns(
      createSinkBody.parse({ kind: 'nats', servers: ['nats://nats:4222'], user: 'u', pass: 'p4ss' }),
    );
    expect(JSON.parse(user.credentials!)).toEqual({ username: 'u', password: 'p4ss' });
    expect(user.options).toMatchObject({ stream: 'SWITCHBOARD', servers: ['nats://nats:4222'] });
  });

  it('scrubs secrets, also URL-encoded, from error texts', () => {
    expect(scrub('login s@cret refused (s%40cret)', ['s@cret'])).toBe('login *** refused (***)');
  });
});
