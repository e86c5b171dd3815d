// Small shared UI pieces: error banners, status badges, confirm buttons, async actions, time formatting.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { messageOf } from './api.js';

/** A readable error message (role=alert so screen readers announce it). */
export function ErrorBanner({ error, onDismiss }: { error: string | null; onDismiss?: () => void }) {
  if (!error) return null;
  return (
    <div class="banner error" role="alert">
      <span>{error}</span>
      {onDismiss && (
        <button type="button" class="link" onClick={onDismiss} aria-label="Dismiss error">
          ✕
        </button>
      )}
    </div>
  );
}

export function Notice({ children, kind = 'info' }: { children: ComponentChildren; kind?: 'info' | 'ok' }) {
  return (
    <div class={`banner ${kind}`} role="status">
      {children}
    </div>
  );
}

const TONE: Record<string, string> = {
  running: 'ok',
  client_ready: 'ok',
  authenticated: 'ok',
  qr_ready: 'warn',
  pending: 'muted',
  starting: 'warn',
  reconnecting: 'warn',
  created: 'muted',
  stopping: 'muted',
  stopped: 'muted',
  disconnected: 'warn',
  logged_out: 'muted',
  error: 'bad',
  failed: 'bad',
  enabled: 'ok',
  delivered: 'ok',
  ok: 'ok',
  denied: 'bad',
  invalid: 'bad',
  pending_approval: 'warn',
};

/** A coloured pill for a status word. */
export function Badge({ value }: { value: string }) {
  return <span class={`badge ${TONE[value] ?? 'muted'}`}>{value.replaceAll('_', ' ')}</span>;
}

/** Relative time ("3 min ago") with the exact time as a tooltip. */
export function Ago({ at }: { at: string | null | undefined }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 30_000);
    return () => clearInterval(t);
  }, []);
  if (!at) return <span class="muted">—</span>;
  const d = new Date(at);
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  let text: string;
  if (s < 45) text = 'just now';
  else if (s < 3600) text = `${Math.round(s / 60)} min ago`;
  else if (s < 86_400) text = `${Math.round(s / 3600)} h ago`;
  else text = d.toLocaleDateString();
  return (
    <time dateTime={at} title={d.toLocaleString()}>
      {text}
    </time>
  );
}

/** Runs an async action with a busy flag and a readable error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (err) {
      setError(messageOf(err));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

/** A button that asks "are you sure?" inline before running a destructive action. */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  onConfirm: () => void | Promise<void>;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    );
  return (
    <span class="confirm">
      <span>{props.question}</span>
      <button
        type="button"
        class={props.danger ? 'danger' : 'primary'}
        ref={(el) => el?.focus()}
        onClick={async () => {
          setAsking(false);
          await props.onConfirm();
        }}
      >
        {props.confirmLabel ?? `Yes, ${props.label.toLowerCase()}`}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A secret shown once with a copy button. */
export function OnceSecret({
  label,
  value,
  onClose,
}: {
  label: string;
  value: string;
  onClose?: () => void;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="banner ok secret" role="status">
      <div>
        <strong>{label}</strong> — shown once, store it now:
      </div>
      <code class="secret-value" data-testid="secret-value">
        {value}
      </code>
      <div class="row">
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(value);
              setCopied(true);
            } catch {
              setCopied(false);
            }
          }}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        {onClose && (
          <button type="button" onClick={onClose}>
            Done
          </button>
        )}
      </div>
    </div>
  );
}

/** A section shown when an optional feature's API is not installed on this gateway. */
export function NotAvailable({ what }: { what: string }) {
  return <p class="muted not-available">{what} is not available on this gateway.</p>;
}

/**
 * A reload counter whose trigger coalesces bursts (many events in a row cause one reload, not one per event).
 * Returns [counter, trigger]; use the counter as an effect dependency.
 */
export function useReloader(ms = 250): [number, () => void] {
  const [n, setN] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (timer.current) clearTimeout(timer.current);
    },
    [],
  );
  const trigger = () => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      setN((x) => x + 1);
    }, ms);
  };
  return [n, trigger];
}
