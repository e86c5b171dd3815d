// The input guard on a bare Fastify app: refuses hostile text in API input, scrubs it in provider webhooks.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerErrorHandling } from './errors.js';
import { registerInputGuard } from './input-guard.js';

async function app() {
  const a = Fastify();
  registerErrorHandling(a);
  registerInputGuard(a);
  a.post('/api/echo/:id', async (req) => ({ body: req.body }));
  a.post('/webhooks/echo/:id', async (req) => ({ body: req.body }));
  // A plugin with its own body parser (as the WAHA webhook has) is still guarded.
  await a.register(async (p) => {
    p.removeContentTypeParser('application/json');
    p.addContentTypeParser('application/json', { parseAs: 'string' }, (_r, b, done) =>
      done(null, JSON.parse(String(b))),
    );
    p.post('/api/raw', async (req) => ({ body: req.body }));
  });
  await a.ready();
  return a;
}

const post = (a: Awaited<ReturnType<typeof app>>, url: string, payload: string) =>
  a.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

describe('input guard', () => {
  it('refuses NUL and lone surrogates in the body, params and query with a coded 400 naming the field', async () => {
    const a = await app();
    const body = await post(a, '/api/echo/1', '{"contact":{"names":["ok","Ev\\u0000e"]}}');
    expect(body.statusCode).toBe(400);
    expect(body.json().error).toMatchObject({
      code: 'SB_ERR_VALIDATION',
      details: [{ in: 'body', path: 'contact.names.1', message: expect.stringMatching(/NUL/) }],
    });
    const lone = await post(a, '/api/raw', '{"a":"\\ud800"}');
    expect(lone.json().error).toMatchObject({ code: 'SB_ERR_VALIDATION', details: [{ path: 'a' }] });
    const param = await post(a, '/api/echo/x%00y', '{}');
    expect(param.json().error.details).toEqual([{ in: 'params', path: 'id', message: expect.any(String) }]);
    const query = await post(a, '/api/echo/1?q=%00', '{}');
    expect(query.json().error.details).toEqual([
      { in: 'querystring', path: 'q', message: expect.any(String) },
    ]);
    await a.close();
  });

  it('refuses deep JSON even behind a plugin parser, and scrubs hostile text in provider webhooks', async () => {
    const a = await app();
    const deep = await post(a, '/api/raw', `${'['.repeat(65)}${']'.repeat(65)}`);
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error).toMatchObject({ code: 'SB_ERR_BAD_JSON', details: { max_depth: 64 } });
    const ok = await post(a, '/api/raw', `${'['.repeat(64)}${']'.repeat(64)}`);
    expect(ok.statusCode).toBe(200);
    const hook = await post(
      a,
      '/webhooks/echo/1',
      '{"message":{"text":"a\\u0000b","from":{"first_name":"\\udc00x"}}}',
    );
    expect(hook.statusCode).toBe(200);
    expect(hook.json().body).toEqual({ message: { text: 'a\uFFFDb', from: { first_name: '\uFFFDx' } } });
    await a.close();
  });
});
