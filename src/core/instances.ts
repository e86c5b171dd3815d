// Instance service: create, read, change, delete instances, and drive their sessions through the supervisor.
import { notFound, SbError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { Instance, Principal } from '../domain/model.js';
import type { AuthStatus, InstanceStatus, InstanceType } from '../domain/statuses.js';
import type { WebhookEndpoint } from '../ports/deliveries.js';
import type { EventBus } from '../ports/event-bus.js';
import type { ProviderFactory, ProviderRegistry } from '../ports/provider.js';
import type { InstancePatch, Page, Repos, Store } from '../ports/store.js';
import { assertCompany, canSeeInstance, companyOf, requireCompanyLevel } from './access.js';
import { commitWithEvents } from './commit.js';
import {
  type InstanceEndpointConfig,
  type InstanceEndpointView,
  instanceEndpointView,
} from './instance-endpoints.js';
import type { CredentialService, KeyResolver } from './keys.js';
import type { SessionSupervisor } from './supervisor.js';

/** What a PATCH may change. */
export interface UpdateInstanceInput {
  name?: string | null;
  type_instance?: InstanceType[];
  settings?: Record<string, unknown>;
  /** Written to the instance's webhook endpoint (see InstanceEndpointConfig). */
  api_webhook_schema?: Record<string, unknown>;
  mcp_schema?: Record<string, unknown>;
  /** Written to the instance's agent endpoint. */
  agent?: Record<string, unknown>;
}

/** What a create takes: the same fields, and who owns it, which provider, whether it starts, whether it is pooled. */
export interface CreateInstanceInput extends UpdateInstanceInput {
  company_id: string;
  provider: string;
  start?: boolean;
  is_pooled?: boolean;
}

/** The API view of an instance: secret settings removed, webhook and agent settings derived from its endpoints. */
export type PublicInstance = Omit<Instance, 'settings' | 'qr'> &
  InstanceEndpointView & {
    settings: Record<string, unknown>;
    has_qr: boolean;
  };

export interface InstanceServiceDeps {
  store: Store;
  bus: EventBus;
  providers: ProviderRegistry;
  supervisor: SessionSupervisor;
  keys: KeyResolver;
  /** Issues and revokes instance keys (rights never grow). */
  credentials: CredentialService;
  /** Instances a company may hold when created with a company credential (0 = no limit; the admin key is exempt). */
  maxInstancesPerCompany?: number;
  /**
   * Writes `api_webhook_schema` / `agent` of a create or update into the instance's webhook and agent endpoints
   * (their only store), inside the instance write transaction; may throw to refuse.
   */
  configSync: (tx: Repos, inst: Instance, cfg: InstanceEndpointConfig) => Promise<void>;
}

/** Most instance rows the send path keeps (the map is emptied when it grows past this). */
const SEND_CACHE_MAX = 10_000;

export class InstanceService {
  /**
   * Instance rows as the send path last read them, with their version. Never trusted alone: a send that uses one
   * writes its message only while the row is still at that version (`insertOutboundMany` with that version), so a
   * change on any replica is seen by the next send; a change made here is dropped at once.
   */
  private readonly sendCache = new Map<string, { instance: Instance; version: string }>();

  constructor(private readonly deps: InstanceServiceDeps) {}

  /**
   * The instance for a send: from the send cache when it is there and passes the access check (`version` set: the
   * caller must write with that version through `insertOutboundMany`), else read fresh (`version` null). 404 as
   * `get`.
   */
  async getForSend(p: Principal, id: string): Promise<{ instance: Instance; version: string | null }> {
    const hit = this.sendCache.get(id);
    if (hit && canSeeInstance(p, hit.instance)) return hit;
    return { instance: await this.getFresh(p, id), version: null };
  }

  /** Reads the instance (and caches it for sends), or throws 404 as `get`. */
  async getFresh(p: Principal, id: string): Promise<Instance> {
    const row = isUuid(id) ? await this.deps.store.instances.getVersioned(id) : null;
    if (!row) {
      this.sendCache.delete(id);
      throw notFound('instance', id);
    }
    if (this.sendCache.size >= SEND_CACHE_MAX) this.sendCache.clear();
    this.sendCache.set(id, row);
    if (!canSeeInstance(p, row.instance)) throw notFound('instance', id);
    return row.instance;
  }

  /** Drops an instance from the send cache (after a change here, or when a send found it changed). */
  forget(id: string): void {
    this.sendCache.delete(id);
  }

  provider(name: string): ProviderFactory {
    const f = this.deps.providers.get(name);
    if (!f) {
      throw new SbError('SB_ERR_PROVIDER_UNKNOWN', `unknown or disabled provider "${name}"`, {
        details: { available: this.deps.providers.list().map((p) => p.name) },
      });
    }
    return f;
  }

  /**
   * The public view: secret settings (tokens, keys) are dropped, the QR itself is served by its own route, and
   * `api_webhook_schema` / `agent` come from `endpoints` (those of the instance are picked).
   */
  toPublic(inst: Instance, endpoints: readonly WebhookEndpoint[]): PublicInstance {
    const secret = new Set(this.deps.providers.get(inst.provider)?.secretSettings ?? []);
    const settings = Object.fromEntries(Object.entries(inst.settings).filter(([k]) => !secret.has(k)));
    const { qr, settings: _s, ...rest } = inst;
    return { ...rest, settings, has_qr: qr !== null, ...instanceEndpointView(inst.id, endpoints) };
  }

  /** The public view of one instance (reads its endpoints: API responses only, never the send path). */
  async view(inst: Instance): Promise<PublicInstance> {
    return this.toPublic(inst, await this.deps.store.deliveries.listEndpoints({ instance_id: inst.id }));
  }

  /** The public views of a page of instances: one endpoint read per company on the page. */
  async views(insts: readonly Instance[]): Promise<PublicInstance[]> {
    const endpoints: WebhookEndpoint[] = [];
    for (const companyId of new Set(insts.map((i) => i.company_id))) {
      endpoints.push(
        ...(await this.deps.store.deliveries.listCompanyEndpoints(companyId, ['webhook', 'agent'])),
      );
    }
    return insts.map((i) => this.toPublic(i, endpoints));
  }

  /** Loads an instance the principal may see, or throws 404 (also for foreign ids). */
  async get(p: Principal, id: string): Promise<Instance> {
    const inst = isUuid(id) ? await this.deps.store.instances.get(id) : null;
    if (!inst || !canSeeInstance(p, inst)) throw notFound('instance', id);
    return inst;
  }

  async create(p: Principal, input: CreateInstanceInput): Promise<{ instance: Instance; api_key: string }> {
    requireCompanyLevel(p);
    assertCompany(p, input.company_id);
    // Creating an instance hands out its key (read, send, control): the caller must hold those rights itself.
    this.deps.credentials.assertCanIssueInstanceKey(p, input.company_id, null);
    const factory = this.provider(input.provider);
    let settings = input.settings ?? {};
    let account: string | null | undefined;
    if (factory.prepare) {
      const prepared = await factory.prepare(settings);
      settings = prepared.settings;
      account = prepared.account;
    }
    let apiKey = '';
    const created = await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
      // An admin may name a new company here; a company key has already been checked to be this company's.
      await tx.companies.ensure(input.company_id);
      const max = this.deps.maxInstancesPerCompany ?? 0;
      if (max > 0 && p.kind !== 'admin') {
        const held = await tx.instances.countForCompany(input.company_id);
        if (held >= max)
          throw new SbError(
            'SB_ERR_QUOTA_EXCEEDED',
            `this company already has ${held} instances (limit ${max})`,
            {
              details: { quota: 'INSTANCES_MAX_PER_COMPANY', limit: max },
            },
          );
      }
      let inst = await tx.instances.create({
        company_id: input.company_id,
        provider: factory.name,
        name: input.name ?? null,
        type_instance: input.type_instance ?? ['api'],
        settings,
        mcp_schema: input.mcp_schema ?? {},
        desired_state: input.start === false ? 'stopped' : 'running',
        is_pooled: input.is_pooled ?? false,
      });
      if (account) inst = (await tx.instances.update(inst.id, { account }))!;
      await this.syncEndpoints(tx, inst, input);
      apiKey = await this.deps.credentials.insertInstanceKey(tx, inst);
      await emit({
        type: 'instance.created',
        instance_id: inst.id,
        company_id: inst.company_id,
        data: { provider: inst.provider, name: inst.name, type_instance: inst.type_instance },
      });
      return inst;
    });
    let instance = created;
    if (input.start !== false) {
      try {
        instance = await this.deps.supervisor.start(created.id);
      } catch {
        // The failure is recorded on the instance (status error, last_error, an error event).
        instance = (await this.deps.store.instances.get(created.id)) ?? created;
      }
    }
    return { instance, api_key: apiKey };
  }

  async list(
    p: Principal,
    f: {
      company_id?: string;
      provider?: string;
      status?: InstanceStatus;
      auth_status?: AuthStatus;
      limit: number;
      cursor?: string;
    },
  ): Promise<Page<Instance>> {
    if (p.kind === 'instance') {
      const inst = await this.get(p, p.instanceId);
      const matches =
        (f.company_id === undefined || f.company_id === inst.company_id) &&
        (f.provider === undefined || f.provider === inst.provider) &&
        (f.status === undefined || f.status === inst.status) &&
        (f.auth_status === undefined || f.auth_status === inst.auth_status);
      return { items: matches && !f.cursor ? [inst] : [], next_cursor: null };
    }
    const own = companyOf(p);
    if (own !== null && f.company_id !== undefined && f.company_id !== own)
      return { items: [], next_cursor: null };
    const provider = f.provider ? (this.deps.providers.get(f.provider)?.name ?? f.provider) : undefined;
    const page = await this.deps.store.instances.list({ ...f, provider, company_id: own ?? f.company_id });
    // A key restricted to some instances lists only those.
    return p.kind === 'company' && p.instanceIds
      ? { ...page, items: page.items.filter((i) => canSeeInstance(p, i)) }
      : page;
  }

  async update(p: Principal, id: string, input: UpdateInstanceInput): Promise<Instance> {
    const inst = await this.get(p, id);
    const patch: InstancePatch = {};
    if (input.name !== undefined) patch.name = input.name;
    if (input.type_instance !== undefined) patch.type_instance = input.type_instance;
    if (input.mcp_schema !== undefined) patch.mcp_schema = input.mcp_schema;
    if (input.settings !== undefined) {
      const factory = this.provider(inst.provider);
      const merged = { ...inst.settings, ...input.settings };
      const prepared = factory.prepare ? await factory.prepare(merged) : { settings: merged };
      patch.settings = prepared.settings;
      if (prepared.account) patch.account = prepared.account;
    }
    try {
      if (input.api_webhook_schema === undefined && input.agent === undefined)
        return (await this.deps.store.instances.update(inst.id, patch)) ?? inst;
      return await this.deps.store.tx(async (tx) => {
        const updated = await tx.instances.update(inst.id, patch);
        if (updated) await this.syncEndpoints(tx, updated, input);
        return updated ?? inst;
      });
    } finally {
      // Seen by this replica's next send at once (other replicas: their send finds the version moved).
      this.forget(inst.id);
    }
  }

  /** Writes the webhook and agent settings `input` carries (if any) into the instance's endpoints. */
  private async syncEndpoints(tx: Repos, inst: Instance, input: InstanceEndpointConfig): Promise<void> {
    if (input.api_webhook_schema === undefined && input.agent === undefined) return;
    await this.deps.configSync(tx, inst, {
      api_webhook_schema: input.api_webhook_schema,
      agent: input.agent,
    });
  }

  async delete(p: Principal, id: string): Promise<void> {
    const inst = await this.get(p, id);
    await this.deps.supervisor.stop(inst.id);
    await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
      // Its keys die with it, and their open sockets close on every replica.
      await this.deps.credentials.revokeInstanceKeys(tx, emit, inst, 'deleted');
      await tx.instances.delete(inst.id);
      await emit({
        type: 'instance.deleted',
        instance_id: inst.id,
        company_id: inst.company_id,
        data: { provider: inst.provider, name: inst.name },
      });
    });
    this.forget(inst.id);
    this.deps.keys.invalidate();
  }

  async rotateKey(p: Principal, id: string): Promise<{ api_key: string }> {
    const inst = await this.get(p, id);
    return { api_key: await this.deps.credentials.rotateInstanceKey(p, inst) };
  }

  async start(p: Principal, id: string): Promise<Instance> {
    return this.deps.supervisor.start((await this.get(p, id)).id);
  }

  async stop(p: Principal, id: string): Promise<Instance> {
    const inst = await this.get(p, id);
    return (await this.deps.supervisor.stop(inst.id)) ?? inst;
  }

  async restart(p: Principal, id: string): Promise<Instance> {
    return this.deps.supervisor.restart((await this.get(p, id)).id);
  }

  async logout(p: Principal, id: string): Promise<Instance> {
    const inst = await this.get(p, id);
    return (await this.deps.supervisor.logout(inst.id)) ?? inst;
  }

  /** The current QR, or 409 when the instance is not waiting for a scan. */
  async qr(p: Principal, id: string): Promise<{ qr: string; updated_at: string | null; instance: Instance }> {
    const inst = await this.get(p, id);
    if (!inst.qr || inst.auth_status !== 'qr_ready') {
      throw new SbError('SB_ERR_NO_QR', `no QR: the instance is ${inst.status}/${inst.auth_status}`, {
        details: { status: inst.status, auth_status: inst.auth_status },
      });
    }
    return { qr: inst.qr, updated_at: inst.qr_updated_at, instance: inst };
  }
}
