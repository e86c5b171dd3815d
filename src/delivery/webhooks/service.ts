// Webhook endpoints API logic: instance/company endpoints, secrets, delivery log and replay, with tenant checks.
import { z } from 'zod';
import { canSeeInstance, requireCompanyLevel } from '../../core/access.js';
import type { InstanceEndpointConfig } from '../../core/instance-endpoints.js';
import { isSinkKind } from '../../domain/endpoint-kinds.js';
import { SbError } from '../../domain/errors.js';
import type { Instance, Principal } from '../../domain/model.js';
import type { Clock } from '../../ports/clock.js';
import { systemClock } from '../../ports/clock.js';
import type { Delivery, DeliveryRepo, DeliveryStatus, WebhookEndpoint } from '../../ports/deliveries.js';
import type { Repos, Store } from '../../ports/store.js';
import { rotateSecret } from './repo.js';
import { generateSecret } from './signer.js';
import { assertAllowedUrl, type Resolver } from './ssrf.js';

/** The API view of an endpoint: no secret, whether a rotation overlap is running. */
export interface EndpointView {
  id: string;
  company_id: string;
  instance_id: string | null;
  kind: 'webhook' | 'agent';
  url: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export function endpointView(e: WebhookEndpoint): EndpointView {
  return {
    id: e.id,
    company_id: e.company_id,
    instance_id: e.instance_id,
    // Sink kinds never reach this view (endpoint() and the lists leave them out).
    kind: e.kind as EndpointView['kind'],
    url: e.url,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabled_reason,
    failing_since: e.failing_since,
    previous_secret_expires_at: e.previous_secret ? e.previous_expires_at : null,
    created_at: e.created_at,
    updated_at: e.updated_at,
  };
}

/** The webhook part of an instance (`api_webhook_schema` / `webhook` at creation, PUT …/webhooks). */
export const webhookConfigSchema = z.object({
  url: z.string().trim().min(1).max(2048),
  events: z.array(z.string().trim().min(1).max(64)).max(50).optional(),
  enabled: z.boolean().optional(),
});
export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

/** The instance `agent` settings (Agno AgentOS). `api_key` becomes the endpoint's secret and is never shown. */
export const agentConfigSchema = z.object({
  url: z.string().trim().min(1).max(2048),
  agent_id: z.string().trim().min(1).max(200),
  api_key: z.string().min(1).max(500).optional(),
  enabled: z.boolean().optional(),
  reply_in_groups: z.boolean().optional(),
});

const ALL = (events: string[] | undefined) => (events ?? []).filter((e) => e !== '*');

function invalid(where: string, err: z.ZodError): SbError {
  return new SbError(
    'SB_ERR_VALIDATION',
    `invalid ${where}: ${err.issues.map((i) => i.message).join('; ')}`,
    {
      details: err.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
    },
  );
}

/** Options for the service and for the instance endpoint writes. */
export interface WebhookServiceOptions {
  allowPrivate: boolean;
  resolve?: Resolver;
  clock?: Clock;
  /** Called after a replay so a local worker picks the deliveries up at once. */
  wake?: () => void;
}

/** Writes an instance's webhook endpoint from `cfg` (no `url`: the endpoint is removed); returns it, or null. */
async function setWebhook(
  repo: DeliveryRepo,
  inst: Instance,
  cfg: Record<string, unknown>,
  opts: WebhookServiceOptions,
): Promise<{ endpoint: WebhookEndpoint; created: boolean } | null> {
  const existing = await repo.instanceEndpoint(inst.id, 'webhook');
  if (cfg.url === undefined) {
    if (existing) await repo.deleteEndpoint(existing.id);
    return null;
  }
  const parsed = webhookConfigSchema.safeParse(cfg);
  if (!parsed.success) throw invalid('api_webhook_schema', parsed.error);
  const c = parsed.data;
  if (existing?.url !== c.url) await assertAllowedUrl(c.url, opts.allowPrivate, opts.resolve);
  const fields = { url: c.url, events: ALL(c.events), enabled: c.enabled ?? true };
  if (existing) {
    const endpoint = await repo.updateEndpoint(existing.id, { ...fields, disabled_reason: null });
    return endpoint && { endpoint, created: false };
  }
  const endpoint = await repo.insertEndpoint({
    ...fields,
    company_id: inst.company_id,
    instance_id: inst.id,
    kind: 'webhook',
    secret: generateSecret(),
  });
  return { endpoint, created: true };
}

/** Writes an instance's agent endpoint from `cfg` (neither `url` nor `agent_id`: removed); the key is kept if not given. */
async function setAgent(
  repo: DeliveryRepo,
  inst: Instance,
  cfg: Record<string, unknown>,
  opts: WebhookServiceOptions,
): Promise<void> {
  const existing = await repo.instanceEndpoint(inst.id, 'agent');
  if (cfg.url === undefined && cfg.agent_id === undefined) {
    if (existing) await repo.deleteEndpoint(existing.id);
    return;
  }
  const parsed = agentConfigSchema.safeParse(cfg);
  if (!parsed.success) throw invalid('agent', parsed.error);
  const a = parsed.data;
  const url = a.url.replace(/\/+$/, '');
  if (existing?.url !== url) await assertAllowedUrl(a.url, opts.allowPrivate, opts.resolve);
  const fields = {
    url,
    events: ['message'],
    enabled: a.enabled ?? true,
    include_groups: a.reply_in_groups ?? false,
    options: { agent_id: a.agent_id },
  };
  if (existing) {
    const secret = a.api_key !== undefined ? { secret: a.api_key } : {};
    await repo.updateEndpoint(existing.id, { ...fields, ...secret, disabled_reason: null });
  } else {
    await repo.insertEndpoint({
      ...fields,
      secret: a.api_key ?? null,
      inbound_only: true,
      company_id: inst.company_id,
      instance_id: inst.id,
      kind: 'agent',
    });
  }
}

/**
 * Writes the webhook and agent settings an instance create/update carries into the instance's endpoints, the
 * only place they are kept (the instance API derives its `api_webhook_schema` / `agent` from them). Runs inside
 * the instance write transaction (InstanceService `configSync`); a setting left out is not touched.
 */
export function endpointSync(opts: WebhookServiceOptions) {
  return async (tx: Repos, inst: Instance, cfg: InstanceEndpointConfig): Promise<void> => {
    if (cfg.api_webhook_schema !== undefined)
      await setWebhook(tx.deliveries, inst, cfg.api_webhook_schema, opts);
    if (cfg.agent !== undefined) await setAgent(tx.deliveries, inst, cfg.agent, opts);
  };
}

/** Endpoint management, delivery log and replay. Every lookup applies the tenant rules (foreign ids → 404). */
export class WebhookService {
  private readonly clock: Clock;

