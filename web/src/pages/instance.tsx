// Instance page: live status and QR, session controls, and tabs for chats, timeline, webhooks, MCP and keys.
import { useEffect, useState } from 'preact/hooks';
import { api, currentCredential, type Instance, isConnected, messageOf, setCredential } from '../api.js';
import { useEvents } from '../events.js';
import { Ago, Badge, ConfirmButton, ErrorBanner, OnceSecret, useAction } from '../ui.js';
import { ChatsPanel } from './chats.js';
import { InstanceActions } from './instance-actions.js';
import { McpPanel } from './mcp.js';
import { TimelinePanel } from './timeline.js';
import { WebhooksPanel } from './webhooks.js';

const LIVE_TYPES = ['instance.status', 'qr', 'connected', 'logout', 'error', 'instance.deleted', 'message'];
const TABS = ['Chats', 'Timeline', 'Webhooks', 'MCP', 'Keys'] as const;
type Tab = (typeof TABS)[number];

/** The login panel: the live QR while waiting, "Connected" once logged in, simulator and pairing helpers. */
function LoginPanel({ instance }: { instance: Instance }) {
  const [qr, setQr] = useState<string | null>(null);
  const [phone, setPhone] = useState('');
  const [code, setCode] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  const connected = isConnected(instance);
  const waiting = instance.has_qr && instance.auth_status === 'qr_ready';

  useEffect(() => {
    if (!waiting) {
      setQr(null);
      return;
    }
    let gone = false;
    api<{ dataUrl: string }>(`/api/v1/instances/${instance.id}/qr?format=dataurl`)
      .then((r) => !gone && setQr(r.dataUrl))
      .catch(() => !gone && setQr(null));
    return () => {
      gone = true;
    };
  }, [instance.id, waiting, instance.qr_updated_at]);

  if (connected)
    return (
      <div class="login connected" data-testid="login-panel">
        <p class="big" role="status">
          ✅ Connected{instance.account ? ` as ${instance.account}` : ''}
        </p>
      </div>
    );

  return (
    <div class="login" data-testid="login-panel">
      {qr ? (
        <figure class="qr">
          <img src={qr} alt="Login QR code: scan it with the messenger app" width={264} height={264} />
          <figcaption>
            Scan with the phone (WhatsApp → Linked devices). The code refreshes by itself.
          </figcaption>
        </figure>
      ) : (
        <p class="muted" role="status">
          {instance.desired_state === 'stopped'
            ? 'The session is stopped. Start it to log in.'
            : instance.auth_status === 'logged_out'
              ? 'Logged out. Restart the session to get a new QR.'
              : 'Waiting for the login QR…'}
        </p>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {instance.provider === 'simulator' && waiting && (
        <form
          class="row wrap"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() =>
              api(`/api/v1/instances/${instance.id}/simulate/scan`, {
                body: phone.trim() ? { phone: phone.trim() } : {},
              }),
            );
          }}
        >
          <label for="sim-phone" class="sr-only">
            Phone number for the simulated scan
          </label>
          <input
            id="sim-phone"
            type="tel"
            placeholder="phone (optional)"
            value={phone}
            onInput={(e) => setPhone(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            Simulate QR scan
          </button>
        </form>
      )}
      {instance.provider === 'whatsapp' && instance.desired_state === 'running' && (
        <details>
          <summary>Link with a phone number instead</summary>
          {code ? (
            <p role="status">
              Pairing code: <strong class="pairing-code">{code}</strong>
            </p>
          ) : (
            <form
              class="row wrap"
              onSubmit={(e) => {
                e.preventDefault();
                void run(async () => {
                  const r = await api<{ code: string }>(`/api/v1/instances/${instance.id}/pairing-code`, {
                    body: { phone: phone.trim() },
                  });
                  setCode(r.code);
                });
              }}
            >
              <label for="pair-phone" class="sr-only">
                Phone number
              </label>
              <input
                id="pair-phone"
                type="tel"
                placeholder="+15550001234"
                value={phone}
                onInput={(e) => setPhone(e.currentTarget.value)}
              />
              <button type="submit" disabled={busy}>
                Get pairing code
              </button>
            </form>
          )}
        </details>
      )}
    </div>
  );
}

function KeysPanel({ instance }: { instance: Instance }) {
  const [key, setKey] = useState<string | null>(null);
  const { busy, error, setError, run } = useAction();
  return (
    <section aria-label="Instance API key">
      <p>
        The instance key acts on this instance only. Rotating it replaces the old key at once; the new key is
        shown once.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {key ? (
        <OnceSecret label="New instance key" value={key} onClose={() => setKey(null)} />
      ) : (
        <ConfirmButton
          label="Rotate key"
          question="Replace the instance key? Clients using the old key stop working."
          confirmLabel="Yes, rotate"
          disabled={busy}
          onConfirm={() =>
            void run(async () => {
              const r = await api<{ api_key: string }>(`/api/v1/instances/${instance.id}/keys/rotate`, {
                method: 'POST',
              });
              // Signed in with this very instance's key: keep working with the new one.
              const cred = currentCredential();
              if (cred?.token.startsWith('sb_inst_')) setCredential({ ...cred, token: r.api_key });
              setKey(r.api_key);
            })
          }
        />
      )}
    </section>
  );
}

export function InstancePage({ id }: { id: string }) {
  const [inst, setInst] = useState<Instance | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleted, setDeleted] = useState(false);
  const [tab, setTab] = useState<Tab>('Chats');
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let gone = false;
    api<{ instance: Instance }>(`/api/v1/instances/${id}`)
      .then((r) => {
        if (gone) return;
        setInst(r.instance);
        setError(null);
      })
      .catch((err) => !gone && setError(messageOf(err)));
    return () => {
      gone = true;
    };
  }, [id, reload]);

  const stream = useEvents({ instance_id: id, types: LIVE_TYPES }, (e) => {
    if (e.type === 'instance.deleted') setDeleted(true);
    else if (e.type === 'message') setInst((cur) => (cur ? { ...cur, last_activity_at: e.created_at } : cur));
    else setReload((n) => n + 1);
  });
  // Anything that happened between the first read and the subscription: read again once live.
  useEffect(() => {
    if (stream === 'live') setReload((n) => n + 1);
  }, [stream]);

  if (deleted)
    return (
      <section class="card">
        <h1>Instance deleted</h1>
        <p>
          <a href="#/">Back to instances</a>
        </p>
      </section>
    );
  if (!inst)
    return (
      <>
        <p>
          <a href="#/">← Instances</a>
        </p>
        {error ? <ErrorBanner error={error} /> : <p class="muted">Loading…</p>}
      </>
    );

  return (
    <>
      <p class="crumbs">
        <a href="#/">← Instances</a>
      </p>
      <div class="page-head">
        <h1>{inst.name ?? inst.id.slice(0, 8)}</h1>
        <span class="instance-status" data-testid="instance-status">
          <Badge value={inst.status} /> <Badge value={inst.auth_status} />
        </span>
        <span class={`stream ${stream}`} title="Live updates">
          {stream === 'live' ? '● live' : '○ reconnecting'}
        </span>
      </div>
      <ErrorBanner error={error} />
      <div class="split">
        <section class="card" aria-label="Login">
          <LoginPanel instance={inst} />
        </section>
        <section class="card" aria-label="Details">
          <dl class="details">
            <dt>Company</dt>
            <dd>{inst.company_id}</dd>
            <dt>Provider</dt>
            <dd>{inst.provider}</dd>
            <dt>Account</dt>
            <dd>{inst.account ?? '—'}</dd>
            <dt>Types</dt>
            <dd>{inst.type_instance.join(', ')}</dd>
            <dt>Last activity</dt>
            <dd>
              <Ago at={inst.last_activity_at} />
            </dd>
            {inst.last_error && (
              <>
                <dt>Last error</dt>
                <dd class="error-text">{inst.last_error}</dd>
              </>
            )}
            <dt>Id</dt>
            <dd>
              <code>{inst.id}</code>
            </dd>
          </dl>
          <InstanceActions instance={inst} onChanged={setInst} onDeleted={() => setDeleted(true)} />
        </section>
      </div>
      <div class="tabs" role="tablist" aria-label="Instance sections">
        {TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls="tabpanel"
            onClick={() => setTab(t)}
          >
            {t}
          </button>
        ))}
      </div>
      <div id="tabpanel" class="card" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === 'Chats' && <ChatsPanel instance={inst} />}
        {tab === 'Timeline' && <TimelinePanel instanceId={inst.id} />}
        {tab === 'Webhooks' && <WebhooksPanel instanceId={inst.id} />}
        {tab === 'MCP' && <McpPanel instance={inst} onChanged={setInst} />}
        {tab === 'Keys' && <KeysPanel instance={inst} />}
      </div>
    </>
  );
}
