// Instance page: live status and QR, session controls, and tabs for chats, timeline, webhooks, sinks, MCP and keys.
import { useEffect, useState } from 'preact/hooks';
import { api, currentCredential, type Instance, isConnected, messageOf, setCredential } from '../api.js';
import { useEvents } from '../events.js';
import {
  Ago,
  Badge,
  CheckIcon,
  ConfirmButton,
  companyLabel,
  ErrorBanner,
  focusSoon,
  OnceSecret,
  phoneOf,
  setSecret,
  Tabs,
  tabId,
  useAction,
  useSecret,
} from '../ui.js';
import { ChatsPanel } from './chats.js';
import { InstanceActions } from './instance-actions.js';
import { McpPanel } from './mcp.js';
import { SinksPanel } from './sinks.js';
import { TimelinePanel } from './timeline.js';
import { WebhooksPanel } from './webhooks.js';

const LIVE_TYPES = ['instance.status', 'qr', 'connected', 'logout', 'error', 'instance.deleted', 'message'];
const TABS = ['Chats', 'Timeline', 'Webhooks', 'Sinks', 'MCP', 'Keys'] as const;
type Tab = (typeof TABS)[number];

/** What the login panel says: one live sentence that changes with the state. */
function loginState(instance: Instance, hasQr: boolean, unknown: boolean): string {
  if (unknown) return 'Connection status unknown: the gateway cannot be reached right now.';
  if (isConnected(instance)) return `Connected${instance.account ? ` as ${phoneOf(instance.account)}` : ''}`;
  if (instance.desired_state === 'stopped') return 'The session is stopped. Start it to log in.';
  if (instance.auth_status === 'logged_out') return 'Logged out. Restart the session to get a new QR.';
  if (hasQr) return 'Waiting for the QR scan. Scan the code with the phone.';
  return 'Waiting for the login QR…';
}

/** The login panel: the live QR while waiting, "Connected" once logged in, simulator and pairing helpers. */
function LoginPanel({ instance, unknown }: { instance: Instance; unknown: boolean }) {
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

  const shownQr = !connected && !unknown ? qr : null;
  return (
    <div class={connected && !unknown ? 'login connected' : 'login'} data-testid="login-panel">
      <h2 class="sr-only">Login</h2>
      {/* Present from the first render: screen readers announce each change of this sentence. */}
      <p
        class={connected && !unknown ? 'big login-state' : 'login-state muted'}
        role="status"
        data-testid="login-state"
        data-focus-fallback
        tabIndex={-1}
      >
        {connected && !unknown && <CheckIcon />} {loginState(instance, !!shownQr, unknown)}
      </p>
      {shownQr && (
        <figure class="qr">
          <img src={shownQr} alt="Login QR code: scan it with the messenger app" width={264} height={264} />
          <figcaption>
            Scan with the phone (WhatsApp → Linked devices). The code refreshes by itself.
          </figcaption>
        </figure>
      )}
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!connected && instance.provider === 'simulator' && waiting && (
        <PhoneForm
          id="sim-phone"
          label="Phone number for the simulated scan"
          placeholder="phone (optional)"
          submit="Simulate QR scan"
          phone={phone}
          setPhone={setPhone}
          busy={busy}
          onSubmit={() =>
            void run(() =>
              api(`/api/v1/instances/${instance.id}/simulate/scan`, {
                body: phone.trim() ? { phone: phone.trim() } : {},
              }),
            )
          }
        />
      )}
      {!connected && instance.provider === 'whatsapp' && instance.desired_state === 'running' && (
        <details>
          <summary>Link with a phone number instead</summary>
          {code ? (
            <p>
              Pairing code: <strong class="pairing-code">{code}</strong>
            </p>
          ) : (
            <PhoneForm
              id="pair-phone"
              label="Phone number"
              placeholder="+15550001234"
              submit="Get pairing code"
              phone={phone}
              setPhone={setPhone}
              busy={busy}
              onSubmit={() =>
                void run(async () => {
                  const r = await api<{ code: string }>(`/api/v1/instances/${instance.id}/pairing-code`, {
                    body: { phone: phone.trim() },
                  });
                  setCode(r.code);
                  focusSoon('.pairing-code');
                })
              }
            />
          )}
        </details>
      )}
    </div>
  );
}

