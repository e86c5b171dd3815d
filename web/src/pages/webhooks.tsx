// Webhooks of an instance: the endpoint (URL, events, enabled), its delivery log and replay.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import {
  Ago,
  Badge,
  ConfirmButton,
  DataTable,
  ErrorBanner,
  EventsField,
  focusSoon,
  NotAvailable,
  OnceSecret,
  setSecret,
  useAction,
} from '../ui.js';

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
  const slot = `webhook-secret:${instanceId}`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [endpoints, setEndpoints] = useState<Row[]>([]);
  const [deliveries, setDeliveries] = useState<Row[] | 'loading' | 'unavailable'>('loading');
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('');
  const edited = useRef(false);
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
        // The form shows what is saved (URL and event filter), unless the user is already editing it.
        if (hook && !edited.current) {
          setUrl(str(hook.url));
          setEvents(Array.isArray(hook.events) ? hook.events.join(', ') : '');
        }
        // The delivery log of the instance's webhook endpoint.
        if (!hook) return setDeliveries([]);
        api(`/api/v1/webhooks/${str(hook.id)}/deliveries?limit=50`)
          .then((d) => !gone && setDeliveries(listOf(d, ['deliveries', 'items'])))
          .catch(() => !gone && setDeliveries('unavailable'));
      })
      .catch((err) => {
        if (gone) return;
        if (err instanceof ApiError && err.missingRoute) setAvailable(false);
        else {
          setAvailable(true);
          setDeliveries('unavailable');
          setError((err as Error).message);
        }
      });
    return () => {
      gone = true;
    };
  }, [base, reload]);

  if (available === false) return <NotAvailable what="Webhook configuration" />;

  const edit = (set: (v: string) => void) => (e: Event) => {
    edited.current = true;
    set((e.currentTarget as HTMLInputElement).value);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    await run(async () => {
      const evs = events
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const r = await api<Row>(base, {
        method: 'PUT',
        body: { url: url.trim(), events: evs },
      });
      const eps = endpointsOf(r);
      const s = (r.secret ?? eps[0]?.secret) as string | undefined;
      if (typeof s === 'string' && s) setSecret(slot, { label: 'Webhook signing secret', value: s });
      edited.current = false;
      setReload((n) => n + 1);
    });
  };

  const act = (fn: () => Promise<unknown>) =>
    run(async () => {
      await fn();
      setReload((n) => n + 1);
    });

  return (
    <section aria-label="Webhooks">
      <h2 class="sr-only">Webhooks</h2>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <OnceSecret slot={slot} after="#wh-url" />
      {endpoints.length > 0 && (
        <ul class="plain">
          {endpoints.map((ep) => {
            const id = str(ep.id);
            const on = ep.enabled !== false;
            return (
              <li key={id} class="endpoint">
                <code>{str(ep.url)}</code> <Badge value={on ? 'enabled' : 'disabled'} />{' '}
                <span class="muted">
                  {Array.isArray(ep.events) && ep.events.length > 0
                    ? `events: ${ep.events.join(', ')}`
                    : 'all events'}
                </span>
                {typeof ep.disabled_reason === 'string' && ep.disabled_reason && (
                  <span class="error-text"> — {ep.disabled_reason}</span>
                )}
                <div class="row wrap">
                  {on ? (
                    <ConfirmButton
                      label="Disable"
                      question="Stop sending events to this URL?"
                      disabled={busy}
                      onConfirm={() =>
                        void act(() =>
                          api(`/api/v1/webhooks/${id}`, { method: 'PATCH', body: { enabled: false } }),
                        )
                      }
                    />
                  ) : (
                    <button
                      type="button"
                      disabled={busy}
                      onClick={() =>
                        void act(() =>
                          api(`/api/v1/webhooks/${id}`, { method: 'PATCH', body: { enabled: true } }),
                        )
                      }
                    >
                      Enable
                    </button>
                  )}
                  {ep.kind !== 'agent' && (
                    <ConfirmButton
                      label="Rotate secret"
                      question="Make a new signing secret? The old one keeps working for 24 hours."
                      confirmLabel="Yes, rotate"
                      disabled={busy}
                      onConfirm={() =>
                        void run(async () => {
                          const r = await api<{ secret: string }>(`/api/v1/webhooks/${id}/rotate-secret`, {
                            body: {},
                          });
                          setSecret(slot, { label: 'New webhook signing secret', value: r.secret });
                          setReload((n) => n + 1);
                        })
                      }
                    />
                  )}
                  {ep.kind !== 'agent' && (
                    <ConfirmButton
                      label="Delete webhook"
                      question="Delete this webhook? Its pending deliveries are dropped."
                      confirmLabel="Yes, delete"
                      danger
                      disabled={busy}
                      onConfirm={() =>
                        void act(async () => {
                          await api(base, { method: 'DELETE' });
                          edited.current = false;
                          setUrl('');
                          setEvents('');
                          focusSoon('#wh-url');
                        })
                      }
                    />
                  )}
                </div>
              </li>
            );
          })}
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
          onInput={edit(setUrl)}
        />
        <EventsField id="wh-events" value={events} onInput={edit(setEvents)}>
          Comma-separated event types, e.g. message, connected. Empty sends every event.
        </EventsField>
        <span />
        <button type="submit" class="primary" disabled={busy || available === null}>
          Save webhook
        </button>
      </form>
      <h3>Delivery log</h3>
      {deliveries === 'loading' ? (
        <p class="muted">Loading the delivery log…</p>
      ) : deliveries === 'unavailable' ? (
        <p class="muted">No delivery log available.</p>
      ) : deliveries.length === 0 ? (
        <p class="muted">No deliveries yet.</p>
      ) : (
        <DataTable
          label="Delivery log"
          columns={['Event', 'Status', 'Attempts', 'Last code', 'When', { srOnly: 'Replay' }]}
        >
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
                <ConfirmButton
                  label="Replay"
                  question="Send this event again?"
                  confirmLabel="Yes, replay"
                  disabled={busy}
                  onConfirm={() =>
                    void act(() =>
                      api(`/api/v1/webhooks/${str(d.endpoint_id)}/deliveries/${str(d.id)}/replay`, {
                        method: 'POST',
                      }),
                    )
                  }
                />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </section>
  );
}
