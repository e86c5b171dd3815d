// Webhooks of an instance: the endpoint (URL, events, enabled), its delivery log and replay.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { Ago, Badge, ErrorBanner, NotAvailable, OnceSecret, useAction } from '../ui.js';

type Row = Record<string, unknown>;

/** The list of endpoints in whatever envelope the webhooks API answers with. */
export function endpointsOf(r: unknown): Row[] {
  if (Array.isArray(r)) return r as Row[];
  if (!r || typeof r !== 'object') return [];
  const o = r as Row;
  for (const k of ['webhooks', 'endpoints', 'items']) if (Array.isArray(o[k])) return o[k] as Row[];
  for (const k of ['webhook', 'endpoint']) if (o[k] && typeof o[k] === 'object') return [o[k] as Row];
  return [];
}

function listOf(r: unknown, keys: string[]): Row[] {
  if (Array.isArray(r)) return r as Row[];
  const o = (r ?? {}) as Row;
  for (const k of keys) if (Array.isArray(o[k])) return o[k] as Row[];
  return [];
}

const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export function WebhooksPanel({ instanceId }: { instanceId: string }) {
  const base = `/api/v1/instances/${instanceId}/webhooks`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [endpoints, setEndpoints] = useState<Row[]>([]);
  const [deliveries, setDeliveries] = useState<Row[] | null>(null);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    let gone = false;
    api(base)
      .then((r) => {
        if (gone) return;
        setAvailable(true);
        const eps = endpointsOf(r);
        setEndpoints(eps);
        const hook = eps.find((e) => e.kind !== 'agent');
        if (hook && !url) setUrl(str(hook.url));
        // The delivery log of the instance's webhook endpoint.
        if (!hook) return setDeliveries([]);
        api(`/api/v1/webhooks/${str(hook.id)}/deliveries?limit=50`)
          .then((d) => !gone && setDeliveries(listOf(d, ['deliveries', 'items'])))
          .catch(() => !gone && setDeliveries(null));
      })
      .catch((err) => {
        if (gone) return;
        if (err instanceof ApiError && err.missingRoute) setAvailable(false);
        else {
          setAvailable(true);
          setError((err as Error).message);
        }
      });
    return () => {
      gone = true;
    };
  }, [base, reload]);

  if (available === false) return <NotAvailable what="Webhook configuration" />;

  const save = async (e: Event) => {
    e.preventDefault();
    await run(async () => {
      const evs = events
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const r = await api<Row>(base, {
        method: 'PUT',
        body: { url: url.trim(), ...(evs.length ? { events: evs } : {}) },
      });
      const eps = endpointsOf(r);
      const s = (eps[0]?.secret ?? r.secret) as string | undefined;
      if (typeof s === 'string' && s) setSecret(s);
      setReload((n) => n + 1);
    });
  };

  return (
    <section aria-label="Webhooks">
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {secret && <OnceSecret label="Webhook signing secret" value={secret} onClose={() => setSecret(null)} />}
      {endpoints.length > 0 && (
        <ul class="plain">
          {endpoints.map((ep) => (
            <li key={str(ep.id)}>
              <code>{str(ep.url)}</code> <Badge value={ep.enabled === false ? 'disabled' : 'enabled'} />{' '}
              {Array.isArray(ep.events) && ep.events.length > 0 && (
                <span class="muted">events: {ep.events.join(', ')}</span>
              )}
              {typeof ep.disabled_reason === 'string' && ep.disabled_reason && (
                <span class="error-text"> — {ep.disabled_reason}</span>
              )}{' '}
              <button
                type="button"
                disabled={busy}
                onClick={() =>
                  void run(async () => {
                    await api(`/api/v1/webhooks/${str(ep.id)}`, {
                      method: 'PATCH',
                      body: { enabled: ep.enabled === false },
                    });
                    setReload((n) => n + 1);
                  })
                }
              >
                {ep.enabled === false ? 'Enable' : 'Disable'}
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="grid-form" onSubmit={save}>
        <label for="wh-url">Webhook URL</label>
        <input
          id="wh-url"
          type="url"
          required
          placeholder="https://example.com/hooks/switchboard"
          value={url}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        <label for="wh-events">Events</label>
        <input
          id="wh-events"
          placeholder="all (or e.g. message, connected)"
          value={events}
          onInput={(e) => setEvents(e.currentTarget.value)}
        />
        <span />
        <button type="submit" class="primary" disabled={busy || available === null}>
          Save webhook
        </button>
      </form>
      <h3>Delivery log</h3>
      {deliveries === null ? (
        <p class="muted">No delivery log available.</p>
      ) : deliveries.length === 0 ? (
        <p class="muted">No deliveries yet.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last code</th>
                <th scope="col">When</th>
                <th scope="col">
                  <span class="sr-only">Replay</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={str(d.id)}>
                  <td data-label="Event">
                    {str(d.event_type ?? d.type ?? d.event_id)}
                    {d.last_error ? <div class="muted small">{str(d.last_error)}</div> : null}
                  </td>
                  <td data-label="Status">
                    <Badge value={str(d.status)} />
                  </td>
                  <td data-label="Attempts">{str(d.attempts)}</td>
                  <td data-label="Last code">{str(d.last_status_code) || '—'}</td>
                  <td data-label="When">
                    <Ago at={str(d.last_attempt_at ?? d.created_at) || null} />
                  </td>
                  <td>
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() =>
                        void run(async () => {
                          await api(`/api/v1/webhooks/${str(d.endpoint_id)}/deliveries/${str(d.id)}/replay`, {
                            method: 'POST',
                          });
                          setReload((n) => n + 1);
                        })
                      }
                    >
                      Replay
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
