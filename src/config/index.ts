// Configuration: parsed once from the environment with zod, every problem reported together, frozen.
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
  ADMIN_API_KEY: optionalString.pipe(z.string().min(24, 'must be at least 24 characters').optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SIMULATOR: bool(true),
  SIMULATOR_QR_ROTATE_MS: int(20_000, 100, 3_600_000),
  SIMULATOR_ACK_DELAY_MS: int(200, 0, 60_000),
  BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 100, 600_000),
});

export interface Config {
  port: number;
  host: string;
  database: { url: string | undefined; schema: string; ssl: boolean; poolSize: number; dataDir: string };
  adminApiKey: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  simulator: { enabled: boolean; qrRotateMs: number; ackDelayMs: number };
  http: { bodyLimit: number };
  shutdownTimeoutMs: number;
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
    },
    adminApiKey: e.ADMIN_API_KEY,
    logLevel: e.LOG_LEVEL,
    simulator: {
      enabled: e.SIMULATOR,
      qrRotateMs: e.SIMULATOR_QR_ROTATE_MS,
      ackDelayMs: e.SIMULATOR_ACK_DELAY_MS,
    },
    http: { bodyLimit: e.BODY_LIMIT_BYTES },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
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
