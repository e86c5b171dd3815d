// Zod schemas shared by routes: they validate input, type handlers and generate the OpenAPI document.
import { z } from 'zod';
import { parseDateTimeInput } from '../domain/dates.js';
import { messageSchema } from '../domain/events.js';
import { AUTH_STATUSES, INSTANCE_STATUSES, INSTANCE_TYPES } from '../domain/statuses.js';

export const errorBody = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }),
  })
  .meta({ id: 'Error' });

export const uuidParam = z.object({ id: z.uuid({ message: 'must be a UUID' }) });

export const companyIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash and underscore only');

/** A comma-separated list of event types (`?types=message,qr`), parsed to an array. */
export const eventTypesQuery = z
  .string()
  .max(500)
  .optional()
  .transform((v) =>
    v
      ? v
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean)
      : undefined,
  );

/**
 * A date-time from a client (query or body): ISO 8601 (`2030-01-01`, `2030-01-01T10:00:00+05:30`; UTC without an
 * offset) or Unix time in seconds (10 digits) or milliseconds (11–13 digits); years 0001–9999 and real calendar dates
 * only, so it always fits PostgreSQL. Parsed to a Date.
 */
export const dateTimeInput = z
  .string()
  .trim()
  .max(40)
  .transform((v, ctx) => {
    const d = parseDateTimeInput(v);
    if (!d) {
      ctx.addIssue({
        code: 'custom',
        message: 'an ISO 8601 date-time (years 0001–9999, a real calendar date) or a Unix time in s or ms',
      });
      return z.NEVER;
    }
    return d;
  })
  .meta({
    description: 'ISO 8601 date-time (years 0001–9999; UTC when no offset is given) or Unix time in s or ms.',
    examples: ['2030-01-01T10:00:00Z'],
  });

/** An RFC 3339 date-time in a JSON body (`format: date-time`), limited like dateTimeInput to years 0001–9999. */
export const isoDateTimeField = z.iso
  .datetime({ offset: true })
  .refine((v) => parseDateTimeInput(v) !== null, 'a date-time in the years 0001–9999');

export const limitQuery = z.coerce.number().int().min(1).max(200).default(50);
export const cursorQuery = z.string().min(1).max(512).optional();

export const instanceView = z
  .object({
    id: z.string(),
    company_id: z.string(),
    name: z.string().nullable(),
    provider: z.string(),
    type_instance: z.array(z.enum(INSTANCE_TYPES)),
    status: z.enum(INSTANCE_STATUSES),
    auth_status: z.enum(AUTH_STATUSES),
    desired_state: z.enum(['running', 'stopped']),
    account: z.string().nullable(),
    has_qr: z.boolean(),
    qr_updated_at: z.string().nullable(),
    settings: z.record(z.string(), z.unknown()),
    api_webhook_schema: z.record(z.string(), z.unknown()),
    mcp_schema: z.record(z.string(), z.unknown()),
    agent: z.record(z.string(), z.unknown()),
    is_pooled: z.boolean(),
    assigned_to: z.string().nullable(),
    last_error: z.string().nullable(),
    last_activity_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Instance' });

/** The Message component: one schema with the `message` event's payload (src/domain/events.ts). */
export const messageView = messageSchema;

export const eventView = z
  .object({
    id: z.number(),
    type: z.string(),
    instance_id: z.string().nullable(),
    company_id: z.string(),
    created_at: z.string(),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event' });

/** Standard error responses every authenticated route can give. */
export const stdErrors = {
  400: errorBody,
  401: errorBody,
  404: errorBody,
} as const;
