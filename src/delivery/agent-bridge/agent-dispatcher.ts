// Agent bridge (seed 000, Agno AgentOS): an inbound message → POST {url}/agents/{agent_id}/runs → reply to the chat.
import type { Message } from '../../domain/model.js';
import type { ClaimedDelivery } from '../../ports/deliveries.js';
import type { OutboundFetch } from '../../ports/outbound.js';
import { type PostFn, postRequest } from '../webhooks/http-post.js';
import { retryAfterMs } from '../webhooks/retry.js';
import type { Resolver } from '../webhooks/ssrf.js';
import type { Dispatcher, Outcome } from '../webhooks/worker.js';

export interface AgentDispatcherDeps {
  timeoutMs: number;
  allowPrivate: boolean;
  post?: PostFn;
  resolve?: Resolver;
  /** The gateway's guarded fetch (every agent call goes through it). */
  outbound?: OutboundFetch;
  /** Whether a reply with this idempotency key was already sent (a retry after the reply went out). */
  hasReply(instanceId: string, key: string): Promise<boolean>;
  /** Sends the agent's answer to the chat (idempotent on `key`). */
  sendReply(instanceId: string, chatId: string, text: string, key: string): Promise<void>;
}

/** Longest reply text sent back (the gateway's message limit). */
const MAX_REPLY = 4096;

/** Builds the multipart form body AgentOS expects (fields message, stream, session_id, user_id). */
async function multipart(fields: Record<string, string>): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const req = new Request('http://form.invalid/', { method: 'POST', body: form });
  return {
    body: Buffer.from(await req.arrayBuffer()),
    contentType: req.headers.get('content-type') ?? 'multipart/form-data',
  };
}

/** The dispatcher the outbox worker uses for `agent` endpoints. */
export function createAgentDispatcher(deps: AgentDispatcherDeps): Dispatcher {
  const post = deps.post ?? postRequest;
  return async (c: ClaimedDelivery): Promise<Outcome> => {
    const msg = c.event.data.message as Partial<Message> | undefined;
    const instanceId = c.endpoint.instance_id;
    const skip = (why: string): Outcome => ({
      ok: true,
      code: null,
      error: null,
      excerpt: `skipped: ${why}`,
    });
    if (!instanceId || c.event.type !== 'message' || !msg?.chat_id) return skip('not a message');
    if (msg.is_from_me) return skip('sent by us');
    if (!msg.body) return skip('no text');
    const key = `agent:${c.event.id}`;
    if (await deps.hasReply(instanceId, key))
      return { ok: true, code: null, error: null, excerpt: 'already replied' };

    const agentId = String(c.endpoint.options.agent_id ?? '');
    const { body, contentType } = await multipart({
      message: msg.body,
      stream: 'false',
      session_id: `${instanceId}:${msg.chat_id}`,
      user_id: c.endpoint.company_id,
    });
    const headers: Record<string, string> = { 'content-type': contentType, accept: 'application/json' };
    if (c.endpoint.secret) headers.authorization = `Bearer ${c.endpoint.secret}`;
    const res = await post(`${c.endpoint.url}/agents/${encodeURIComponent(agentId)}/runs`, body, headers, {
      timeoutMs: deps.timeoutMs,
      allowPrivate: deps.allowPrivate,
      resolve: deps.resolve,
      outbound: deps.outbound,
      maxBody: 256 * 1024,
    });
    const excerpt = res.body.slice(0, 512);
    if (res.status < 200 || res.status >= 300) {
      return {
        ok: false,
        code: res.status,
        error: `agent answered HTTP ${res.status}`,
        excerpt,
        retryAfterMs:
          res.status === 429 || res.status === 503
            ? retryAfterMs(res.headers['retry-after'], new Date())
            : null,
      };
    }
    let content: unknown;
    try {
      content = (JSON.parse(res.body) as { content?: unknown }).content;
    } catch {
      return { ok: false, code: res.status, error: 'agent reply is not JSON', excerpt };
    }
    const text = typeof content === 'string' ? content : content == null ? '' : JSON.stringify(content);
    if (!text.trim()) return { ok: true, code: res.status, error: null, excerpt };
    try {
      await deps.sendReply(instanceId, msg.chat_id, text.slice(0, MAX_REPLY), key);
    } catch (err) {
      return {
        ok: false,
        code: res.status,
        error: `reply not sent: ${err instanceof Error ? err.message : String(err)}`,
        excerpt,
      };
    }
    return { ok: true, code: res.status, error: null, excerpt };
  };
}
