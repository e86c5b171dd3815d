// The served OpenAPI document is a contract tools can use: valid per an independent validator, every $ref resolving,
// a unique camelCase operationId on every operation, described responses, and the event payloads under `webhooks`.
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../../test/support/gateway.js';
import { DELIVERED_EVENT_TYPES, deriveOperationId } from './transform.js';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

describe('OpenAPI document', () => {
  let t: TestGateway;
  let doc: any;
  beforeAll(async () => {
    t = await startTestGateway();
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.1 document in which every $ref resolves (swagger-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeTruthy();
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map(
      (m) => m[1],
    );
    expect(refs.length).toBeGreaterThan(0);
    for (const name of new Set(refs)) expect(doc.components.schemas, name).toHaveProperty(name as string);
  });

  it('gives every operation a unique camelCase operationId', () => {
    const ids: string[] = [];
    for (const methods of Object.values<Record<string, { operationId?: string }>>(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (!METHODS.includes(method)) continue;
        expect(op.operationId, `${method} operation without operationId`).toMatch(/^[a-z][A-Za-z0-9]*$/);
        ids.push(op.operationId as string);
      }
    }
    for (const hook of Object.values<{ post: { operationId: string } }>(doc.webhooks))
      ids.push(hook.post.operationId);
    expect(ids.length).toBeGreaterThan(50);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('describes every response (no "Default Response") and gives error bodies a schema', () => {
    const bad: string[] = [];
    for (const [path, methods] of Object.entries<Record<string, { responses?: Record<string, any> }>>(
      doc.paths,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        for (const [status, r] of Object.entries(op.responses ?? {})) {
          if (!r.description || r.description === 'Default Response') bad.push(`${method} ${path} ${status}`);
          const schema = r.content?.['application/json']?.schema;
          // Error bodies are the coded Error schema, or a route's documented seed-compatible object (e.g. /ready's 503).
          if (
            Number(status) >= 400 &&
            schema &&
            schema.$ref !== '#/components/schemas/Error' &&
            schema.type !== 'object'
          ) {
            bad.push(`${method} ${path} ${status}: error body is neither the Error schema nor an object`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('describes each delivered event type under `webhooks` with the signature headers', () => {
    expect(Object.keys(doc.webhooks).sort()).toEqual([...DELIVERED_EVENT_TYPES].sort());
    const ack = doc.webhooks['message.ack'].post;
    expect(ack.parameters.map((p: { name: string }) => p.name)).toEqual([
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]);
    expect(ack.requestBody.content['application/json'].schema.allOf[0]).toEqual({
      $ref: '#/components/schemas/Event',
    });
    // The payload is the component generated from the domain schema (src/domain/events.ts), not a free-form object.
    expect(ack.requestBody.content['application/json'].schema.allOf[1].properties.data).toEqual({
      $ref: '#/components/schemas/MessageAckEventData',
    });
    expect(Object.keys(doc.components.schemas.MessageAckEventData.properties).sort()).toEqual([
      'chat_id',
      'id',
      'message_id',
      'status',
    ]);
    // Published open to new fields (a field added later must not break a consumer's validator), at every depth.
    const closed = Object.entries(doc.components.schemas)
      .filter(
        ([name, schema]) =>
          name.endsWith('EventData') && JSON.stringify(schema).includes('"additionalProperties":false'),
      )
      .map(([name]) => name);
    expect(closed).toEqual([]);
    expect(Object.keys(doc.components.schemas).filter((n) => n.endsWith('EventData')).length).toBeGreaterThan(
      10,
    );
  });
});

describe('deriveOperationId', () => {
  it('names operations by method and path words, parameters as By<Name>', () => {
    expect(deriveOperationId('POST', '/api/v1/instances/:id/start')).toBe('postInstancesByIdStart');
    expect(deriveOperationId('GET', '/api/whatsapp/sessions/:companyId/status')).toBe(
      'getWhatsappSessionsByCompanyIdStatus',
    );
    expect(deriveOperationId('POST', '/api/v1/webhooks/:id/rotate-secret')).toBe(
      'postWebhooksByIdRotateSecret',
    );
    expect(deriveOperationId('GET', '/health')).toBe('getHealth');
  });
});