  constructor(
    private readonly store: Store,
    private readonly opts: WebhookServiceOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  private notFound(id: string): SbError {
    return new SbError('SB_ERR_WEBHOOK_NOT_FOUND', `webhook endpoint ${id} not found`, { details: { id } });
  }

  /** Loads an endpoint the principal may see (instance keys: their own instance's endpoints only). */
  async endpoint(p: Principal, id: string): Promise<WebhookEndpoint> {
    const ep = await this.store.deliveries.getEndpoint(id);
    // Sinks are managed by /api/v1/sinks (their own view and rules).
    if (!ep || isSinkKind(ep.kind)) throw this.notFound(id);
    const visible =
      ep.instance_id === null
        ? p.kind === 'admin' || (p.kind === 'company' && p.companyId === ep.company_id && !p.instanceIds)
        : canSeeInstance(p, { id: ep.instance_id, company_id: ep.company_id });
    if (!visible) throw this.notFound(id);
    return ep;
  }

  async listForInstance(inst: Instance): Promise<WebhookEndpoint[]> {
    return this.store.deliveries.listEndpoints({ instance_id: inst.id });
  }

  /** Sets the instance's webhook (shown as its `api_webhook_schema`); the secret is returned when new. */
  async putInstanceWebhook(
    inst: Instance,
    cfg: WebhookConfig,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string | null }> {
    const { endpoint, created } = (await setWebhook(this.store.deliveries, inst, cfg, this.opts))!;
    return { endpoint, secret: created ? endpoint.secret : null };
  }

  async deleteInstanceWebhook(inst: Instance): Promise<boolean> {
    const ep = await this.store.deliveries.instanceEndpoint(inst.id, 'webhook');
    return ep ? this.store.deliveries.deleteEndpoint(ep.id) : false;
  }

  /** Company-wide endpoints see every instance's events: not for instance keys or keys limited to some instances. */
  private requireWholeCompany(p: Principal): void {
    requireCompanyLevel(p);
    if (p.kind === 'company' && p.instanceIds) {
      throw new SbError(
        'SB_ERR_FORBIDDEN',
        'a key limited to some instances cannot manage company-wide webhooks',
      );
    }
  }

  async listForCompany(p: Principal, companyId: string): Promise<WebhookEndpoint[]> {
    this.requireWholeCompany(p);
    if (p.kind === 'company' && p.companyId !== companyId) {
      throw new SbError('SB_ERR_COMPANY_NOT_FOUND', `company ${companyId} not found`, {
        details: { id: companyId },
      });
    }
    return this.store.deliveries.listEndpoints({ company_id: companyId });
  }

  /** A company-wide endpoint (all the company's instances); its secret is returned once. */
  async createCompanyWebhook(
    p: Principal,
    companyId: string,
    cfg: WebhookConfig,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    this.requireWholeCompany(p);
    if ((p.kind === 'company' && p.companyId !== companyId) || !(await this.store.companies.get(companyId))) {
      throw new SbError('SB_ERR_COMPANY_NOT_FOUND', `company ${companyId} not found`, {
        details: { id: companyId },
      });
    }
    await assertAllowedUrl(cfg.url, this.opts.allowPrivate, this.opts.resolve);
    const endpoint = await this.store.deliveries.insertEndpoint({
      company_id: companyId,
      instance_id: null,
      kind: 'webhook',
      url: cfg.url,
      events: ALL(cfg.events),
      enabled: cfg.enabled ?? true,
      secret: generateSecret(),
    });
    return { endpoint, secret: endpoint.secret! };
  }

  /** Changes url, events or enabled (re-enabling clears the failure state). */
  async update(
    p: Principal,
    id: string,
    patch: { url?: string; events?: string[]; enabled?: boolean },
  ): Promise<WebhookEndpoint> {
    const ep = await this.endpoint(p, id);
    if (patch.url !== undefined && patch.url !== ep.url) {
      await assertAllowedUrl(patch.url, this.opts.allowPrivate, this.opts.resolve);
    }
    return (await this.store.deliveries.updateEndpoint(ep.id, {
      url: patch.url,
      events: patch.events === undefined ? undefined : ALL(patch.events),
      enabled: patch.enabled,
      ...(patch.enabled ? { disabled_reason: null, failing_since: null } : {}),
    }))!;
  }

  async remove(p: Principal, id: string): Promise<void> {
    const ep = await this.endpoint(p, id);
    await this.store.deliveries.deleteEndpoint(ep.id);
  }

  /**
   * A new signing secret, returned once. The previous one stays valid for `overlapSeconds` (both signatures are
   * sent meanwhile).
   */
  async rotateSecret(
    p: Principal,
    id: string,
    overlapSeconds: number,
  ): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
    const ep = await this.endpoint(p, id);
    if (ep.kind !== 'webhook')
      throw new SbError('SB_ERR_INVALID_STATE', 'only webhook endpoints have a signing secret');
    return rotateSecret(this.store.deliveries, ep, overlapSeconds, this.clock.now());
  }

