// Instance tools: connection status and the login QR.
import QRCode from 'qrcode';
import { z } from 'zod';
import { scrub } from '../sanitize.js';
import { type ToolDef, type ToolScope, text } from '../tool-kit.js';
/** The instance tools of one request. */
export function instanceTools(s: ToolScope): ToolDef[] {
  const { services, principal: p, instance: inst, factory, secrets } = s;
  return [
    {
      name: 'get_status',
      title: 'Instance status',
      description: 'Connection status of this messenger instance (is it logged in and ready to send?).',
      input: {},
      output: {
        instance_id: z.string(),
        name: z.string().nullable(),
        provider: z.string(),
        status: z.string(),
        auth_status: z.string(),
        account: z.string().nullable(),
        connected: z.boolean(),
        has_qr: z.boolean(),
        last_error: z.string().nullable(),
        capabilities: z.array(z.string()),
      },
      readOnly: true,
      async run() {
        const i = await services.instances.get(p, inst.id);
        return {
          result: text({
            instance_id: i.id,
            name: i.name,
            provider: i.provider,
            status: i.status,
            auth_status: i.auth_status,
            account: i.account,
            connected: i.status === 'running' && i.auth_status === 'client_ready',
            has_qr: i.qr !== null,
            last_error: i.last_error ? scrub(i.last_error, secrets) : null,
            capabilities: [...factory.capabilities].filter((c) => c !== 'simulate'),
          }),
        };
      },
    },
    {
      name: 'get_qr',
      title: 'Login QR code',
      description:
        'The current login QR code (as text and as a PNG image) while the instance waits for a scan.',
      input: {},
      output: { qr: z.string(), updated_at: z.string().nullable() },
      readOnly: true,
      async run() {
        const { qr, updated_at } = await services.instances.qr(p, inst.id);
        const png = await QRCode.toBuffer(qr, { type: 'png', margin: 2, scale: 6 });
        return {
          result: {
            content: [
              { type: 'text', text: JSON.stringify({ qr, updated_at }) },
              { type: 'image', data: png.toString('base64'), mimeType: 'image/png' },
            ],
            structuredContent: { qr, updated_at },
          },
        };
      },
    },
  ];
}
