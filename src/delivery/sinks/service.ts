// Event sinks API logic: create, list, change, delete, delivery log and replay, with the webhook tenant rules.
import { canSeeInstance, requireCompanyLevel } from '../../core/access.js';
import { isSinkKind, SINK_KINDS } from '../../domain/endpoint-kinds.js';
import { SbError } from '../../domain/errors.js';
import { DEPLOYMENT_COMPANY, type Principal } from '../../domain/model.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Delivery, DeliveryStatus, WebhookEndpoint } from '../../ports/deliveries.js';
import type { Store } from '../../ports/store.js';
import { rotateSecret } from '../webhooks/repo.js';
import { generateSecret } from '../webhooks/signer.js';
import { assertAllowedBroker, type BrokerGuard } from './guard.js';
import {
  type CreateSink,
  createSinkBody,
  type PatchSink,
  parseCredentials,
  sinkColumns,
  storedAsBody,
} from './spec.js';

export interface SinkServiceOptions {
  guard: BrokerGuard;
  clock?: Clock;
  /** Called after a replay so a local worker picks the deliveries up at once. */
  wake?: () => void;
  /** Called after a sink was changed or deleted (its broker connection in this process is closed). */
  changed?: (sinkId: string) => void;
}

const ALL = (events: string[] | undefined) => (events ?? []).filter((e) => e !== '*');
/** The kind-specific fields each sink kind takes in a change (the rest of the kind-specific ones are refused). */
const KIND_FIELDS: Record<string, readonly (keyof PatchSink)[]> = {
  rabbitmq: ['url', 'exchange', 'exchange_type', 'routing_key'],
  nats: ['servers', 'token', 'user', 'pass', 'stream', 'subject'],
  mqtt: ['url', 'user', 'pass', 'topic'],
};
const KIND_SPECIFIC = [...new Set(Object.values(KIND_FIELDS).flat())];
/** Where a sink kind names its broker address (the path in a 400). */
const addressField = (kind: string) => (kind === 'nats' ? 'servers' : 'url');

/**
 * The credentials column after a change. AMQP: a new URL carries the credentials (or none). NATS: credentials given
 * in the change replace the stored ones. MQTT: a new URL replaces them with its own (and `user`/`pass` beside it);
 * `user` or `pass` alone replaces that part only.
 */
function changedCredentials(
  ep: WebhookEndpoint,
  patch: PatchSink,
  merged: string | null | undefined,
): string | null {
  merged ??= null;
  if (ep.kind === 'rabbitmq') return patch.url !== undefined ? merged : ep.credentials;
  if (ep.kind === 'nats') return merged !== null ? merged : ep.credentials;
  if (patch.url !== undefined) return merged;
  if (patch.user === undefined && patch.pass === undefined) return ep.credentials;
  const c = { ...parseCredentials(ep) };
  if (patch.user !== undefined) c.username = patch.user;
  if (patch.pass !== undefined) c.password = patch.pass;
  return JSON.stringify(c);
}

/** Sink management. Every lookup applies the tenant rules (foreign ids → 404 SB_ERR_SINK_NOT_FOUND). */
export class SinkService {
  private readonly clock: Clock;

