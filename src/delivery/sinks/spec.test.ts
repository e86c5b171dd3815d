// Sink settings: templates, stream subjects, credential splitting and redaction, scrubbing of error texts.
import { describe, expect, it } from 'vitest';
import {
  amqpConnectUrl,
  createSinkBody,
  redactedUrl,
  renderTemplate,
  scrub,
  sinkColumns,
  sinkView,
  streamSubjects,
  templateSchema,
  topicTemplateSchema,
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

describe('MQTT topic templates', () => {
  it('renders levels with ids as single levels and a type kept whole (dots and all)', () => {
    expect(renderTemplate('switchboard/{company_id}/{instance_id}/{type}', event)).toBe(
      'switchboard/acme_eu/i-1/message.ack',
    );
    // An id with a slash or a wildcard character stays one level and publishes no wildcard.
    expect(renderTemplate('sb/{company_id}/{type}', { ...event, company_id: 'a/+#' })).toBe(
      'sb/a___/message.ack',
    );
  });

  it('refuses wildcards, empty levels, a placeholder or $ first, unknown placeholders', () => {
    expect(topicTemplateSchema.safeParse('switchboard/{company_id}/{type}').success).toBe(true);
    expect(topicTemplateSchema.safeParse('sb.v1/{event_id}').success).toBe(true);
    for (const bad of [
      'sb/+/x',
      'sb/#',
      '#',
      '$SYS/x',
      'sb//x',
      '/sb',
      'sb/',
      '{type}/x',
      'sb/{secret}',
      'a b',
      '',
    ]) {
      expect(topicTemplateSchema.safeParse(bad).success, bad).toBe(false);
    }
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

  it('keeps MQTT credentials (URL or fields, the fields winning) out of the stored URL and the view', () => {
    const cols = sinkColumns(
      createSinkBody.parse({ kind: 'mqtt', url: 'mqtts://app:s%40cret@broker:8883/', pass: 'f1eld' }),
    );
    expect(cols.url).toBe('mqtts://broker:8883');
    expect(cols.hosts).toEqual(['mqtts://broker:8883']);
    expect(JSON.parse(cols.credentials!)).toEqual({ username: 'app', password: 'f1eld' });
    expect(cols.options).toEqual({ topic: 'switchboard/{company_id}/{instance_id}/{type}' });
    const now = new Date().toISOString();
    const view = sinkView({
      id: 's',
      company_id: 'acme',
      instance_id: null,
      kind: 'mqtt',
      url: cols.url,
      events: [],
      inbound_only: false,
      include_groups: true,
      enabled: true,
      secret: 'whsec_x',
      previous_secret: null,
      previous_expires_at: null,
      options: cols.options ?? {},
      credentials: cols.credentials ?? null,
      disabled_reason: null,
      failing_since: null,
      created_at: now,
      updated_at: now,
    });
    expect(view.mqtt).toEqual({
      url: 'mqtts://app:***@broker:8883',
      topic: 'switchboard/{company_id}/{instance_id}/{type}',
    });
    expect(JSON.stringify(view)).not.toContain('f1eld');
    expect(view.rabbitmq).toBeNull();
    for (const url of ['mqtt://broker:1883/path', 'ws://broker:8080', 'tcp://broker:1883']) {
      expect(createSinkBody.safeParse({ kind: 'mqtt', url }).success, url).toBe(false);
    }
  });

  it('scrubs secrets, also URL-encoded, from error texts', () => {
    expect(scrub('login s@cret refused (s%40cret)', ['s@cret'])).toBe('login *** refused (***)');
  });
});
