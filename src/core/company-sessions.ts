// Company session API (seed 003): THE WhatsApp session of a company — initialize, send, status, health, metrics.
import { notFound, SbError } from '../domain/errors.js';
import type { GatewayEvent, Instance, Principal } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { ProviderRegistry } from '../ports/provider.js';
import type { Store } from '../ports/store.js';
import { assertCompany, canSeeInstance, requireCompanyLevel } from './access.js';
import { toE164 } from './addressing.js';
import { commitWithEvents } from './commit.js';
import { type CompanyConnection, LostRace } from './connections.js';
import type { MessagingService } from './messaging.js';
import type { SessionSupervisor } from './supervisor.js';

/** Seed 003 counters (since this process started). */
export interface SessionCounters {
  failedReconnects: number;
  messagesSent: number;
  messagesReceived: number;
  qrCodesGenerated: number;
  errors: number;
  lastError: string | null;
}

export interface SessionView {
  companyId: string;
  instanceId: string;
  source: 'session' | 'pool';
  connected: boolean;
  status: string;
  reconnectAttempts: number;
  phoneNumber: string | null;
  instance: Instance;
}

export interface CompanySessionDeps {
  store: Store;
  bus: EventBus;
  supervisor: SessionSupervisor;
  providers: ProviderRegistry;
  messaging: MessagingService;
  /** Provider of new company sessions; unset = `whatsapp` when registered, else `simulator`. */
  provider: string | undefined;
  /** How long initialize waits for a QR or a login before answering with the status (ms). */
  qrWaitMs?: number;
}

/** Seed 003's status word for an instance. */
export function sessionStatus(inst: Pick<Instance, 'status' | 'auth_status'> | null): string {
  if (!inst) return 'not_initialized';
  switch (inst.auth_status) {
    case 'client_ready':
      return inst.status === 'running' ? 'connected' : 'disconnected';
    case 'authenticated':
    case 'pending':
      return inst.status === 'running' || inst.status === 'starting' ? 'connecting' : 'disconnected';
    case 'qr_ready':
      return 'qr';
    default:
      return inst.auth_status;
  }
}

const emptyCounters = (): SessionCounters => ({
  failedReconnects: 0,
  messagesSent: 0,
  messagesReceived: 0,
  qrCodesGenerated: 0,
  errors: 0,
  lastError: null,
});

export class CompanySessionService {
  private readonly counters = new Map<string, SessionCounters>();
  private readonly reconnects = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(private readonly deps: CompanySessionDeps) {
    // Counters count this replica's own events (every replica reports its own).
    this.unsubscribe = (deps.bus.subscribeLocal ?? deps.bus.subscribe).call(deps.bus, (e) => this.count(e));
  }

  /** The provider new sessions use. */
  get providerName(): string {
    const wanted = this.deps.provider ?? (this.deps.providers.get('whatsapp') ? 'whatsapp' : 'simulator');
    const f = this.deps.providers.get(wanted);
    if (!f) throw new SbError('SB_ERR_PROVIDER_UNKNOWN', `provider ${wanted} is not available`);
    return f.name;
  }

  private count(e: GatewayEvent): void {
    let c = this.counters.get(e.company_id);
    if (!c) {
      c = emptyCounters();
      this.counters.set(e.company_id, c);
    }
    const data = e.data as Record<string, any>;
    switch (e.type) {
      case 'message':
        if (data.message?.is_from_me) c.messagesSent++;
        else c.messagesReceived++;
        break;
      case 'qr':
        c.qrCodesGenerated++;
        break;
      case 'error':
        c.errors++;
        c.lastError = typeof data.message === 'string' ? data.message : 'error';
        break;
      case 'reconnect_failed':
        c.failedReconnects++;
        break;
      case 'instance.status':
        if (!e.instance_id) break;
        if (data.auth_status === 'reconnecting' && data.previous_auth_status !== 'reconnecting')
          this.reconnects.set(e.instance_id, (this.reconnects.get(e.instance_id) ?? 0) + 1);
        else if (data.auth_status === 'client_ready') this.reconnects.delete(e.instance_id);
        break;
    }
  }

  /** Counters for one company, or summed over all (admin). */
  counts(companyId?: string): SessionCounters {
    if (companyId !== undefined) return { ...(this.counters.get(companyId) ?? emptyCounters()) };
    const sum = emptyCounters();
    for (const c of this.counters.values()) {
      sum.failedReconnects += c.failedReconnects;
      sum.messagesSent += c.messagesSent;
      sum.messagesReceived += c.messagesReceived;
      sum.qrCodesGenerated += c.qrCodesGenerated;
      sum.errors += c.errors;
      sum.lastError = c.lastError ?? sum.lastError;
    }
    return sum;
  }

  private view(conn: CompanyConnection, inst: Instance): SessionView {
    const connected = inst.auth_status === 'client_ready' && inst.status === 'running';
    return {
      companyId: conn.company_id,
      instanceId: inst.id,
      source: conn.source,
      connected,
      status: connected ? 'connected' : sessionStatus(inst),
      reconnectAttempts: this.reconnects.get(inst.id) ?? 0,
      phoneNumber: inst.account,
      instance: inst,
    };
  }

