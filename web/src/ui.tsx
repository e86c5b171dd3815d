// Small shared UI pieces: banners, badges, confirms, tabs, once-shown secrets, focus helpers and wording.
import type { ComponentChildren, InputHTMLAttributes } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
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

/** A check mark drawn in SVG (no emoji font needed); decorative, the text next to it says "Connected". */
export function CheckIcon() {
  return (
    <svg class="icon" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" focusable="false">
      <circle cx="10" cy="10" r="9" fill="currentColor" />
      <path
        d="M5.5 10.5l3 3 6-7"
        fill="none"
        stroke="var(--card)"
        stroke-width="2.2"
        stroke-linecap="round"
      />
    </svg>
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
  disabled: 'muted',
  delivered: 'ok',
  ok: 'ok',
  denied: 'bad',
  invalid: 'bad',
  pending_approval: 'warn',
  unknown: 'muted',
};

/** Human words for the API's status values. */
const WORDS: Record<string, string> = {
  client_ready: 'connected',
  qr_ready: 'waiting for QR scan',
  authenticated: 'logging in',
  pending_approval: 'waiting for approval',
  logged_out: 'logged out',
  unknown: 'status unknown',
};

/** A status value in words ("client_ready" → "connected"). */
export function words(value: string): string {
  return WORDS[value] ?? value.replaceAll('_', ' ');
}

/** A coloured pill for a status word. */
export function Badge({ value }: { value: string }) {
  return <span class={`badge ${TONE[value] ?? 'muted'}`}>{words(value)}</span>;
}

/** A WhatsApp JID as a phone number ("4915…@s.whatsapp.net" → "+4915…"); anything else unchanged. */
export function phoneOf(account: string | null | undefined): string | null {
  if (!account) return null;
  const m = /^(\d+)(?::\d+)?@(s\.whatsapp\.net|c\.us)$/.exec(account);
  return m ? `+${m[1]}` : account;
}

/** The warm pool's internal company, in words. */
export function companyLabel(id: string): string {
  return id === '__pool__' ? 'Warm pool (unassigned)' : id;
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

// ---- Focus ----

/** Focuses an element, making it programmatically focusable first when it is not (headings, regions). */
export function focusEl(el: Element | null | undefined): boolean {
  if (!(el instanceof HTMLElement) || !el.isConnected) return false;
  if (el.tabIndex < 0 && !el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
  el.focus();
  return document.activeElement === el;
}

/** The main heading of the current view. */
export function focusMainHeading(): boolean {
  return focusEl(document.querySelector('#main h1'));
}

/** Focuses what `selector` finds after the next render, or the main heading when it finds nothing. */
export function focusSoon(selector: string): void {
  setTimeout(() => {
    if (!focusEl(document.querySelector(selector))) focusMainHeading();
  }, 0);
}

/**
 * Keeps keyboard focus from falling to <body> when the focused element is removed (a button that turns into
 * a result, a row that is deleted): focus goes to the nearest `[data-focus-fallback]` still on the page around
 * where it was, else to the view's heading.
 */
export function installFocusRescue(root: HTMLElement): () => void {
  let last: HTMLElement | null = null;
  let chain: HTMLElement[] = [];
  const onFocusIn = (e: FocusEvent) => {
    last = e.target instanceof HTMLElement ? e.target : null;
    chain = [];
    for (let p = last?.parentElement; p && p !== root; p = p.parentElement) chain.push(p);
  };
  const lost = () => {
    if (!last || last.isConnected) return false;
    const active = document.activeElement;
    return !active || active === document.body;
  };
  const observer = new MutationObserver(() => {
    if (!lost()) return;
    // Wait for the render to settle: a component that puts focus back itself (a confirm's Cancel returning focus to
    // its trigger) may do so after this callback; only focus still lost then is rescued.
    setTimeout(() => {
      if (!lost()) return;
      for (const p of chain) {
        if (!p.isConnected) continue;
        const target = p.matches('[data-focus-fallback]') ? p : p.querySelector('[data-focus-fallback]');
        if (target && focusEl(target)) return;
      }
      focusMainHeading();
    }, 0);
  });
  root.addEventListener('focusin', onFocusIn);
  observer.observe(root, { childList: true, subtree: true });
  return () => {
    root.removeEventListener('focusin', onFocusIn);
    observer.disconnect();
  };
}

/** A button that asks "are you sure?" inline before running a destructive or irreversible action. */
export function ConfirmButton(props: {
  label: string;
  question: string;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  id?: string;
  onConfirm: () => void | Promise<void>;
}) {
  const [asking, setAsking] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const confirming = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef(false);
  // Focus moves only when the question opens or closes, never on a re-render while it is open (a list refreshed by
  // a live event would otherwise pull the keyboard from Cancel back to the confirming button). A layout effect:
  // focus moves in the same render, before it could be seen falling to <body>.
  useLayoutEffect(() => {
    if (asking) confirming.current?.focus();
    else if (returnFocus.current) {
      returnFocus.current = false;
      trigger.current?.focus();
    }
  }, [asking]);
  const close = () => {
    returnFocus.current = true;
    setAsking(false);
  };
  if (!asking)
    return (
      <button
        type="button"
        id={props.id}
        ref={trigger}
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        onClick={() => setAsking(true)}
      >
        {props.label}
      </button>
    );
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: Escape anywhere in the confirm cancels it.
    <span
      class="confirm"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          close();
        }
      }}
    >
      <span>{props.question}</span>
      <button
        type="button"
        class={props.danger ? 'danger' : 'primary'}
        ref={confirming}
        onClick={async () => {
          close();
          await props.onConfirm();
        }}
      >
        {props.confirmLabel ?? `Yes, ${props.label.toLowerCase()}`}
      </button>
      <button type="button" onClick={close}>
        Cancel
      </button>
    </span>
  );
}

