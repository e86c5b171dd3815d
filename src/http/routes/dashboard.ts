// The dashboard: serves the built web UI (web/dist) at `/` as public static files; the API stays under /api.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SbError } from '../../domain/errors.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** The page's security policy: only our own scripts; the QR comes as a data: image; events over ws(s). */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Switchboard</title></head>
<body><h1>Switchboard</h1><p>The dashboard is not built. Run <code>npm run build:web</code> and reload.
The API is available under <a href="/docs">/docs</a>.</p></body></html>`;

/** Where web/dist is: beside the sources (tsx) or above the compiled output (dist/src/...). */
export function findDashboardDir(): string | null {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [
    resolve(process.cwd(), 'web', 'dist'),
    resolve(here, '..', '..', '..', 'web', 'dist'),
    resolve(here, '..', '..', '..', '..', 'web', 'dist'),
  ];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? null;
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/** Dashboard routes; `dir` overrides where the built files are (tests). */
export const dashboardRoutes: FastifyPluginAsyncZod<{ dir?: string | null }> = async (app, opts) => {
  const dir = opts.dir === undefined ? findDashboardDir() : opts.dir;
  const root = dir ? resolve(dir) : null;
  const hide = { hide: true } as const;

  const sendFile = async (reply: FastifyReply, rel: string, immutable: boolean) => {
    if (!root) throw new SbError('SB_ERR_NOT_FOUND', 'the dashboard is not built');
    const file = resolve(root, rel);
    if (!file.startsWith(root + sep)) throw new SbError('SB_ERR_NOT_FOUND', 'no such file');
    const info = await stat(file).catch((err: NodeJS.ErrnoException) => {
      // A missing file (or a path through a file) is a 404; anything else is a real failure of the server.
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
      throw err;
    });
    if (!info?.isFile()) throw new SbError('SB_ERR_NOT_FOUND', `no such file /${rel}`);
    securityHeaders(reply)
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.send(await readFile(file));
  };

  app.get('/', { config: { public: true }, schema: hide }, async (_req, reply) => {
    if (!root) return securityHeaders(reply).type('text/html; charset=utf-8').send(NOT_BUILT);
    reply.header('content-security-policy', CSP);
    return sendFile(reply, 'index.html', false);
  });

  app.get(
    '/assets/:file',
    {
      config: { public: true },
      schema: {
        ...hide,
        params: z.object({
          file: z
            .string()
            .regex(/^[\w.-]+$/, 'a file name')
            .max(200),
        }),
      },
    },
    async (req, reply) => sendFile(reply, `assets/${req.params.file}`, true),
  );

  app.get('/favicon.svg', { config: { public: true }, schema: hide }, async (_req, reply) =>
    sendFile(reply, 'favicon.svg', false),
  );
};
