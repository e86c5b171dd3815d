// Dashboard file serving: a missing file is a 404, a file the server cannot read is a server error, not a 404.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../errors.js';
import { dashboardRoutes } from './dashboard.js';

let dir: string;
let app: FastifyInstance;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'export {};');
  // A link to itself: stat fails with ELOOP, a broken build rather than a missing file.
  symlinkSync('loop.js', join(dir, 'assets', 'loop.js'));
  app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app);
  // The routes use nothing of the gateway.
  await app.register(dashboardRoutes, { dir });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard files', () => {
  it('serves a built file and answers 404 for a missing one', async () => {
    expect((await app.inject({ url: '/assets/app.js' })).statusCode).toBe(200);
    const missing = await app.inject({ url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('SB_ERR_NOT_FOUND');
  });

  it('answers a server error, not a 404, for a file that cannot be read', async () => {
    const res = await app.inject({ url: '/assets/loop.js' });
    expect(res.statusCode).toBe(500);
  });
});
