// Configuration: parsed once from the environment with zod, every problem reported together, frozen.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';

const bool = (def: boolean) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      if (['1', 'true', 'on', 'yes'].includes(v)) return true;
      if (['0', 'false', 'off', 'no'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `expected on/off, true/false or 1/0, got "${v}"` });
      return z.NEVER;
    });

const int = (def: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  PORT: int(3000, 0, 65535),
  INSTANCE_MANAGER_PORT: int(3000, 0, 65535),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
      .optional(),
  ),
  DATABASE_SCHEMA: z
    .string()
    .trim()
    .default('public')
    .pipe(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase SQL identifier (a-z, 0-9, _)')),
  DATABASE_SSL: bool(false),
  DATABASE_POOL_SIZE: int(10, 1, 500),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  PGLITE_SHARED_BUFFERS_MB: int(16, 1, 4096),
  ADMIN_API_KEY: optionalString.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SIMULATOR: bool(true),
  SIMULATOR_QR_ROTATE_MS: int(20_000, 100, 3_600_000),
  SIMULATOR_ACK_DELAY_MS: int(200, 0, 60_000),
  BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  MEDIA_MAX_BYTES: int(16_777_216, 1024, 100 * 1_048_576),
  QR_LINK_TTL_SECONDS: int(120, 10, 300),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000, 1000, 600_000),
  WS_MAX_CONNECTIONS_PER_COMPANY: int(50, 1, 100_000),
  RESPONSE_VALIDATION: bool(false),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
  CLUSTER_MODE: bool(false),
  REPLICA_ID: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash and underscore (at most 64)')
      .optional(),
  ),
  LEASE_RENEW_MS: int(3_000, 50, 600_000),
  LEASE_TTL_MS: int(10_000, 200, 3_600_000),
  CLUSTER_COMMAND_TIMEOUT_MS: int(10_000, 100, 600_000),
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .optional(),
  ),
  JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  JWT_TTL_SECONDS: int(43_200, 60, 31_536_000),
  RATE_LIMIT_MAX_REQUESTS: int(30, 1, 1_000_000),
  RATE_LIMIT_WINDOW_MS: int(60_000, 1_000, 86_400_000),
  LOGIN_RATE_LIMIT_MAX: int(10, 1, 10_000),
  LOGIN_RATE_LIMIT_WINDOW_MS: int(900_000, 1_000, 86_400_000),
  SESSION_PROVIDER: optionalString,
  POOL_ENABLED: bool(false),
  POOL_PROVIDER: z.enum(['waha', 'whatsapp', 'simulator']).default('simulator'),
  POOL_SIZE: int(10, 0, 10_000),
  POOL_MIN_FREE: int(5, 0, 10_000),
  POOL_REFILL: int(10, 1, 10_000),
  TELEGRAM_API_ROOT: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  PUBLIC_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  WAHA_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
  WAHA_API_KEY: optionalString,
  WAHA_WEBHOOK_HMAC_KEY: optionalString,
  WHATSAPP_WS_URL: optionalString.pipe(z.url({ protocol: /^wss?$/ }).optional()),
  WHATSAPP_TRUST_ROOT_KEY: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be a 32-byte key in base64')
      .optional(),
  ),
  MAX_RECONNECT_ATTEMPTS: int(10, 1, 1000),
  HEALTH_CHECK_INTERVAL_MS: int(30_000, 0, 3_600_000),
  WHATSAPP_HISTORY_DAYS: int(7, 0, 3650),
  WHATSAPP_DECRYPT_RETRY_MS: int(15_000, 0, 3_600_000),
  WEBHOOK_ALLOW_PRIVATE: bool(false),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .trim()
    .default('0,5s,5m,30m,2h,5h,10h,10h')
    .pipe(
      z
        .string()
        .regex(/^\s*\d+(ms|s|m|h|d)?\s*(,\s*\d+(ms|s|m|h|d)?\s*){0,29}$/, 'durations like 0,5s,5m,2h'),
    )
    .transform((v) => v.split(',').map(durationMs)),
  WEBHOOK_DISABLE_AFTER: z
    .string()
    .trim()
    .default('5d')
    .pipe(z.string().regex(/^\d+(ms|s|m|h|d)?$/, 'a duration like 5d, 12h or 30m'))
    .transform(durationMs),
  WEBHOOK_TIMEOUT_MS: int(15_000, 100, 120_000),
  WEBHOOK_WORKER_INTERVAL_MS: int(1_000, 10, 60_000),
  /** The guarded outbound fetch (issue 14): opt-out for private addresses, media time limit, redirects followed. */
  OUTBOUND_ALLOW_PRIVATE: bool(false),
  OUTBOUND_TIMEOUT_MS: int(30_000, 100, 600_000),
  OUTBOUND_MAX_REDIRECTS: int(3, 0, 10),
  WEBHOOK_CONCURRENCY: int(64, 1, 10_000),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(32, 1, 1_000),
  /** Event sinks (issue 20): publishes in flight per RabbitMQ/NATS sink and process (a broker pipelines them). */
  SINK_CONCURRENCY: int(32, 1, 1_000),
  /**
   * A deployment-wide event sink that receives every company's events: a JSON object shaped like the body of
   * `POST /api/v1/sinks` without company_id/instance_id (checked in full when the gateway starts).
   */
  EVENT_SINK_DEFAULT: optionalString.pipe(
    z
      .string()
      .max(16_384)
      .transform((v, ctx) => {
        try {
          const parsed: unknown = JSON.parse(v);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
            return parsed as Record<string, unknown>;
        } catch {
          // reported below
        }
        ctx.addIssue({
          code: 'custom',
          message: 'must be a JSON object like the body of POST /api/v1/sinks',
        });
        return z.NEVER;
      })
      .optional(),
  ),
  RETENTION_EVENTS: retentionAge('30d'),
  RETENTION_DELIVERED: retentionAge('7d'),
  RETENTION_DEAD: retentionAge('30d'),
  RETENTION_PENDING_ACKS: retentionAge('1d'),
  RETENTION_MEDIA: retentionAge('30d'),
  RETENTION_INTERVAL_MS: int(600_000, 1_000, 86_400_000),
  RETENTION_BATCH: int(1_000, 1, 100_000),
  SPOOL_DIR: optionalString,
  SPOOL_MAX_BYTES: int(256 * 1_048_576, 4096, 2 ** 50),
  SPOOL_MAX_MESSAGES: int(100_000, 1, 1_000_000_000),
  INSTANCES_MAX_PER_COMPANY: int(20, 0, 1_000_000),
});

