// Structured JSON logs (pino) with secrets redacted wherever they could appear.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.token',
  '*.password',
  '*.api_key',
  '*.apiKey',
  '*.secret',
  '*.key',
  'settings.token',
  '*.settings.token',
];

/** Creates the process logger. Query strings are stripped from logged URLs (they may carry `api_key`). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        req: (req: { method: string; url: string; id?: string }) => ({
          method: req.method,
          url: req.url.split('?')[0],
          id: req.id,
        }),
      },
    },
    destination,
  );
}

export type { Logger };