/** The ARIA tabs pattern: one tab stop, arrow keys/Home/End move between tabs, each tab controls `panelId`. */
export function Tabs<T extends string>(props: {
  label: string;
  tabs: readonly T[];
  selected: T;
  idPrefix: string;
  onSelect: (t: T) => void;
}) {
  const refs = useRef(new Map<string, HTMLButtonElement | null>());
  const onKeyDown = (e: KeyboardEvent) => {
    const i = props.tabs.indexOf(props.selected);
    const n = props.tabs.length;
    const next =
      e.key === 'ArrowRight'
        ? (i + 1) % n
        : e.key === 'ArrowLeft'
          ? (i - 1 + n) % n
          : e.key === 'Home'
            ? 0
            : e.key === 'End'
              ? n - 1
              : -1;
    if (next < 0) return;
    e.preventDefault();
    props.onSelect(props.tabs[next]);
    refs.current.get(props.tabs[next])?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label={props.label} onKeyDown={onKeyDown}>
      {props.tabs.map((t) => (
        <button
          key={t}
          ref={(el) => {
            refs.current.set(t, el);
          }}
          type="button"
          role="tab"
          id={tabId(props.idPrefix, t)}
          aria-selected={props.selected === t}
          aria-controls={`${props.idPrefix}-panel`}
          tabIndex={props.selected === t ? 0 : -1}
          onClick={() => props.onSelect(t)}
        >
          {t}
        </button>
      ))}
    </div>
  );
}

export function tabId(prefix: string, tab: string): string {
  return `${prefix}-tab-${tab.toLowerCase().replace(/\W+/g, '-')}`;
}

/** A scrollable area that keyboard users can reach and scroll (WCAG 2.1.1). */
export function ScrollRegion({
  label,
  children,
  class: cls = 'table-wrap',
}: {
  label: string;
  children: ComponentChildren;
  class?: string;
}) {
  return (
    <section
      class={cls}
      aria-label={label}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: a scroll container must be focusable to scroll by keyboard.
      tabIndex={0}
    >
      {children}
    </section>
  );
}

/** A column of a {@link DataTable}: its heading, or a heading only screen readers get (e.g. a column of buttons). */
export type Column = string | { srOnly: string };