  /** Sessions visible to the principal (admin: all companies). */
  async list(p: Principal): Promise<SessionView[]> {
    requireCompanyLevel(p);
    const conns = await this.deps.store.connections.list(p.kind === 'admin' ? undefined : p.companyId);
    const out: SessionView[] = [];
    for (const c of conns) {
      const inst = await this.deps.store.instances.get(c.instance_id);
      // A key limited to some instances sees only those instances' sessions.
      if (inst && canSeeInstance(p, inst)) out.push(this.view(c, inst));
    }
    return out;
  }

  /** The company's session, or null when it has none. */
  async get(p: Principal, companyId: string): Promise<SessionView | null> {
    requireCompanyLevel(p);
    assertCompany(p, companyId);
    const conn = await this.deps.store.connections.get(companyId);
    if (!conn) return null;
    const inst = await this.deps.store.instances.get(conn.instance_id);
    return inst && canSeeInstance(p, inst) ? this.view(conn, inst) : null;
  }

  /**
   * Creates or reuses the company's one WhatsApp instance (a primary key on company_connections keeps it to one
   * under concurrent calls), opens its session and waits briefly for a QR or a login.
   */
  async initialize(p: Principal, companyId: string): Promise<SessionView> {
    requireCompanyLevel(p);
    assertCompany(p, companyId);
    const { store } = this.deps;
    if (p.kind === 'admin') await store.companies.ensure(companyId);
    else if (!(await store.companies.get(companyId))) throw notFound('company', companyId);
    let conn = await store.connections.get(companyId);
    if (!conn) conn = await this.createConnection(companyId);
    let inst = await store.instances.get(conn.instance_id);
    if (!inst || !canSeeInstance(p, inst)) throw notFound('instance', conn.instance_id);
    if (!(await this.deps.supervisor.reachable(inst.id))) inst = await this.deps.supervisor.start(inst.id);
    inst = await this.waitForLogin(inst);
    return this.view(conn, inst);
  }

  private async createConnection(companyId: string): Promise<CompanyConnection> {
    const provider = this.providerName;
    try {
      await commitWithEvents(this.deps.store, this.deps.bus, async (tx, emit) => {
        const inst = await tx.instances.create({
          company_id: companyId,
          provider,
          name: `whatsapp-${companyId}`,
          type_instance: ['api'],
          settings: {},
          mcp_schema: {},
          desired_state: 'running',
        });
        if (!(await tx.connections.insert(companyId, inst.id, 'session'))) throw new LostRace();
        await emit({
          type: 'instance.created',
          instance_id: inst.id,
          company_id: companyId,
          data: { provider, name: inst.name, type_instance: inst.type_instance, company_session: true },
        });
      });
    } catch (err) {
      if (!(err instanceof LostRace)) throw err;
    }
    const conn = await this.deps.store.connections.get(companyId);
    if (!conn) throw new SbError('SB_ERR_INTERNAL', 'company session was not recorded');
    return conn;
  }

  /** Resolves once the instance shows a QR or is logged in (or fails), or after `qrWaitMs`. */
  private async waitForLogin(inst: Instance): Promise<Instance> {
    const settled = (i: Instance) =>
      (i.auth_status === 'qr_ready' && i.qr !== null) ||
      i.auth_status === 'client_ready' ||
      i.status === 'error' ||
      i.auth_status === 'failed';
    if (settled(inst)) return inst;
    return new Promise<Instance>((resolve) => {
      let done = false;
      let timedOut = false;
      const finish = async () => {
        const now = (await this.deps.store.instances.get(inst.id)) ?? inst;
        if (!done && (settled(now) || timedOut)) {
          done = true;
          clearTimeout(timer);
          unsubscribe();
          resolve(now);
        }
      };
      const unsubscribe = this.deps.bus.subscribe((e) => {
        if (e.instance_id === inst.id) void finish();
      });
      const timer = setTimeout(() => {
        timedOut = true;
        void finish();
      }, this.deps.qrWaitMs ?? 15_000);
      timer.unref();
      void finish();
    });
  }

  /** Sends a text through the company's session (phone validated and normalised to E.164). */
  async send(
    p: Principal,
    companyId: string,
    input: { phone: string; message: string; quoted?: string },
  ): Promise<{ phone: string; messageId: string | null; timestamp: string }> {
    requireCompanyLevel(p);
    assertCompany(p, companyId);
    const e164 = toE164(input.phone);
    if (!e164) {
      throw new SbError('SB_ERR_VALIDATION', 'phone: expected a valid phone number, e.g. 79001234567', {
        details: [{ in: 'body', path: 'phone', message: 'invalid phone number' }],
      });
    }
    const conn = await this.deps.store.connections.get(companyId);
    if (!conn) throw new SbError('SB_ERR_NOT_CONNECTED', `No active session for company ${companyId}`);
    const { message } = await this.deps.messaging.send(p, conn.instance_id, {
      to: e164,
      text: input.message,
      reply_to: input.quoted ?? null,
    });
    return { phone: e164.slice(1), messageId: message.message_id, timestamp: message.timestamp };
  }

  close(): void {
    this.unsubscribe();
  }
}
