// Event sinks of an instance (RabbitMQ, NATS JetStream): list, create (secret shown once) and delete.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import {
  Badge,
  ConfirmButton,
  ErrorBanner,
  EventsField,
  focusSoon,
  LabeledInput,
  NotAvailable,
  OnceSecret,
  setSecret,
  useAction,
} from '../ui.js';

type Sink = {
  id: string;
  kind: 'rabbitmq' | 'nats';
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  rabbitmq: { url: string; exchange: string; routing_key: string } | null;
  nats: { servers: string[]; stream: string; subject: string; auth: string } | null;
};

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function SinksPanel({ instanceId }: { instanceId: string }) {
  const slot = `sink-secret:${instanceId}`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [sinks, setSinks] = useState<Sink[]>([]);
  const [kind, setKind] = useState<'rabbitmq' | 'nats'>('rabbitmq');
  const [target, setTarget] = useState('');
  const [name, setName] = useState('');
  const [token, setToken] = useState('');
  const [events, setEvents] = useState('');
  const [reload, setReload] = useState(0);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    let gone = false;
    api<{ sinks: Sink[] }>(`/api/v1/sinks?instance_id=${instanceId}`)
      .then((r) => {
        if (gone) return;
        setAvailable(true);
        setSinks(r.sinks ?? []);
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
  }, [instanceId, reload]);

  if (available === false) return <NotAvailable what="Event sinks" />;

  const create = async (e: Event) => {
    e.preventDefault();
    await run(async () => {
      const common = { instance_id: instanceId, events: list(events) };
      const body =
        kind === 'rabbitmq'
          ? { ...common, kind, url: target.trim(), exchange: name.trim() }
          : {
              ...common,
              kind,
              servers: list(target),
              ...(name.trim() ? { stream: name.trim() } : {}),
              ...(token ? { token } : {}),
            };
      const r = await api<{ secret: string }>('/api/v1/sinks', { body });
      setSecret(slot, { label: 'Sink signing secret', value: r.secret });
      setTarget('');
      setToken('');
      setReload((n) => n + 1);
    });
  };

  const value = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLInputElement).value);

  return (
    <section aria-label="Event sinks">
      <h2 class="sr-only">Event sinks</h2>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <OnceSecret slot={slot} after="#sink-kind" />
      {sinks.length === 0 ? (
        <p class="muted">No event sinks. Events can also be published to RabbitMQ or NATS JetStream.</p>
      ) : (
        <ul class="plain">
          {sinks.map((s) => (
            <li key={s.id} class="endpoint">
              <strong>{s.kind === 'rabbitmq' ? 'RabbitMQ' : 'NATS JetStream'}</strong>{' '}
              <code>
                {s.rabbitmq ? `${s.rabbitmq.url} → ${s.rabbitmq.exchange}` : s.nats?.servers.join(', ')}
              </code>{' '}
              <Badge value={s.enabled ? 'enabled' : 'disabled'} />{' '}
              <span class="muted">
                {s.rabbitmq
                  ? `key ${s.rabbitmq.routing_key}`
                  : `stream ${s.nats?.stream}, subject ${s.nats?.subject}`}
                {s.events.length ? `; events: ${s.events.join(', ')}` : '; all events'}
              </span>
              {s.disabled_reason && <span class="error-text"> — {s.disabled_reason}</span>}
              <div class="row wrap">
                <ConfirmButton
                  label="Delete sink"
                  question="Delete this sink? Its pending deliveries are dropped."
                  confirmLabel="Yes, delete"
                  danger
                  disabled={busy}
                  onConfirm={() =>
                    void run(async () => {
                      await api(`/api/v1/sinks/${s.id}`, { method: 'DELETE' });
                      setReload((n) => n + 1);
                      focusSoon('#sink-kind');
                    })
                  }
                />
              </div>
            </li>
          ))}
        </ul>
      )}
      <form class="grid-form" onSubmit={create}>
        <label for="sink-kind">Broker</label>
        <select
          id="sink-kind"
          value={kind}
          onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as 'rabbitmq' | 'nats')}
        >
          <option value="rabbitmq">RabbitMQ</option>
          <option value="nats">NATS JetStream</option>
        </select>
        <LabeledInput
          id="sink-target"
          label={kind === 'rabbitmq' ? 'AMQP URL' : 'NATS servers'}
          required
          placeholder={kind === 'rabbitmq' ? 'amqp://user:password@rabbit:5672/vhost' : 'nats://nats:4222'}
          value={target}
          onValue={setTarget}
        />
        <LabeledInput
          id="sink-name"
          label={kind === 'rabbitmq' ? 'Exchange' : 'Stream'}
          required={kind === 'rabbitmq'}
          placeholder={kind === 'rabbitmq' ? 'switchboard' : 'SWITCHBOARD'}
          value={name}
          onValue={setName}
        />
        {kind === 'nats' && (
          <LabeledInput
            id="sink-token"
            label="Token"
            type="password"
            autocomplete="off"
            value={token}
            onValue={setToken}
          />
        )}
        <EventsField id="sink-events" value={events} onInput={value(setEvents)}>
          Comma-separated event types. Credentials are never shown again; delivery guarantees are those of
          webhooks.
        </EventsField>
        <span />
        <button type="submit" class="primary" disabled={busy || available === null}>
          Add sink
        </button>
      </form>
    </section>
  );
}