/** A table in a keyboard-scrollable region: one header row of `columns`, then `children` as the body rows. */
export function DataTable({
  label,
  columns,
  tableClass,
  children,
}: {
  label: string;
  columns: Column[];
  tableClass?: string;
  children: ComponentChildren;
}) {
  return (
    <ScrollRegion label={label}>
      <table class={tableClass}>
        <thead>
          <tr>
            {columns.map((c) =>
              typeof c === 'string' ? (
                <th key={c} scope="col">
                  {c}
                </th>
              ) : (
                <th key={c.srOnly} scope="col">
                  <span class="sr-only">{c.srOnly}</span>
                </th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </ScrollRegion>
  );
}

// ---- Secrets shown once ----

export interface PendingSecret {
  label: string;
  value: string;
  /** Extra content shown with the secret (a pairing code, a link). */
  extra?: { pairingCode?: string; href?: string; linkText?: string };
}

const secrets = new Map<string, PendingSecret>();
/** Secrets whose heading already took focus once. */
const focusedSecrets = new Set<string>();
const secretListeners = new Set<() => void>();

/** True while any secret waits for the user to confirm they saved it (the page warns before unloading). */
export function hasPendingSecrets(): boolean {
  return secrets.size > 0;
}

export function setSecret(slot: string, s: PendingSecret | null): void {
  if (s) secrets.set(slot, s);
  else secrets.delete(slot);
  for (const l of secretListeners) l();
}

/** A once-shown secret kept outside any component, so it survives tab switches and closing forms. */
export function useSecret(slot: string): PendingSecret | null {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = () => bump((n) => n + 1);
    secretListeners.add(l);
    return () => {
      secretListeners.delete(l);
    };
  }, []);
  return secrets.get(slot) ?? null;
}

/** Copies text: the Clipboard API, else the selection and execCommand; false when the browser refuses both. */
async function copyText(value: string, el: HTMLElement | null): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return true;
    }
  } catch {
    // Refused (no permission, not focused): fall back to the selection below.
  }
  if (!el) return false;
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = getSelection();
  sel?.removeAllRanges();
  sel?.addRange(range);
  try {
    return document.execCommand('copy');
  } catch {
    return false;
  }
}

/**
 * A secret shown once. It is not inside a live region (screen readers do not read it aloud); its heading gets
 * focus when it appears, and it stays until the user says they saved it.
 */
export function OnceSecret({
  slot,
  after,
  children,
}: {
  slot: string;
  /** What gets focus once the user dismissed the secret (a selector). */
  after: string;
  children?: ComponentChildren;
}) {
  const secret = useSecret(slot);
  const [copy, setCopy] = useState<'idle' | 'ok' | 'failed'>('idle');
  const valueRef = useRef<HTMLElement>(null);
  const headRef = useRef<HTMLHeadingElement>(null);
  const shown = secret?.value;
  useEffect(() => {
    setCopy('idle');
    // Focus only when the secret first appears, not each time a tab that shows it is opened again.
    if (shown && !focusedSecrets.has(shown)) {
      focusedSecrets.add(shown);
      headRef.current?.focus();
    }
  }, [shown]);
  if (!secret) return null;
  const headId = `secret-${slot.replace(/\W+/g, '-')}`;
  return (
    <section class="banner ok secret" aria-labelledby={headId} data-testid="secret">
      <h2 id={headId} class="secret-title" tabIndex={-1} ref={headRef}>
        {secret.label}: save it now
      </h2>
      <p class="small">It is shown only this once. Store it somewhere safe before you continue.</p>
      <code class="secret-value" data-testid="secret-value" ref={valueRef}>
        {secret.value}
      </code>
      {children}
      <div class="row wrap">
        <button
          type="button"
          onClick={async () => setCopy((await copyText(secret.value, valueRef.current)) ? 'ok' : 'failed')}
        >
          Copy
        </button>
        <button
          type="button"
          class="primary"
          onClick={() => {
            setSecret(slot, null);
            focusSoon(after);
          }}
        >
          I have saved it
        </button>
      </div>
      <p class="small copy-state" role="status">
        {copy === 'ok'
          ? 'Copied to the clipboard.'
          : copy === 'failed'
            ? 'This browser does not allow copying here (the page is not on HTTPS, or permission is blocked). The text is selected: press Ctrl+C (⌘C on a Mac) to copy it.'
            : ''}
      </p>
    </section>
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

/**
 * The events field of an endpoint form (in a `grid-form`): comma-separated event types, empty for all, with its help
 * line under it. `id` names the input; the help gets `<id>-help`.
 */
export function EventsField({
  id,
  value,
  onInput,
  children,
}: {
  id: string;
  value: string;
  onInput: (e: Event) => void;
  /** The help line. */
  children: ComponentChildren;
}) {
  return (
    <>
      <label for={id}>Events</label>
      <input
        id={id}
        aria-describedby={`${id}-help`}
        placeholder="all events"
        value={value}
        onInput={onInput}
      />
      <span />
      <p id={`${id}-help`} class="muted small">
        {children}
      </p>
    </>
  );
}

/** A labelled text input: `label` for the input `id`, its value kept by `onValue`; other props go to the input. */
export function LabeledInput({
  id,
  label,
  value,
  onValue,
  ...input
}: { id: string; label: string; value: string; onValue: (v: string) => void } & Omit<
  InputHTMLAttributes<HTMLInputElement>,
  'id' | 'value' | 'onInput'
>) {
  return (
    <>
      <label for={id}>{label}</label>
      <input {...input} id={id} value={value} onInput={(e) => onValue(e.currentTarget.value)} />
    </>
  );
}
