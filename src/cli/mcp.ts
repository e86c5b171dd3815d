// `switchboard mcp --instance ID --url URL --key KEY`: a stdio MCP server for desktop clients, proxying to a gateway.
import { startStdioProxy } from '../mcp/stdio-proxy.js';

/** Serves MCP on stdin/stdout until the client disconnects. Diagnostics go to stderr only. */
export async function runMcpStdio(opts: { instance: string; url: string; key: string }): Promise<void> {
  const log = (line: string) => process.stderr.write(`switchboard mcp: ${line}\n`);
  const proxy = await startStdioProxy({ ...opts, log });
  log(`serving instance ${opts.instance} from ${new URL(opts.url).origin} on stdio`);
  const stop = () => void proxy.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await proxy.closed;
  process.exit(0);
}
