// The one way an MCP tool sends: recipient policy, media URL check, then human approval or the core send.
import { normalizeRecipient } from '../core/addressing.js';
import type { ApprovalRequest } from '../ports/mcp.js';
import type { McpToolName } from './policy.js';
import { checkRecipient } from './recipients.js';
import { type Outcome, type ToolScope, text } from './tool-kit.js';
import { assertPublicUrl } from './url-guard.js';
import { sentMessageView } from './views.js';

/** Sends `req` for `tool` under the scope's policy; with require_approval it only records a pending approval. */
export async function guardedSend(
  s: Omit<ToolScope, 'send'>,
  tool: McpToolName,
  req: ApprovalRequest,
): Promise<Outcome> {
  const { services, instance: inst, policy, factory } = s;
  const chatId = normalizeRecipient(req.to, factory.addressing, 'to');
  await checkRecipient(chatId, 'recipient', policy, factory, s.wroteFirst);
  if (req.media?.url) await assertPublicUrl(req.media.url, s.resolve, services.config.outbound.allowPrivate);
  const request: ApprovalRequest = { ...req, to: chatId };
  if (policy.requireApproval) {
    const a = await services.store.mcp.approvals.create({
      instance_id: inst.id,
      company_id: inst.company_id,
      tool,
      request,
    });
    return {
      outcome: 'pending_approval',
      approvalId: a.id,
      result: text({
        status: 'pending_approval',
        approval_id: a.id,
        note: 'Not sent yet: a person must approve this message. Do not send it again.',
      }),
    };
  }
  const { message } = await services.messaging.send(s.principal, inst.id, request);
  return {
    result: text({
      status: 'sent',
      message: sentMessageView(message),
      note: 'Sent.',
    }),
  };
}