  async deliveries(
    p: Principal,
    id: string,
    f: { status?: DeliveryStatus; limit: number; cursor?: string },
  ): Promise<{ items: Delivery[]; next_cursor: string | null }> {
    const ep = await this.endpoint(p, id);
    const before = f.cursor !== undefined ? Number(f.cursor) : undefined;
    if (before !== undefined && (!Number.isInteger(before) || before < 0)) {
      throw new SbError('SB_ERR_VALIDATION', 'invalid cursor', {
        details: [{ path: 'cursor', message: 'invalid cursor' }],
      });
    }
    return this.store.deliveries.listDeliveries({
      endpoint_id: ep.id,
      status: f.status,
      limit: f.limit,
      before,
    });
  }

  /** Queues one delivery again (any status). */
  async replayOne(p: Principal, id: string, deliveryId: number): Promise<void> {
    const ep = await this.endpoint(p, id);
    const n = await this.store.deliveries.replay(ep.id, { id: deliveryId }, this.clock.now());
    if (!n)
      throw new SbError('SB_ERR_WEBHOOK_NOT_FOUND', `delivery ${deliveryId} not found`, {
        details: { id: deliveryId },
      });
    this.opts.wake?.();
  }

  /** Queues again every failed delivery created since `since`; returns how many. */
  async replayFailed(p: Principal, id: string, since: Date): Promise<number> {
    const ep = await this.endpoint(p, id);
    const n = await this.store.deliveries.replay(ep.id, { since, statuses: ['failed'] }, this.clock.now());
    if (n) this.opts.wake?.();
    return n;
  }
}
