// The typed Switchboard client: openapi-fetch over the types generated from the OpenAPI document (schema.d.ts).
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { paths } from './schema.js';

export type { components, operations, paths, webhooks } from './schema.js';

/** Options of {@link createSwitchboardClient}. */
export interface SwitchboardClientOptions extends Omit<ClientOptions, 'baseUrl'> {
  /** The gateway's base URL, e.g. `http://localhost:3000` (no trailing path). */
  baseUrl: string;
  /** An admin, company or instance API key, sent as `Authorization: Bearer <key>`. */
  apiKey: string;
}

/**
 * A client whose every call is checked against the API's types: paths, path/query parameters, bodies and responses.
 * Calls resolve to `{ data, error, response }` (openapi-fetch); `error` is the coded `{ error: { code, … } }` body.
 */
export function createSwitchboardClient(opts: SwitchboardClientOptions): Client<paths> {
  const { apiKey, headers, ...rest } = opts;
  return createClient<paths>({
    ...rest,
    headers: { ...(headers as Record<string, string> | undefined), authorization: `Bearer ${apiKey}` },
  });
}
