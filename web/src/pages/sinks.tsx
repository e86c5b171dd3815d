// Event sinks of an instance (RabbitMQ, NATS JetStream, MQTT): list, create (secret shown once) and delete.
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

type Kind = 'rabbitmq' | 'nats' | 'mqtt';

type Sink = {
  id: string;
  kind: Kind;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  rabbitmq: { url: string; exchange: string; routing_key: string } | null;
  nats: { servers: string[]; stream: string; subject: string; auth: string } | null;
  mqtt?: { url: string; topic: string } | null;
};

const KIND_LABEL: Record<Kind, string> = { rabbitmq: 'RabbitMQ', nats: 'NATS JetStream', mqtt: 'MQTT' };
/** Per broker kind: the labels and placeholders of the target and name fields, and whether a name is required. */
const FORM: Record<
  Kind,
  { target: string; targetHint: string; name: string; nameHint: string; nameRequired: boolean }
> = {
  rabbitmq: {
    target: 'AMQP URL',
    targetHint: 'amqp://user:password@rabbit:5672/vhost',
    name: 'Exchange',
    nameHint: 'switchboard',
    nameRequired: true,
  },
  nats: {
    target: 'NATS servers',
    targetHint: 'nats://nats:4222',
    name: 'Stream',
    nameHint: 'SWITCHBOARD',
    nameRequired: false,
  },
  mqtt: {
    target: 'MQTT URL',
    targetHint: 'mqtts://user:password@broker:8883',
    name: 'Topic',
    nameHint: 'switchboard/{company_id}/{instance_id}/{type}',
    nameRequired: false,
  },
};

/** Where a sink publishes to, and how (shown in the list). */
function describeSink(s: Sink): { target: string; detail: string } {
  if (s.rabbitmq)
    return { target: `${s.rabbitmq.url} → ${s.rabbitmq.exchange}`, detail: `key ${s.rabbitmq.routing_key}` };
  if (s.mqtt) return { target: s.mqtt.url, detail: `topic ${s.mqtt.topic}` };
  return {
    target: s.nats?.servers.join(', ') ?? '',
    detail: `stream ${s.nats?.stream}, subject ${s.nats?.subject}`,
  };
}

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function SinksPanel({ instanceId }: { instanceId: string }) {
  const slot = `sink-secret:${instanceId}`;
  const [available, setAvailable] = useState<boolean | null>(null);
  const [sinks, setSinks] = useState<Sink[]>([]);
  const [kind, setKind] = useState<Kind>('rabbitmq');
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
          : kind === 'mqtt'
            ? { ...common, kind, url: target.trim(), ...(name.trim() ? { topic: name.trim() } : {}) }
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
        <p class="muted">No event sinks. Events can also be published to RabbitMQ, NATS JetStream or MQTT.</p>
      ) : (
        <ul class="plain">
          {sinks.map((s) => (
            <li key={s.id} class="endpoint">
              <strong>{KIND_LABEL[s.kind] ?? s.kind}</strong> <code>{describeSink(s).target}</code>{' '}
              <Badge value={s.enabled ? 'enabled' : 'disabled'} />{' '}
              <span class="muted">
                {describeSink(s).detail}
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
          onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as Kind)}
        >
          <option value="rabbitmq">RabbitMQ</option>
          <option value="nats">NATS JetStream</option>
          <option value="mqtt">MQTT</option>
        </select>
        <LabeledInput
          id="sink-target"
          label={FORM[kind].target}
          required
          placeholder={FORM[kind].targetHint}
          value={target}
          onValue={setTarget}
        />
        <LabeledInput
          id="sink-name"
          label={FORM[kind].name}
          required={FORM[kind].nameRequired}
          placeholder={FORM[kind].nameHint}
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
