// Human approval of agent sends: list pending requests, approve (then send once) or reject them.
import { SbError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { Message, Principal } from '../domain/model.js';
import type { Approval, ApprovalStatus } from '../ports/mcp.js';
import type { McpServices } from './services.js';

const approvalNotFound = (id: string) =>
  new SbError('SB_ERR_APPROVAL_NOT_FOUND', `approval ${id} not found`, { details: { id } });

/** Who decided, for the record: the key kind and key id (never the key). */
const deciderOf = (p: Principal): string => `${p.kind}:${p.keyId ?? 'env'}`;

/** Approvals of one gateway; tenant rules are those of the instance (foreign ids → 404). */
export class McpApprovalService {
  constructor(private readonly services: Pick<McpServices, 'store' | 'instances' | 'messaging'>) {}

  async list(
    p: Principal,
    instanceId: string,
    f: { status?: ApprovalStatus; limit: number },
  ): Promise<Approval[]> {
    const inst = await this.services.instances.get(p, instanceId);
    return this.services.store.mcp.approvals.list({ instance_id: inst.id, ...f });
  }

  async get(p: Principal, instanceId: string, id: string): Promise<Approval> {
    const inst = await this.services.instances.get(p, instanceId);
    const a = isUuid(id) ? await this.services.store.mcp.approvals.get(inst.id, id) : null;
    if (!a) throw approvalNotFound(id);
    return a;
  }

  /**
   * Approves or rejects a pending send. Instance keys cannot decide (the agent holds one). An approved send goes
   * through the normal send path (rate limiter included) with an idempotency key, so it is sent at most once.
   */
  async decide(
    p: Principal,
    instanceId: string,
    id: string,
    d: { decision: 'approve' | 'reject'; reason?: string | null },
  ): Promise<{ approval: Approval; message: Message | null }> {
    if (p.kind === 'instance') {
      throw new SbError(
        'SB_ERR_FORBIDDEN',
        'an instance key cannot decide approvals: use a company or admin key (the agent holds the instance key)',
      );
    }
    const current = await this.get(p, instanceId, id);
    const repo = this.services.store.mcp.approvals;
    const decided = await repo.decide(current.instance_id, current.id, {
      status: d.decision === 'approve' ? 'approved' : 'rejected',
      decided_by: deciderOf(p),
      reason: d.reason ?? null,
    });
    if (!decided) {
      throw new SbError('SB_ERR_INVALID_STATE', `approval ${id} was already decided (${current.status})`, {
        details: { id, status: current.status },
      });
    }
    if (decided.status === 'rejected') return { approval: decided, message: null };
    try {
      const { message } = await this.services.messaging.send(
        p,
        decided.instance_id,
        decided.request,
        `mcp-approval-${decided.id}`,
      );
      const approval = await repo.finish(decided.instance_id, decided.id, {
        status: 'sent',
        message_id: message.id,
        error_code: null,
      });
      return { approval: approval ?? decided, message };
    } catch (err) {
      const code = err instanceof SbError ? err.code : 'SB_ERR_INTERNAL';
      await repo.finish(decided.instance_id, decided.id, {
        status: 'failed',
        message_id: null,
        error_code: code,
      });
      throw err;
    }
  }
}
