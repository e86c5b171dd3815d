// Coded errors: every failure the API can report has a stable SB_ERR_* code and one HTTP status.

/** Every error code with its HTTP status and a one-line meaning (docs/errors.md is checked against this). */
export const ERROR_CODES = {
  SB_ERR_VALIDATION: { status: 400, meaning: 'The request body, query or path parameters are invalid.' },
  SB_ERR_BAD_JSON: { status: 400, meaning: 'The request body is not valid JSON.' },
  SB_ERR_UNAUTHORIZED: { status: 401, meaning: 'No API key, or the key is unknown or revoked.' },
  SB_ERR_FORBIDDEN: { status: 403, meaning: 'The key is valid but may not perform this operation.' },
  SB_ERR_SCOPE_MISSING: {
    status: 403,
    meaning: 'The key is valid but lacks the scope this operation needs.',
  },
  SB_ERR_NOT_FOUND: { status: 404, meaning: 'No such route.' },
  SB_ERR_INSTANCE_NOT_FOUND: { status: 404, meaning: 'No instance with this id is visible to the caller.' },
  SB_ERR_COMPANY_NOT_FOUND: { status: 404, meaning: 'No company with this id is visible to the caller.' },
  SB_ERR_MESSAGE_NOT_FOUND: { status: 404, meaning: 'No message with this id in this instance.' },
  SB_ERR_APPROVAL_NOT_FOUND: { status: 404, meaning: 'No MCP send approval with this id in this instance.' },
  SB_ERR_IDENTITY_NOT_FOUND: {
    status: 404,
    meaning: 'No phone number is known (yet) for this WhatsApp LID in this instance.',
  },
  SB_ERR_WEBHOOK_NOT_FOUND: {
    status: 404,
    meaning: 'No webhook endpoint (or delivery of it) with this id is visible to the caller.',
  },
  SB_ERR_AMBIGUOUS_NAME: {
    status: 409,
    meaning: 'Several instances visible to the caller have this name; address one by its id.',
  },
  SB_ERR_SINK_NOT_FOUND: {
    status: 404,
    meaning: 'No event sink (or delivery of it) with this id is visible to the caller.',
  },
  SB_ERR_COMPANY_EXISTS: { status: 409, meaning: 'A company with this id already exists.' },
  SB_ERR_NO_QR: { status: 409, meaning: 'The instance is not waiting for a QR scan.' },
  SB_ERR_NOT_CONNECTED: { status: 409, meaning: 'The instance session is not connected to its messenger.' },
  SB_ERR_INVALID_STATE: {
    status: 409,
    meaning: 'The operation is not possible in the instance’s current state.',
  },
  SB_ERR_IDEMPOTENCY_CONFLICT: {
    status: 409,
    meaning: 'The Idempotency-Key was already used with a different request body.',
  },
  SB_ERR_UNSUPPORTED: {
    status: 422,
    meaning: 'The provider of this instance does not support the operation.',
  },
  SB_ERR_PROVIDER_UNKNOWN: {
    status: 400,
    meaning: 'No such provider, or it is disabled in this deployment.',
  },
  SB_ERR_PROVIDER_REJECTED: {
    status: 400,
    meaning: 'The provider rejected the settings (for example a bad bot token).',
  },
  SB_ERR_PAYLOAD_TOO_LARGE: { status: 413, meaning: 'The request body is larger than allowed.' },
  SB_ERR_RATE_LIMITED: { status: 429, meaning: 'Too many requests; retry after the Retry-After header.' },
  SB_ERR_USER_EXISTS: { status: 409, meaning: 'A user with this email already exists.' },
  SB_ERR_POOL_EMPTY: {
    status: 503,
    meaning: 'No free warm instance in the pool right now; more are being created, retry shortly.',
  },
  SB_ERR_PROVIDER: { status: 502, meaning: 'The messenger provider failed to perform the operation.' },
  SB_ERR_UNAVAILABLE: { status: 503, meaning: 'A dependency (database, session owner) is not available.' },
  SB_ERR_SPOOL_FULL: {
    status: 503,
    meaning: 'The database is unavailable and the local inbound spool is full; the message was not accepted.',
  },
  SB_ERR_RIGHTS_EXCEEDED: {
    status: 403,
    meaning: 'A credential cannot be issued with scopes or instances beyond those of the caller.',
  },
  SB_ERR_QUOTA_EXCEEDED: {
    status: 403,
    meaning: 'The company has reached a configured quota (for example INSTANCES_MAX_PER_COMPANY).',
  },
  SB_ERR_INTERNAL: { status: 500, meaning: 'An unexpected error; the log has the details.' },
  SB_ERR_WAHA_SESSION_TAKEN: {
    status: 409,
    meaning: 'The WAHA server already has a session of this name that this instance does not manage.',
  },
  SB_ERR_URL_BLOCKED: {
    status: 400,
    meaning:
      'A URL you gave points at an address Switchboard does not contact (loopback, private, link-local, metadata, reserved), directly, through DNS or through a redirect.',
  },
  SB_ERR_FETCH_FAILED: {
    status: 502,
    meaning:
      'A URL you gave could not be fetched (no answer, timeout, too many redirects or a non-2xx status); the remote answer is not repeated.',
  },
  SB_ERR_DATA_DIR_LOCKED: {
    status: 409,
    meaning:
      'Startup/CLI only (never an HTTP answer): another live Switchboard process holds the lock on DATA_DIR (embedded database).',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error with a stable code, an optional cause and details safe to show to API callers. */
export class SbError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { details?: unknown; cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'SbError';
    this.code = code;
    this.details = opts.details ?? null;
    this.headers = opts.headers ?? {};
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export const notFound = (what: 'instance' | 'company' | 'message', id: string): SbError =>
  new SbError(
    what === 'instance'
      ? 'SB_ERR_INSTANCE_NOT_FOUND'
      : what === 'company'
        ? 'SB_ERR_COMPANY_NOT_FOUND'
        : 'SB_ERR_MESSAGE_NOT_FOUND',
    `${what} ${id} not found`,
    { details: { id } },
  );