/** A retention age in milliseconds ("30d", "12h", "30m", …; 0 keeps that kind of row forever). */
function retentionAge(def: string) {
  return z
    .string()
    .trim()
    .default(def)
    .pipe(z.string().regex(/^\d+(ms|s|m|h|d)?$/, 'a duration like 30d, 12h or 30m (0 = keep forever)'))
    .transform(durationMs);
}

/** "5s", "5m", "2h", "5d", "250ms" or a bare number of milliseconds → milliseconds. */
function durationMs(v: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(v.trim())!;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  return Number(m[1]) * unit;
}

export interface Config {
  port: number;
  host: string;
  database: {
    url: string | undefined;
    schema: string;
    ssl: boolean;
    poolSize: number;
    dataDir: string;
    /** The embedded database's shared_buffers in MB (default 16; PostgreSQL's own default of 128 MB stays resident). */
    pgliteSharedBuffersMb?: number;
  };
  adminApiKey: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  simulator: { enabled: boolean; qrRotateMs: number; ackDelayMs: number };
  http: {
    bodyLimit: number;
    requestTimeoutMs: number;
    wsMaxPerCompany: number;
    validateResponses: boolean;
    /** Largest media file sent inline as base64 (bytes, decoded; default 16 MiB); sets the send route's body limit. */
    mediaMaxBytes: number;
    /** Lifetime of a signed QR image link (`image_url`), seconds (default 120, at most 300). */
    qrLinkTtlS: number;
  };
  shutdownTimeoutMs: number;
  /**
   * Session leases, forwarded commands, shared events: always on. `enabled` (CLUSTER_MODE=on) only forces the
   * shared transports on embedded PGlite too; on PostgreSQL they are always used.
   */
  cluster: {
    enabled: boolean;
    /** This replica's id (REPLICA_ID, default random). */
    replicaId: string;
    /** Lease renewal interval in ms (LEASE_RENEW_MS, default 3000). */
    leaseRenewMs: number;
    /** Lease lifetime in ms (LEASE_TTL_MS, default 10000); must exceed twice the renewal interval. */
    leaseTtlMs: number;
    /** How long a forwarded command waits for the owner's answer, in ms (default 10000). */
    commandTimeoutMs: number;
  };
  /** Redis (REDIS_URL): cluster events and commands go through it when set. */
  redisUrl: string | undefined;
  /** User sign-in (issue 5): JWT secret (unset = generated once and kept in the database), token lifetime. */
  auth: { jwtSecret: string | undefined; jwtTtlSeconds: number; loginMax: number; loginWindowMs: number };
  /** Send rate limit per company: `max` sends per `windowMs`; Redis when `redisUrl` is set, else in memory. */
  rateLimit: { redisUrl: string | undefined; max: number; windowMs: number };
  /** Company session API (seed 003): provider of a company's WhatsApp (unset = whatsapp if available, else simulator). */
  sessionProvider: string | undefined;
  /** Warm pool (seed 004): free instances waiting with a QR. */
  pool: { enabled: boolean; provider: string; size: number; minFree: number; refill: number };
  /** Public base URL of this gateway (webhook mode for Telegram, WAHA webhooks); unset = polling only. */
  publicUrl: string | undefined;
  /** Telegram Bot API root (a local Bot API server); unset = https://api.telegram.org. */
  telegram: { apiRoot: string | undefined };
  /** WAHA backend; the `waha` provider is enabled only when `url` is set. */
  waha: { url: string | undefined; apiKey: string | undefined; webhookHmacKey: string | undefined };
  /** `whatsapp` provider (Baileys): ws URL override and trust root (emulator tests only), reconnects, health. */
  whatsapp: {
    wsUrl: string | undefined;
    trustRootKey: string | undefined;
    maxReconnectAttempts: number;
    healthCheckIntervalMs: number;
    /** History sync after a link: keep messages up to this many days old (0 = take no history). Default 7. */
    historyDays: number;
    /** How long an undecryptable message waits for the sender's re-send before `message.decrypt_failed` (ms). */
    decryptRetryMs: number;
  };
  /** Outbound webhooks and the agent bridge (src/delivery); durations in milliseconds. */
  webhooks: {
    allowPrivate: boolean;
    retryScheduleMs: number[];
    disableAfterMs: number;
    timeoutMs: number;
    workerIntervalMs: number;
    /** Attempts in flight in this process, all endpoints together (WEBHOOK_CONCURRENCY, default 64). */
    concurrency: number;
    /** Attempts in flight in this process for one endpoint (WEBHOOK_ENDPOINT_CONCURRENCY, default 32). */
    endpointConcurrency: number;
    /** Publishes in flight in this process for one event sink (SINK_CONCURRENCY, default 32; else endpointConcurrency). */
    sinkConcurrency?: number;
    /** The deployment-wide event sink (EVENT_SINK_DEFAULT), as given; null = none. */
    defaultSink?: Record<string, unknown> | null;
  };
  /** Retention (src/runtime/retention-job.ts): ages in ms after which rows are deleted (0 = kept forever). */
  retention: {
    eventsMs: number;
    deliveredMs: number;
    deadMs: number;
    pendingAcksMs: number;
    mediaMs: number;
    /** How often the job runs, in ms (default 10 minutes). */
    intervalMs: number;
    /** Rows deleted per statement (default 1000). */
    batch: number;
  };
  /**
   * Every request to a URL a user gave us (webhooks, agent bridge, MCP and provider media): `allowPrivate` is the
   * operator's opt-out (OUTBOUND_ALLOW_PRIVATE, or its older name WEBHOOK_ALLOW_PRIVATE); media downloads get
   * `timeoutMs` and follow up to `maxRedirects` redirects, each re-checked.
   */
  outbound: { allowPrivate: boolean; timeoutMs: number; maxRedirects: number };
  /** Inbound spool (issue 15): messages kept on disk while the database is down; limits in bytes and records. */
  spool: { dir: string; maxBytes: number; maxMessages: number };
  /** Per-company quotas: instances created with company credentials (0 = no limit; the admin key is exempt). */
  quotas: { instancesPerCompany: number };
}

