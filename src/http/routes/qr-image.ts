// The QR as PNG behind a short-lived signed link (GET /api/v1/instances/:id/qr.png?exp=&sig=): no header needed,
// so a page can show it in an <img>; the link names one instance, expires within minutes and cannot be forged.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { QrLinks } from '../../core/qr-links.js';
import { SbError } from '../../domain/errors.js';
import { errorBody, stdErrors, uuidParam } from '../schemas.js';
import type { HttpServices } from '../services.js';

const REFUSED: Record<string, string> = {
  bad_signature: 'this QR link is not valid for this instance',
  expired: 'this QR link has expired; ask GET /api/v1/instances/:id/qr for a new one',
  too_far_ahead: 'this QR link is not valid for this instance',
};

/** Route plugin: serves the QR image to holders of a signed link issued by GET …/qr (image_url). */
export const qrImageRoutes: FastifyPluginAsyncZod<Pick<HttpServices, 'store'> & { links: QrLinks }> = async (
  app,
  { store, links },
) => {
  app.get(
    '/api/v1/instances/:id/qr.png',
    {
      config: { public: true },
      schema: {
        tags: ['instances'],
        summary: 'The current QR as PNG through a signed link (image_url from GET …/qr); no API key',
        params: uuidParam,
        querystring: z
          .object({
            exp: z.coerce.number().int().positive().describe('Expiry, Unix seconds (from image_url).'),
            sig: z.string().min(1).max(128).describe('Signature (from image_url).'),
          })
          .strict(),
        response: {
          200: z.any().describe('The QR as image/png'),
          409: errorBody,
          ...stdErrors,
        },
      },
    },
    async (req, reply) => {
      const inst = await store.instances.get(req.params.id);
      // An unknown instance and a bad signature answer alike: the link reveals nothing about other ids.
      const refusal = inst ? await links.check(inst, req.query.exp, req.query.sig) : 'bad_signature';
      if (!inst || refusal) {
        throw new SbError('SB_ERR_UNAUTHORIZED', REFUSED[refusal ?? 'bad_signature']);
      }
      if (!inst.qr || inst.auth_status !== 'qr_ready') {
        throw new SbError('SB_ERR_NO_QR', `no QR: the instance is ${inst.status}/${inst.auth_status}`, {
          details: { status: inst.status, auth_status: inst.auth_status },
        });
      }
      return reply
        .header('cache-control', 'no-store')
        .type('image/png')
        .send(await QRCode.toBuffer(inst.qr, { type: 'png', margin: 2, scale: 6 }));
    },
  );
};