  constructor(
    private readonly store: Store,
    private readonly opts: SinkServiceOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  private notFound(id: string | number, what = 'event sink'): SbError {
    return new SbError('SB_ERR_SINK_NOT_FOUND', `${what} ${id} not found`, { details: { id } });
  }

  private companyNotFound(id: string): SbError {
    return new SbError('SB_ERR_COMPANY_NOT_FOUND', `company ${id} not found`, { details: { id } });
  }

  /** Loads a sink the principal may see (instance keys and restricted keys: their instances' sinks only). */
  async get(p: Principal, id: string): Promise<WebhookEndpoint> {
    const ep = await this.store.deliveries.getEndpoint(id);
    if (!ep || !isSinkKind(ep.kind) || !this.visible(p, ep)) throw this.notFound(id);
    return ep;
  }

  private visible(p: Principal, ep: WebhookEndpoint): boolean {
    return ep.instance_id === null
      ? p.kind === 'admin' || (p.kind === 'company' && p.companyId === ep.company_id && !p.instanceIds)
      : canSeeInstance(p, { id: ep.instance_id, company_id: ep.company_id });
  }

  /** Which company and instance a new sink belongs to, after the tenant checks. */
  private async scope(
    p: Principal,
    b: { company_id?: string; instance_id?: string },
  ): Promise<{ company_id: string; instance_id: string | null }> {
    if (b.instance_id) {
      const inst = await this.store.instances.get(b.instance_id);
      if (!inst || !canSeeInstance(p, inst) || (b.company_id && b.company_id !== inst.company_id)) {
        throw new SbError('SB_ERR_INSTANCE_NOT_FOUND', `instance ${b.instance_id} not found`, {
          details: { id: b.instance_id },
        });
      }
      return { company_id: inst.company_id, instance_id: inst.id };
    }
    // A company-wide sink sees every instance's events: not for instance keys or keys limited to some instances.
    requireCompanyLevel(p);
    if (p.kind === 'company' && p.instanceIds) {
      throw new SbError(
        'SB_ERR_FORBIDDEN',
        'a key limited to some instances cannot manage company-wide sinks',
      );
    }
    const companyId = b.company_id ?? (p.kind === 'company' ? p.companyId : undefined);
    if (!companyId) {
      throw new SbError('SB_ERR_VALIDATION', 'company_id or instance_id is required', {
        details: [{ path: 'company_id', message: 'required for an admin key' }],
      });
    }
    if ((p.kind === 'company' && p.companyId !== companyId) || !(await this.store.companies.get(companyId))) {
      throw this.companyNotFound(companyId);
    }
    return { company_id: companyId, instance_id: null };
  }

  /** Creates a sink; its signing secret is returned once. */
  async create(p: Principal, b: CreateSink): Promise<{ sink: WebhookEndpoint; secret: string }> {
    const where = await this.scope(p, b);
    const { hosts, ...cols } = sinkColumns(b);
    await assertAllowedBroker(hosts, addressField(b.kind), this.opts.guard);
    const sink = await this.store.deliveries.insertEndpoint({
      ...where,
      ...cols,
      events: ALL(b.events),
      enabled: b.enabled ?? true,
      inbound_only: b.inbound_only ?? false,
      include_groups: b.include_groups ?? true,
      secret: generateSecret(),
    });
    return { sink, secret: sink.secret! };
  }

  /** The sinks a principal sees: of one instance, or of a company (company-wide and per instance). */
  async list(p: Principal, f: { company_id?: string; instance_id?: string }): Promise<WebhookEndpoint[]> {
    const repo = this.store.deliveries;
    if (f.instance_id) {
      const inst = await this.store.instances.get(f.instance_id);
      if (!inst || !canSeeInstance(p, inst) || (f.company_id && f.company_id !== inst.company_id)) {
        throw new SbError('SB_ERR_INSTANCE_NOT_FOUND', `instance ${f.instance_id} not found`, {
          details: { id: f.instance_id },
        });
      }
      return repo.listEndpoints({ instance_id: inst.id }, SINK_KINDS);
    }
    const companyId = f.company_id ?? (p.kind === 'admin' ? undefined : p.companyId);
    if (!companyId) {
      throw new SbError('SB_ERR_VALIDATION', 'company_id or instance_id is required', {
        details: [{ path: 'company_id', message: 'required for an admin key' }],
      });
    }
    if (p.kind !== 'admin' && p.companyId !== companyId) throw this.companyNotFound(companyId);
    const all = await repo.listCompanyEndpoints(companyId, SINK_KINDS);
    return all.filter((ep) => this.visible(p, ep));
  }

  /** Changes a sink; kind-specific fields of the other kind are refused; new credentials replace the old ones. */
  async update(p: Principal, id: string, patch: PatchSink): Promise<WebhookEndpoint> {
    const ep = await this.get(p, id);
    const own = KIND_FIELDS[ep.kind] ?? [];
    const foreign = KIND_SPECIFIC.filter((k) => !own.includes(k) && patch[k] !== undefined);
    if (foreign.length) {
      throw new SbError('SB_ERR_VALIDATION', `not a field of a ${ep.kind} sink: ${foreign.join(', ')}`, {
        details: foreign.map((k) => ({ path: k, message: `not a field of a ${ep.kind} sink` })),
      });
    }
    const merged = createSinkBody.safeParse({
      ...storedAsBody(ep),
      ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)),
    });
    if (!merged.success) {
      throw new SbError('SB_ERR_VALIDATION', merged.error.issues.map((i) => i.message).join('; '), {
        details: merged.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const { hosts, url, options, credentials } = sinkColumns(merged.data);
    const target = ep.kind === 'nats' ? patch.servers : patch.url;
    if (target !== undefined) {
      await assertAllowedBroker(hosts, addressField(ep.kind), this.opts.guard);
    }
    const updated = (await this.store.deliveries.updateEndpoint(ep.id, {
      url,
      options,
      credentials: changedCredentials(ep, patch, credentials),
      events: patch.events === undefined ? undefined : ALL(patch.events),
      enabled: patch.enabled,
      inbound_only: patch.inbound_only,
      include_groups: patch.include_groups,
      ...(patch.enabled ? { disabled_reason: null, failing_since: null } : {}),
    }))!;
    this.opts.changed?.(ep.id);
    return updated;
  }

  /**
   * Brings the deployment-wide sink (EVENT_SINK_DEFAULT) in line with the configuration at start: created under
   * the reserved company that every company's events fan out to, changed in place when the configuration changed
   * (its id, signing secret and pending deliveries stay), disabled when the setting was removed. Invalid settings
   * are refused with every problem named, so the gateway does not start on a sink it cannot use.
   */
  async syncDeploymentDefault(spec: Record<string, unknown> | null): Promise<WebhookEndpoint | null> {
    const repo = this.store.deliveries;
    const existing = await repo.listCompanyEndpoints(DEPLOYMENT_COMPANY, SINK_KINDS);
    if (!spec) {
      for (const ep of existing.filter((e) => e.enabled)) {
        await repo.updateEndpoint(ep.id, { enabled: false });
        this.opts.changed?.(ep.id);
      }
      return null;
    }
    const parsed = createSinkBody.safeParse(spec);
    const scoped = ['company_id', 'instance_id'].filter((k) => spec[k] !== undefined);
    if (!parsed.success || scoped.length) {
      const issues = [
        ...(parsed.success
          ? []
          : parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`)),
        ...scoped.map((k) => `${k}: not allowed (the default sink takes every company's events)`),
      ];
      throw new SbError('SB_ERR_VALIDATION', `EVENT_SINK_DEFAULT: ${issues.join('; ')}`);
    }
    const b = parsed.data;
    const { hosts, ...cols } = sinkColumns(b);
    await assertAllowedBroker(hosts, addressField(b.kind), this.opts.guard);
    await this.store.companies.ensure(DEPLOYMENT_COMPANY, 'Deployment-wide event sinks (EVENT_SINK_DEFAULT)');
    const filters = {
      events: ALL(b.events),
      enabled: b.enabled ?? true,
      inbound_only: b.inbound_only ?? false,
      include_groups: b.include_groups ?? true,
    };
    const same = existing.find((e) => e.kind === b.kind);
    for (const ep of existing.filter((e) => e !== same && e.enabled)) {
      await repo.updateEndpoint(ep.id, { enabled: false });
      this.opts.changed?.(ep.id);
    }
    if (!same) {
      await repo.insertEndpoint({
        company_id: DEPLOYMENT_COMPANY,
        instance_id: null,
        ...cols,
        ...filters,
        secret: generateSecret(),
      });
      // Replicas starting together may each have inserted one: all keep the same (lowest id) and disable the rest.
      const mine = (await repo.listCompanyEndpoints(DEPLOYMENT_COMPANY, [b.kind]))
        .filter((e) => e.enabled)
        .sort((x, y) => (x.id < y.id ? -1 : 1));
      for (const ep of mine.slice(1)) {
        await repo.updateEndpoint(ep.id, { enabled: false });
        this.opts.changed?.(ep.id);
      }
      return mine[0] ?? null;
    }
    const updated = (await repo.updateEndpoint(same.id, {
      url: cols.url,
      options: cols.options,
      credentials: cols.credentials,
      ...filters,
      ...(filters.enabled ? { disabled_reason: null, failing_since: null } : {}),
    }))!;
    this.opts.changed?.(same.id);
    return updated;
  }

  async remove(p: Principal, id: string): Promise<void> {
    const ep = await this.get(p, id);
    await this.store.deliveries.deleteEndpoint(ep.id);
    this.opts.changed?.(ep.id);
  }

  /** A new signing secret, returned once; the previous one is also signed with for `overlapSeconds`. */
  async rotateSecret(
    p: Principal,
    id: string,
    overlapSeconds: number,
  ): Promise<{ sink: WebhookEndpoint; secret: string }> {
    const ep = await this.get(p, id);
    const { endpoint: sink, secret } = await rotateSecret(
      this.store.deliveries,
      ep,
      overlapSeconds,
      this.clock.now(),
    );
    return { sink, secret };
  }

  async deliveries(
    p: Principal,
    id: string,
    f: { status?: DeliveryStatus; limit: number; cursor?: string },
  ): Promise<{ items: Delivery[]; next_cursor: string | null }> {
    const ep = await this.get(p, id);
    return this.store.deliveries.listDeliveries({
      endpoint_id: ep.id,
      status: f.status,
      limit: f.limit,
      before: f.cursor !== undefined ? Number(f.cursor) : undefined,
    });
  }

  /** Queues one delivery again (any status). */
  async replayOne(p: Principal, id: string, deliveryId: number): Promise<void> {
    const ep = await this.get(p, id);
    const n = await this.store.deliveries.replay(ep.id, { id: deliveryId }, this.clock.now());
    if (!n) throw this.notFound(deliveryId, 'delivery');
    this.opts.wake?.();
  }

  /** Queues again every failed delivery created since `since`; returns how many. */
  async replayFailed(p: Principal, id: string, since: Date): Promise<number> {
    const ep = await this.get(p, id);
    const n = await this.store.deliveries.replay(ep.id, { since, statuses: ['failed'] }, this.clock.now());
    if (n) this.opts.wake?.();
    return n;
  }
}
