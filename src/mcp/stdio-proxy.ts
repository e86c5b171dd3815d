// stdio MCP server for desktop clients: forwards to a gateway's /mcp/:id endpoint and turns live events into
// resource-updated notifications for subscribed chats.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesRequestSchema,
  ListResourceTemplatesResultSchema,
  ListToolsRequestSchema,
  ListToolsResultSchema,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import WebSocket from 'ws';
import { isUuid } from '../domain/ids.js';
import { LAST_EVENT_META } from './server.js';

export interface StdioProxyOptions {
  instance: string;
  /** Base URL of the gateway, e.g. http://127.0.0.1:3000. */
  url: string;
  /** The instance key (or a company key of its company). */
  key: string;
  /** Diagnostics go here (stderr in the CLI); stdout belongs to the protocol. */
  log: (line: string) => void;
  /** The downstream transport (default: this process's stdin/stdout). */
  transport?: Transport;
}

export interface StdioProxy {
  close(): Promise<void>;
  /** Resolves when the downstream client disconnects. */
  closed: Promise<void>;
}

const norm = (uri: string): string => {
  try {
    return decodeURIComponent(uri);
  } catch {
    return uri;
  }
};

/** Connects to the gateway first (so a bad key or id fails fast), then serves MCP on stdio. */
export async function startStdioProxy(opts: StdioProxyOptions): Promise<StdioProxy> {
  if (!isUuid(opts.instance)) throw new Error('--instance must be an instance id (UUID)');
  let base: URL;
  try {
    base = new URL(opts.url);
  } catch {
    throw new Error('--url must be the gateway URL, e.g. http://127.0.0.1:3000');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('--url must be http(s)');
  const root = base.href.replace(/\/+$/, '');
  const headers = { authorization: `Bearer ${opts.key}` };

  const upstream = new Client({ name: 'switchboard-stdio', version: '0.1.0' });
  try {
    await upstream.connect(
      new StreamableHTTPClientTransport(new URL(`${root}/mcp/${opts.instance}`), {
        requestInit: { headers },
      }),
    );
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot open the MCP endpoint of instance ${opts.instance}: ${msg.replaceAll(opts.key, '***')}`,
    );
  }
  const caps = upstream.getServerCapabilities() ?? {};
  const server = new Server(
    { name: 'switchboard', version: '0.1.0' },
    {
      capabilities: { tools: {}, ...(caps.resources ? { resources: { subscribe: true } } : {}) },
      instructions: upstream.getInstructions(),
    },
  );

  server.setRequestHandler(ListToolsRequestSchema, (req) =>
    upstream.request({ method: 'tools/list', params: req.params }, ListToolsResultSchema),
  );
  server.setRequestHandler(CallToolRequestSchema, (req) =>
    upstream.request({ method: 'tools/call', params: req.params }, CallToolResultSchema),
  );

  const subscriptions = new Set<string>();
  let ws: WebSocket | null = null;
  let lastEventId: number | undefined;
  let closing = false;
  let retry: NodeJS.Timeout | null = null;

  const onEvent = (raw: WebSocket.RawData) => {
    let e: { id?: number; type?: string; data?: { message?: { chat_id?: string } } };
    try {
      e = JSON.parse(String(raw));
    } catch {
      return;
    }
    if (typeof e.id === 'number') lastEventId = e.id;
    const chatId = e.type === 'message' ? e.data?.message?.chat_id : undefined;
    if (!chatId) return;
    const prefix = `switchboard://instances/${opts.instance}`;
    const touched = new Set([`${prefix}/chats`, `${prefix}/chats/${chatId}/messages`]);
    for (const uri of subscriptions) {
      if (touched.has(norm(uri)))
        void server
          .sendResourceUpdated({ uri })
          .catch((err: Error) =>
            opts.log(
              `resource update notification for ${uri} failed: ${err.message.replaceAll(opts.key, '***')}`,
            ),
          );
    }
  };

  /** Opens the event stream after `lastEventId` and resolves once it is open (or failed). */
  const openEvents = (): Promise<void> => {
    if (closing || ws || subscriptions.size === 0) return Promise.resolve();
    const q = new URLSearchParams({ instance_id: opts.instance, types: 'message' });
    if (lastEventId !== undefined) q.set('since', String(lastEventId));
    const sock = new WebSocket(`${root.replace(/^http/, 'ws')}/api/v1/events?${q}`, { headers });
    ws = sock;
    sock.on('message', onEvent);
    sock.on('close', () => {
      ws = null;
      if (!closing && subscriptions.size > 0) {
        retry = setTimeout(() => void openEvents(), 1000);
        retry.unref();
      }
    });
    return new Promise((resolve) => {
      sock.once('open', () => resolve());
      sock.on('error', (err) => {
        opts.log(`event stream error: ${err.message.replaceAll(opts.key, '***')}`);
        resolve();
      });
    });
  };

  /** The event id to stream from: taken from a read of the resource, so nothing after the subscribe is lost. */
  const baseline = async (uri: string): Promise<void> => {
    if (lastEventId !== undefined) return;
    const read = await upstream.request(
      { method: 'resources/read', params: { uri } },
      ReadResourceResultSchema,
    );
    const mark = read._meta?.[LAST_EVENT_META];
    if (typeof mark === 'number') lastEventId = mark;
  };

  if (caps.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (req) =>
      upstream.request({ method: 'resources/list', params: req.params }, ListResourcesResultSchema),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (req) =>
      upstream.request(
        { method: 'resources/templates/list', params: req.params },
        ListResourceTemplatesResultSchema,
      ),
    );
    server.setRequestHandler(ReadResourceRequestSchema, (req) =>
      upstream.request({ method: 'resources/read', params: req.params }, ReadResourceResultSchema),
    );
    server.setRequestHandler(SubscribeRequestSchema, async (req) => {
      await baseline(req.params.uri);
      subscriptions.add(req.params.uri);
      await openEvents();
      return {};
    });
    server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
      subscriptions.delete(req.params.uri);
      if (subscriptions.size === 0) ws?.close();
      return {};
    });
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const close = async () => {
    if (closing) return;
    closing = true;
    if (retry) clearTimeout(retry);
    ws?.close();
    await upstream
      .close()
      .catch((err: Error) =>
        opts.log(`closing the upstream MCP client failed: ${err.message.replaceAll(opts.key, '***')}`),
      );
    await server
      .close()
      .catch((err: Error) =>
        opts.log(`closing the stdio server failed: ${err.message.replaceAll(opts.key, '***')}`),
      );
    resolveClosed();
  };
  server.onclose = () => void close();
  await server.connect(opts.transport ?? new StdioServerTransport());
  return { close, closed };
}
