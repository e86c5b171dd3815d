// The bytes of a message's stored media for download_media: inline base64, or a public URL through the guarded fetch.
import { createGuardedFetch } from '../runtime/outbound/guarded-fetch.js';
import type { McpServices } from './services.js';
import { invalid } from './tool-kit.js';

/** Largest media download_media returns (bytes): 16 MiB. */
const MAX_MEDIA_BYTES = 16 * 1024 * 1024;

/** Inline base64 when the provider kept it, else a public URL (guarded, capped at 16 MiB, 15 s). */
export async function loadMedia(
  media: Record<string, unknown>,
  services: Pick<McpServices, 'outbound' | 'config'>,
): Promise<Buffer> {
  const inline =
    typeof media.data === 'string' ? media.data : typeof media.base64 === 'string' ? media.base64 : null;
  if (inline) return Buffer.from(inline, 'base64');
  if (typeof media.url === 'string') {
    // The gateway's guarded fetch: scheme and every address checked when connecting, redirects re-checked, capped.
    const outbound =
      services.outbound ??
      createGuardedFetch({ allowPrivate: services.config.outbound.allowPrivate, timeoutMs: 15_000 });
    return outbound.download(media.url, { maxBytes: MAX_MEDIA_BYTES, timeoutMs: 15_000 });
  }
  throw invalid('message_id', 'the media of this message is not stored');
}
