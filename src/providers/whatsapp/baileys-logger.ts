// Baileys' logger over ours (chatty levels dropped: they may carry key material) and a safe error text.
import type { SessionContext } from '../../ports/provider.js';

/** The message of an error, or the value as text. */
export const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Baileys' logger interface over ours: trace/debug/info dropped, warn and error summarised. */
export function baileysLogger(log: SessionContext['logger']): Record<string, unknown> {
  const self: Record<string, unknown> = {
    level: 'warn',
    child: () => self,
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (obj: unknown, msg?: string) => log.warn({ baileys: summarize(obj) }, msg ?? 'baileys warning'),
    error: (obj: unknown, msg?: string) => log.error({ baileys: summarize(obj) }, msg ?? 'baileys error'),
  };
  return self;
}

/** Keeps only an error message from whatever Baileys logs (never buffers or keys). */
function summarize(obj: unknown): string {
  if (typeof obj === 'string') return obj.slice(0, 200);
  const err = (obj as { err?: unknown; error?: unknown } | null)?.err ?? (obj as { error?: unknown })?.error;
  return err instanceof Error ? err.message : typeof obj;
}
