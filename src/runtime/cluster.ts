// The lease runtime (always on): renews this process's leases, claims unowned sessions up to a fair share, wires transports.
import { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { MemoryEventBus } from '../core/event-bus-memory.js';
import type { SessionSupervisor } from '../core/supervisor.js';
import type { EventBus } from '../ports/event-bus.js';
import type { ClusterCommand } from '../ports/leases.js';
import type { Store } from '../ports/store.js';
import { type CommandReply, type CommandTransport, ownerGone } from './command-transport.js';
import { ClusterForwarder } from './forwarder.js';
import { type ReplicaRow, StoreLeases } from './lease-store.js';
import { LogTailEventBus } from './log-tail-event-bus.js';
import { RedisCommandTransport } from './redis-commands.js';
import { RedisEventBus } from './redis-event-bus.js';
import { SqlCommandTransport } from './sql-commands.js';

/** The slice of a logger the runtime needs. */
export interface ClusterLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** What `GET /api/v1/cluster` shows. */
export interface ClusterView {
  replica_id: string;
  transport: { events: 'redis' | 'log-tail' | 'local'; commands: 'redis' | 'sql' | 'local' };
  /** Instance ids whose session runs on this replica now. */
  sessions: string[];
  replicas: ReplicaRow[];
  leases: Array<{ instance_id: string; owner: string; epoch: number; expires_at: string }>;
}

type ClusterBus = EventBus & { start(): Promise<void>; stop?(): Promise<void> };

/** A start that failed is retried no sooner than this (doubling up to 60 s). */
const CLAIM_BACKOFF_MS = 2_000;
const CLAIM_PARALLEL = 8;

export class ClusterRuntime {
  private supervisor: SessionSupervisor | null = null;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private claiming = true;
  private stopped = false;
  /** Local time (ms) at which the last successful renewal started: our leases last at least until it + TTL. */
  private lastRenewOk = Date.now();
  private readonly backoff = new Map<string, { until: number; delay: number }>();
  private ticks = 0;
  private eventsStarted: Promise<void> | null = null;

  constructor(
    readonly leases: StoreLeases,
    readonly forwarder: ClusterForwarder,
    readonly bus: ClusterBus,
    private readonly transport: CommandTransport,
    private readonly opts: {
      renewMs: number;
      ttlMs: number;
      transport: ClusterView['transport'];
      logger: ClusterLogger;
      close?: () => Promise<void>;
      /**
       * Embedded database: the DATA_DIR lock proves no other process runs, so leases held by any other owner are
       * left over from a crash and are cleared at start (sessions resume at once instead of after the TTL).
       */
      exclusive?: boolean;
    },
  ) {}

  get replicaId(): string {
    return this.leases.replicaId;
  }

  /** Starts the loops: answer forwarded commands, renew leases, claim unowned sessions. */
  async start(supervisor: SessionSupervisor): Promise<void> {
    this.supervisor = supervisor;
    await this.startEvents();
    if (this.opts.exclusive) await this.leases.clearOthers();
    await this.forwarder.serve(supervisor);
    await this.leases.heartbeat(supervisor.size);
    this.lastRenewOk = Date.now();
    this.opts.logger.info({ replica_id: this.replicaId, ...this.opts.transport }, 'cluster replica joined');
    this.schedule(0);
  }

  /**
   * Starts only the event bus (idempotent): in-process test gateways share events without running the lease
   * loops; `start` calls it too.
   */
  startEvents(): Promise<void> {
    this.eventsStarted ??= this.bus.start();
    return this.eventsStarted;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = null;
        this.schedule(this.opts.renewMs);
      });
    }, ms);
    this.timer.unref();
  }

  /** One round: renew, heartbeat, claim. Never throws. */
  async tick(): Promise<void> {
    const sup = this.supervisor;
    if (!sup) return;
    await this.renew(sup);
    try {
      await this.leases.heartbeat(sup.size);
    } catch (err) {
      this.opts.logger.warn({ err: String(err) }, 'cluster heartbeat failed');
    }
    if (this.claiming && !this.stopped) {
      await this.claim(sup).catch((err) =>
        this.opts.logger.warn({ err: String(err) }, 'claiming sessions failed'),
      );
    }
    if (++this.ticks % 100 === 0) {
      await this.leases
        .prune()
        .catch((err) => this.opts.logger.warn({ err: String(err) }, 'pruning replicas failed'));
    }
  }

  /**
   * Extends the leases of live sessions. A session whose lease was lost stops at once (another replica may own
   * it now). If the database cannot be reached, sessions stop before their lease could have expired.
   */
  private async renew(sup: SessionSupervisor): Promise<void> {
    const ids = sup.liveInstanceIds();
    const started = Date.now();
    try {
      const held = await this.leases.renew(ids);
      this.lastRenewOk = started;
      const lost = ids.filter((id) => !held.has(id) && sup.has(id));
      if (lost.length) {
        this.opts.logger.warn({ instances: lost }, 'session leases lost: stopping those sessions');
        await Promise.all(lost.map((id) => sup.abandon(id)));
      }
    } catch (err) {
      const left = this.lastRenewOk + this.opts.ttlMs - Date.now();
      this.opts.logger.warn({ err: String(err), lease_left_ms: left }, 'lease renewal failed');
      if (left <= this.opts.renewMs) {
        const live = sup.liveInstanceIds();
        this.opts.logger.error({ instances: live.length }, 'leases may expire: stopping every session here');
        await Promise.all(live.map((id) => sup.abandon(id)));
      }
    }
  }

  /** Claims unowned desired-running instances, never beyond the fair share (plus slack) of this replica. */
  private async claim(sup: SessionSupervisor): Promise<void> {
    const window = Math.min(this.opts.ttlMs, 3 * this.opts.renewMs);
    const replicas = Math.max(1, (await this.leases.liveReplicas(window)).length);
    const total = await this.leases.desiredCount();
    const fair = Math.ceil(total / replicas);
    const slack = Math.max(1, Math.ceil(fair * 0.1));
    const room = fair + slack - sup.size;
    if (room <= 0 || total === 0) return;
    const now = Date.now();
    const ids = (await this.leases.unowned(room + this.backoff.size, 30_000))
      .filter((id) => (this.backoff.get(id)?.until ?? 0) <= now && !sup.has(id))
      .slice(0, room);
    let next = 0;
    const worker = async () => {
      while (next < ids.length && this.claiming && !this.stopped) {
        const id = ids[next++];
        await this.claimOne(sup, id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CLAIM_PARALLEL, ids.length) }, worker));
  }

  private async claimOne(sup: SessionSupervisor, id: string): Promise<void> {
    if (!(await this.leases.acquire(id))) return;
    try {
      await sup.start(id);
      this.backoff.delete(id);
    } catch (err) {
      await this.leases
        .release(id)
        .catch((e) =>
          this.opts.logger.warn(
            { instance_id: id, err: String(e) },
            'could not release the lease of a session that failed to start; it expires after the lease TTL',
          ),
        );
      const delay = Math.min((this.backoff.get(id)?.delay ?? CLAIM_BACKOFF_MS / 2) * 2, 60_000);
      this.backoff.set(id, { until: Date.now() + delay, delay });
      this.opts.logger.warn(
        { instance_id: id, err: String(err), retry_ms: delay },
        'could not claim session',
      );
    }
  }

  /** Stops taking new sessions (graceful shutdown hands them to other replicas). */
  stopClaiming(): void {
    this.claiming = false;
  }

  async view(): Promise<ClusterView> {
    return {
      replica_id: this.replicaId,
      transport: this.opts.transport,
      sessions: this.supervisor?.liveInstanceIds() ?? [],
      replicas: await this.leases.liveReplicas(),
      leases: await this.leases.list(),
    };
  }

  /** Stops the loops and transports and leaves the replica list. Sessions are closed by the supervisor first. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.claiming = false;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await this.transport.close();
    await this.bus.stop?.();
    await this.leases
      .leave()
      .catch((err) =>
        this.opts.logger.warn(
          { replica_id: this.replicaId, err: String(err) },
          'could not leave the replica list; its leases expire after the lease TTL',
        ),
      );
    await this.opts.close?.();
  }
}

/** Commands never leave an embedded-database process: no other process can own a session there. */
export class LocalCommandTransport implements CommandTransport {
  async request(target: string, cmd: ClusterCommand): Promise<CommandReply> {
    throw ownerGone(target, cmd.instance_id, 'no other process can serve this embedded database');
  }
  async serve(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Closes a Redis connection at shutdown. A connection that ioredis already ended rejects `quit` with
 * "Connection is closed." (nothing left to close); any other failure is reported to `onError`.
 */
export async function quitRedis(
  r: Pick<Redis, 'quit'>,
  onError: (err: unknown, what: string) => void,
): Promise<void> {
  try {
    await r.quit();
  } catch (err) {
    if ((err as Error).message !== 'Connection is closed.') onError(err, 'closing a Redis connection failed');
  }
}

/**
 * Builds the runtime, whatever CLUSTER_MODE says (every process takes a lease before it runs a session).
 * Embedded PGlite (one process, guarded by the DATA_DIR lock): in-process events, no command transport, unless
 * CLUSTER_MODE=on asks for the shared transports there too.
 * PostgreSQL: Redis pub/sub for events and commands when REDIS_URL is set, otherwise the event-log tail and the
 * `cluster_commands` table, so a second process on the same database serves the whole API with no extra service.
 * Nothing connects until `start` (or `startEvents`).
 */
export function createClusterRuntime(
  config: Readonly<Config>,
  store: Store,
  logger: ClusterLogger,
): ClusterRuntime {
  const c = config.cluster;
  const leases = new StoreLeases(store, c.replicaId, c.leaseTtlMs);
  const onError = (err: unknown, what: string) => logger.warn({ err: String(err) }, `cluster: ${what}`);
  // CLUSTER_MODE=on only forces the shared transports on PGlite too (several gateways in one test process).
  if (store.kind === 'pglite' && !c.enabled) {
    const memory = new MemoryEventBus((err) => onError(err, 'event listener failed'));
    const bus: ClusterBus = Object.assign(memory, { start: async () => {} });
    const transport = new LocalCommandTransport();
    return new ClusterRuntime(
      leases,
      new ClusterForwarder(leases, transport, c.commandTimeoutMs),
      bus,
      transport,
      {
        renewMs: c.leaseRenewMs,
        ttlMs: c.leaseTtlMs,
        transport: { events: 'local', commands: 'local' },
        logger,
        exclusive: true,
      },
    );
  }
  if (config.redisUrl) {
    const options = { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true };
    const pub = new Redis(config.redisUrl, options);
    const sub = new Redis(config.redisUrl, options);
    for (const r of [pub, sub]) r.on('error', (err) => onError(err, 'redis'));
    const prefix = `sb:${config.database.schema}`;
    const bus = new RedisEventBus(pub, sub, `${prefix}:events`, c.replicaId, onError);
    const transport = new RedisCommandTransport(pub, sub, prefix, c.replicaId, onError);
    const forwarder = new ClusterForwarder(leases, transport, c.commandTimeoutMs);
    return new ClusterRuntime(leases, forwarder, bus, transport, {
      renewMs: c.leaseRenewMs,
      ttlMs: c.leaseTtlMs,
      transport: { events: 'redis', commands: 'redis' },
      logger,
      close: async () => {
        await Promise.all([quitRedis(pub, onError), quitRedis(sub, onError)]);
      },
    });
  }
  const bus = new LogTailEventBus(store, { pollMs: 200, gapWaitMs: 5_000 }, onError);
  const transport = new SqlCommandTransport(store, c.replicaId, 50, onError);
  const forwarder = new ClusterForwarder(leases, transport, c.commandTimeoutMs);
  return new ClusterRuntime(leases, forwarder, bus, transport, {
    renewMs: c.leaseRenewMs,
    ttlMs: c.leaseTtlMs,
    transport: { events: 'log-tail', commands: 'sql' },
    logger,
  });
}
