// Port for every outbound HTTP request to a URL a user gave us: the one guarded fetch (implemented in runtime/outbound).

/** One outbound request. Defaults come from the implementation's configuration. */
export interface OutboundRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Time limit for the whole exchange (connect, headers and body), in milliseconds. */
  timeoutMs?: number;
  /** Largest response body kept, in bytes. */
  maxBytes?: number;
  /** What a larger body does: `error` (default) rejects with SB_ERR_PAYLOAD_TOO_LARGE, `truncate` keeps the start. */
  onOverflow?: 'error' | 'truncate';
  /**
   * Redirects followed, each re-checked by the same guard. Only GET requests follow redirects; for other methods
   * (and with 0) a 3xx is returned as it is.
   */
  maxRedirects?: number;
}

export interface OutboundResponse {
  status: number;
  /** Lower-cased response headers. */
  headers: Record<string, string>;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

/**
 * The guarded fetch. Every address a host resolves to is checked when the connection is made (no DNS rebinding);
 * refused addresses reject with SB_ERR_URL_BLOCKED (400), network failures, timeouts and too many redirects with
 * SB_ERR_FETCH_FAILED (502). Error messages are generic: they never carry what the remote answered.
 */
export interface OutboundFetch {
  request(url: string, init?: OutboundRequest): Promise<OutboundResponse>;
  /**
   * Downloads a media file: GET, redirects re-checked, `maxBytes` enforced (SB_ERR_PAYLOAD_TOO_LARGE), a non-2xx
   * answer is SB_ERR_FETCH_FAILED with only the status code.
   */
  download(url: string, opts: { maxBytes: number; timeoutMs?: number }): Promise<Buffer>;
  /** Checks a URL without connecting: http(s), no credentials, and every resolved address allowed. */
  check(url: string): Promise<URL>;
}