function KeysPanel({ instance }: { instance: Instance }) {
  const slot = `instance-key:${instance.id}`;
  const pending = useSecret(slot);
  const { busy, error, setError, run } = useAction();
  return (
    <section aria-label="Instance API key">
      <p>
        The instance key acts on this instance only. Rotating it replaces the old key at once; the new key is
        shown once.
      </p>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <OnceSecret slot={slot} after="#rotate-key" />
      {!pending && (
        <ConfirmButton
          id="rotate-key"
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
              setSecret(slot, { label: 'New instance key', value: r.api_key });
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

  const unknown = stream === 'offline';
  const title = deleted ? 'Instance deleted' : inst ? (inst.name ?? inst.id.slice(0, 8)) : 'Instance';

  return (
    <>
      <p class="crumbs">
        <a href="#/">← Instances</a>
      </p>
      <div class="page-head">
        <h1 tabIndex={-1}>{title}</h1>
        <span class="instance-status" data-testid="instance-status" role="status">
          {inst && !deleted ? (
            unknown ? (
              <Badge value="unknown" />
            ) : (
              <>
                <span class="sr-only">Status: </span>
                <Badge value={inst.status} /> <Badge value={inst.auth_status} />
              </>
            )
          ) : null}
        </span>
        <span class={`stream ${stream}`} role="status" data-testid="stream">
          {stream === 'live' ? '● live' : stream === 'connecting' ? '○ connecting' : '○ offline, retrying'}
        </span>
      </div>
      {deleted ? (
        <p>
          This instance was deleted. <a href="#/">Back to instances</a>
        </p>
      ) : !inst ? (
        error ? (
          <ErrorBanner error={error} />
        ) : (
          <p class="muted">Loading…</p>
        )
      ) : (
        <>
          <ErrorBanner error={error} />
          {unknown && (
            <p class="banner info">
              Lost contact with the gateway; retrying. The status is unknown until it is back.
            </p>
          )}
          <div class="split">
            <section class="card" aria-label="Login">
              <LoginPanel instance={inst} unknown={unknown} />
            </section>
            <section class="card" aria-label="Details">
              <dl class="details">
                <dt>Company</dt>
                <dd>{companyLabel(inst.company_id)}</dd>
                <dt>Provider</dt>
                <dd>{inst.provider}</dd>
                <dt>Account</dt>
                <dd>{phoneOf(inst.account) ?? '—'}</dd>
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
          <Tabs label="Instance sections" tabs={TABS} selected={tab} idPrefix="inst" onSelect={setTab} />
          {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the ARIA tabs pattern makes the panel a tab stop. */}
          <div id="inst-panel" class="card" role="tabpanel" aria-labelledby={tabId('inst', tab)} tabIndex={0}>
            {tab === 'Chats' && <ChatsPanel instance={inst} />}
            {tab === 'Timeline' && <TimelinePanel instanceId={inst.id} />}
            {tab === 'Webhooks' && <WebhooksPanel instanceId={inst.id} />}
            {tab === 'Sinks' && <SinksPanel instanceId={inst.id} />}
            {tab === 'MCP' && <McpPanel instance={inst} onChanged={setInst} />}
            {tab === 'Keys' && <KeysPanel instance={inst} />}
          </div>
        </>
      )}
    </>
  );
}

/** One phone number field (its label for screen readers only) and a submit button, on a row. */
function PhoneForm(p: {
  id: string;
  label: string;
  placeholder: string;
  submit: string;
  phone: string;
  setPhone: (v: string) => void;
  busy: boolean;
  onSubmit: () => void;
}) {
  return (
    <form
      class="row wrap"
      onSubmit={(e) => {
        e.preventDefault();
        p.onSubmit();
      }}
    >
      <label for={p.id} class="sr-only">
        {p.label}
      </label>
      <input
        id={p.id}
        type="tel"
        placeholder={p.placeholder}
        value={p.phone}
        onInput={(e) => p.setPhone(e.currentTarget.value)}
      />
      <button type="submit" disabled={p.busy}>
        {p.submit}
      </button>
    </form>
  );
}
