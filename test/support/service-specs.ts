// The local services tests may need: where each is looked for (env overrides) and the command that provides it.

/** Services a test file can declare with `requireService`. */
export type ServiceName =
  | 'postgres'
  | 'postgres-bin'
  | 'redis'
  | 'chromium'
  | 'rabbitmq'
  | 'nats'
  | 'nats-server'
  | 'mosquitto';

export interface ServiceSpec {
  label: string;
  /** The environment variable(s) that point the tests at another instance. */
  env: string;
  /** How to get it on a Debian-like machine (`bash .ci/run` does all of them). */
  provide: string;
}

export const SERVICES: Record<ServiceName, ServiceSpec> = {
  postgres: {
    label: 'PostgreSQL server',
    env: 'TEST_POSTGRES_URL (or TEST_DATABASE_URL)',
    provide: 'apt-get install postgresql, start it and CREATE DATABASE test (bash .ci/run does this)',
  },
  'postgres-bin': {
    label: 'PostgreSQL server binaries (initdb, pg_ctl)',
    env: 'TEST_PG_BIN',
    provide: 'apt-get install postgresql (bash .ci/run does this)',
  },
  redis: {
    label: 'Redis',
    env: 'TEST_REDIS_URL',
    provide: 'apt-get install redis-server && redis-server --daemonize yes (bash .ci/run does this)',
  },
  chromium: {
    label: 'Chromium',
    env: 'CHROMIUM_PATH',
    provide: "apt-get install chromium, Debian's browser; never a downloaded one (bash .ci/run does this)",
  },
  rabbitmq: {
    label: 'RabbitMQ',
    env: 'TEST_AMQP_URL',
    provide: 'apt-get install rabbitmq-server (bash .ci/run starts it)',
  },
  nats: {
    label: 'NATS with JetStream',
    env: 'TEST_NATS_URL',
    provide: 'apt-get install nats-server && nats-server -js -a 127.0.0.1 (bash .ci/run starts it)',
  },
  'nats-server': {
    label: 'the nats-server binary (tests start their own JetStream server)',
    env: 'TEST_NATS_SERVER',
    provide: 'apt-get install nats-server (bash .ci/run does this)',
  },
  mosquitto: {
    label: 'the mosquitto binary (the MQTT sink tests start their own broker)',
    env: 'TEST_MOSQUITTO',
    provide: 'apt-get install mosquitto (bash .ci/run does this)',
  },
};

/** Defaults: the ports and paths `.ci/run` provides. */
const DEFAULTS = {
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  redis: 'redis://127.0.0.1:6379',
  chromium: '/usr/bin/chromium',
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
  nats: 'nats://127.0.0.1:4222',
  natsServer: '/usr/sbin/nats-server',
  mosquitto: '/usr/sbin/mosquitto',
  pgBin: '/usr/lib/postgresql/15/bin',
};

/**
 * Where `name` is looked for: its env override when set and non-empty, else the default that `.ci/run` provides.
 * PostgreSQL is TEST_DATABASE_URL in the PostgreSQL pass, else TEST_POSTGRES_URL (tests that need a server even in
 * the embedded-database pass). `pgBinDirs` finds the newest installed bin directory when TEST_PG_BIN is unset.
 */
export function serviceTarget(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  opts: { pgBinDirs?: () => string | undefined } = {},
): string {
  const pick = (...values: Array<string | undefined>) =>
    values.find((v) => v !== undefined && v.trim() !== '');
  switch (name) {
    case 'postgres':
      return pick(env.TEST_DATABASE_URL, env.TEST_POSTGRES_URL) ?? DEFAULTS.postgres;
    case 'postgres-bin':
      return pick(env.TEST_PG_BIN) ?? opts.pgBinDirs?.() ?? DEFAULTS.pgBin;
    case 'redis':
      return pick(env.TEST_REDIS_URL) ?? DEFAULTS.redis;
    case 'chromium':
      return pick(env.CHROMIUM_PATH) ?? DEFAULTS.chromium;
    case 'rabbitmq':
      return pick(env.TEST_AMQP_URL) ?? DEFAULTS.rabbitmq;
    case 'nats':
      return pick(env.TEST_NATS_URL) ?? DEFAULTS.nats;
    case 'nats-server':
      return pick(env.TEST_NATS_SERVER) ?? DEFAULTS.natsServer;
    case 'mosquitto':
      return pick(env.TEST_MOSQUITTO) ?? DEFAULTS.mosquitto;
  }
}

/** A target as it may be printed: a URL's password becomes `***` (paths are shown as they are). */
export function shownTarget(target: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
  try {
    const u = new URL(target);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return target;
  }
}

/** One skipped service of one test file, as a worker reports it to the global setup. */
export interface SkipRecord {
  file: string;
  service: ServiceName;
  target: string;
  reason: string;
}

/** The block printed at the end of a run that skipped something: one line group per file. */
export function formatSkipBlock(records: SkipRecord[], root: string, excluded: string[] = []): string {
  const byFile = new Map<string, SkipRecord[]>();
  for (const r of records) {
    const rel = r.file.startsWith(`${root}/`) ? r.file.slice(root.length + 1) : r.file;
    const list = byFile.get(rel) ?? [];
    if (!list.some((x) => x.service === r.service)) list.push(r);
    byFile.set(rel, list);
  }
  const lines = [
    '',
    '=== Skipped: tests that need a local service that is not running (CI is unset, so they skip; under CI=true they fail) ===',
  ];
  for (const [file, list] of [...byFile].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${file}`);
    list.sort((a, b) => a.service.localeCompare(b.service));
    for (const r of list)
      lines.push(`      needs ${SERVICES[r.service].label} at ${shownTarget(r.target)}: ${r.reason}`);
  }
  lines.push('  How to provide them:');
  const used = [...new Set(records.map((r) => r.service))].sort();
  for (const s of used)
    lines.push(`    ${SERVICES[s].label}: ${SERVICES[s].provide}; elsewhere: set ${SERVICES[s].env}`);
  if (excluded.length) {
    lines.push(
      '  Not collected in this embedded-database pass (they need a shared PostgreSQL server: vitest.config.ts):',
    );
    for (const f of excluded) lines.push(`    ${f}`);
    lines.push('    run them with TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm test');
  }
  lines.push('  `bash .ci/run` installs and starts every service and runs everything.');
  lines.push('='.repeat(40), '');
  return lines.join('\n');
}