/** Thrown by loadConfig with every problem listed, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once. Nothing else in the program reads process.env. */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || 'env'}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.LEASE_TTL_MS < 2 * e.LEASE_RENEW_MS) {
    throw new ConfigError([
      `LEASE_TTL_MS: must be at least twice LEASE_RENEW_MS (${e.LEASE_RENEW_MS}), got ${e.LEASE_TTL_MS}`,
    ]);
  }
  const port = env.PORT !== undefined && env.PORT !== '' ? e.PORT : e.INSTANCE_MANAGER_PORT;
  const config: Config = {
    port,
    host: e.HOST,
    database: {
      url: e.DATABASE_URL,
      schema: e.DATABASE_SCHEMA,
      ssl: e.DATABASE_SSL,
      poolSize: e.DATABASE_POOL_SIZE,
      dataDir: e.DATA_DIR,
      pgliteSharedBuffersMb: e.PGLITE_SHARED_BUFFERS_MB,
    },
    adminApiKey: e.ADMIN_API_KEY,
    logLevel: e.LOG_LEVEL,
    simulator: {
      enabled: e.SIMULATOR,
      qrRotateMs: e.SIMULATOR_QR_ROTATE_MS,
      ackDelayMs: e.SIMULATOR_ACK_DELAY_MS,
    },
    http: {
      bodyLimit: e.BODY_LIMIT_BYTES,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      wsMaxPerCompany: e.WS_MAX_CONNECTIONS_PER_COMPANY,
      validateResponses: e.RESPONSE_VALIDATION,
      mediaMaxBytes: e.MEDIA_MAX_BYTES,
      qrLinkTtlS: e.QR_LINK_TTL_SECONDS,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    cluster: {
      enabled: e.CLUSTER_MODE,
      replicaId: e.REPLICA_ID ?? `r-${randomBytes(5).toString('hex')}`,
      leaseRenewMs: e.LEASE_RENEW_MS,
      leaseTtlMs: e.LEASE_TTL_MS,
      commandTimeoutMs: e.CLUSTER_COMMAND_TIMEOUT_MS,
    },
    redisUrl: e.REDIS_URL,
    auth: {
      jwtSecret: e.JWT_SECRET,
      jwtTtlSeconds: e.JWT_TTL_SECONDS,
      loginMax: e.LOGIN_RATE_LIMIT_MAX,
      loginWindowMs: e.LOGIN_RATE_LIMIT_WINDOW_MS,
    },
    rateLimit: { redisUrl: e.REDIS_URL, max: e.RATE_LIMIT_MAX_REQUESTS, windowMs: e.RATE_LIMIT_WINDOW_MS },
    sessionProvider: e.SESSION_PROVIDER,
    pool: {
      enabled: e.POOL_ENABLED,
      provider: e.POOL_PROVIDER,
      size: e.POOL_SIZE,
      minFree: e.POOL_MIN_FREE,
      refill: e.POOL_REFILL,
    },
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    telegram: { apiRoot: e.TELEGRAM_API_ROOT?.replace(/\/+$/, '') },
    waha: {
      url: e.WAHA_URL?.replace(/\/+$/, ''),
      apiKey: e.WAHA_API_KEY,
      webhookHmacKey: e.WAHA_WEBHOOK_HMAC_KEY,
    },
    whatsapp: {
      wsUrl: e.WHATSAPP_WS_URL,
      trustRootKey: e.WHATSAPP_TRUST_ROOT_KEY,
      maxReconnectAttempts: e.MAX_RECONNECT_ATTEMPTS,
      healthCheckIntervalMs: e.HEALTH_CHECK_INTERVAL_MS,
      historyDays: e.WHATSAPP_HISTORY_DAYS,
      decryptRetryMs: e.WHATSAPP_DECRYPT_RETRY_MS,
    },
    webhooks: {
      allowPrivate: e.OUTBOUND_ALLOW_PRIVATE || e.WEBHOOK_ALLOW_PRIVATE,
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      workerIntervalMs: e.WEBHOOK_WORKER_INTERVAL_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      endpointConcurrency: e.WEBHOOK_ENDPOINT_CONCURRENCY,
      sinkConcurrency: e.SINK_CONCURRENCY,
      defaultSink: e.EVENT_SINK_DEFAULT ?? null,
    },
    retention: {
      eventsMs: e.RETENTION_EVENTS,
      deliveredMs: e.RETENTION_DELIVERED,
      deadMs: e.RETENTION_DEAD,
      pendingAcksMs: e.RETENTION_PENDING_ACKS,
      mediaMs: e.RETENTION_MEDIA,
      intervalMs: e.RETENTION_INTERVAL_MS,
      batch: e.RETENTION_BATCH,
    },
    outbound: {
      allowPrivate: e.OUTBOUND_ALLOW_PRIVATE || e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.OUTBOUND_TIMEOUT_MS,
      maxRedirects: e.OUTBOUND_MAX_REDIRECTS,
    },
    spool: {
      dir: e.SPOOL_DIR ?? join(e.DATA_DIR, 'spool'),
      maxBytes: e.SPOOL_MAX_BYTES,
      maxMessages: e.SPOOL_MAX_MESSAGES,
    },
    quotas: { instancesPerCompany: e.INSTANCES_MAX_PER_COMPANY },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): Readonly<T> {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
