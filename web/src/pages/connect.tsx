// The end-user flow of seed 004: "Connect WhatsApp" → QR → "✅ Connected", and "Disconnect".
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api.js';
import { CheckIcon, ConfirmButton, ErrorBanner, NotAvailable, phoneOf, useAction } from '../ui.js';

interface MyConnection {
  success?: boolean;
  connected: boolean;
  instanceName?: string;
  status?: string;
  phoneNumber?: string | null;
  message?: string;
}

interface ConnectAnswer {
  success?: boolean;
  method?: string;
  qrCode?: string;
  instanceName?: string;
  message?: string;
  connected?: boolean;
  status?: string;
}

const POLL_MS = 2000;
const QR_REFRESH_MS = 15_000;

export function ConnectPage() {
  const [conn, setConn] = useState<MyConnection | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [available, setAvailable] = useState(true);
  const [tick, setTick] = useState(0);
  const [preparing, setPreparing] = useState(false);
  const { busy, error, setError, run } = useAction();

  // Where the connection stands; polled while a QR is on screen so "Connected" appears by itself.
  useEffect(() => {
    let gone = false;
    api<MyConnection>('/api/whatsapp/my-connection')
      .then((r) => {
        if (gone) return;
        setConn(r);
        if (r.connected) setQr(null);
      })
      .catch((err) => {
        if (gone) return;
        if (err instanceof ApiError && err.missingRoute) setAvailable(false);
        else setError((err as Error).message);
      });
    return () => {
      gone = true;
    };
  }, [tick]);

  useEffect(() => {
    if (!qr) return;
    const poll = setInterval(() => setTick((n) => n + 1), POLL_MS);
    // The QR rotates: asking again returns the current one for an already assigned connection.
    const refresh = setInterval(() => void connect(true), QR_REFRESH_MS);
    return () => {
      clearInterval(poll);
      clearInterval(refresh);
    };
  }, [qr]);

  const connect = (quiet = false) =>
    run(async () => {
      try {
        const r = await api<ConnectAnswer>('/api/whatsapp/connect', { method: 'POST' });
        if (r.qrCode) {
          setPreparing(false);
          setQr(r.qrCode);
        } else if (r.method === 'pending') {
          // The session is still producing its first QR: ask again shortly.
          setPreparing(true);
          setTimeout(() => void connect(true), POLL_MS);
        } else setTick((n) => n + 1);
      } catch (err) {
        setPreparing(false);
        if (err instanceof ApiError && err.missingRoute) setAvailable(false);
        else if (err instanceof ApiError && err.status === 503)
          throw new Error('No WhatsApp connection is free right now. Try again in a few seconds');
        else if (!quiet) throw err;
      }
    });

  const disconnect = () =>
    run(async () => {
      await api('/api/whatsapp/disconnect', { method: 'POST' });
      setQr(null);
      setTick((n) => n + 1);
    });

  if (!available)
    return (
      <section class="card narrow">
        <h1>Connect WhatsApp</h1>
        <NotAvailable what="“Connect WhatsApp”" />
      </section>
    );

  const connected = conn?.connected === true;
  const phone = phoneOf(conn?.phoneNumber);
  const state =
    conn === null
      ? 'Checking your connection…'
      : connected
        ? `Connected${phone ? ` as ${phone}` : ''}`
        : qr
          ? 'Waiting for the QR scan. Scan the code with your phone.'
          : preparing
            ? 'Preparing your QR code…'
            : 'Not connected.';

  return (
    <section class="card narrow connect" aria-labelledby="connect-title">
      <h1 id="connect-title">WhatsApp</h1>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {/* Present from the first render: each change of the connection state is announced. */}
      <p
        class={connected ? 'big login-state' : 'login-state'}
        role="status"
        data-testid="connect-state"
        data-focus-fallback={connected ? '' : undefined}
        tabIndex={-1}
      >
        {connected && <CheckIcon />} {state}
      </p>
      {connected ? (
        <ConfirmButton
          label="Disconnect"
          question="Disconnect WhatsApp from this account?"
          confirmLabel="Yes, disconnect"
          danger
          disabled={busy}
          onConfirm={() => void disconnect()}
        />
      ) : qr ? (
        <figure class="qr">
          <img src={qr} alt="WhatsApp QR code: scan it with your phone" width={264} height={264} />
          <figcaption data-focus-fallback tabIndex={-1}>
            Open WhatsApp on your phone → Linked devices → Link a device, and scan this code.
          </figcaption>
        </figure>
      ) : (
        <>
          <p>Link your WhatsApp account to start sending and receiving messages.</p>
          <button
            type="button"
            class="primary big-button"
            data-focus-fallback
            disabled={busy || preparing}
            onClick={() => void connect()}
          >
            {busy || preparing ? 'Preparing…' : 'Connect WhatsApp'}
          </button>
        </>
      )}
    </section>
  );
}
