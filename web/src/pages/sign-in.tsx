// Sign-in: an admin, company or instance API key, or a user's email and password.
import { useState } from 'preact/hooks';
import { ApiError, api, type Credential } from '../api.js';
import { ErrorBanner, LabeledInput, Notice, Tabs, tabId, useAction } from '../ui.js';

const METHODS = ['API key', 'Email and password'] as const;

function keyLabel(key: string): string {
  if (key.startsWith('sb_admin_')) return 'Admin key';
  if (key.startsWith('sb_co_')) return 'Company key';
  if (key.startsWith('sb_inst_')) return 'Instance key';
  return 'API key';
}

export function SignInPage({
  onSignedIn,
  notice,
}: {
  onSignedIn: (c: Credential) => void;
  notice: string | null;
}) {
  const [mode, setMode] = useState<'key' | 'user'>('key');
  const [key, setKey] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, setError, run } = useAction();
  const choose = (m: 'key' | 'user') => {
    setMode(m);
    setError(null);
  };

  const submitKey = async (e: Event) => {
    e.preventDefault();
    const token = key.trim();
    if (!token) return setError('Enter an API key.');
    await run(async () => {
      // Any authenticated read proves the key; instance keys see only their own instance.
      await api('/api/v1/instances?limit=1', { token });
      onSignedIn({ token, via: 'key', label: keyLabel(token) });
    });
  };

  const submitUser = async (e: Event) => {
    e.preventDefault();
    if (!email.trim() || !password) return setError('Enter your email and password.');
    await run(async () => {
      try {
        const res = await api<{ token: string; user?: { email?: string } }>('/api/auth/login', {
          body: { email: email.trim(), password },
          token: null,
        });
        onSignedIn({ token: res.token, via: 'user', label: res.user?.email ?? email.trim() });
      } catch (err) {
        if (err instanceof ApiError && err.missingRoute)
          throw new Error('User login is not available on this gateway; sign in with an API key');
        throw err;
      }
    });
  };

  return (
    <section class="card narrow" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      {notice && <Notice>{notice}</Notice>}
      <Tabs
        label="Sign-in method"
        tabs={METHODS}
        idPrefix="signin"
        selected={mode === 'key' ? METHODS[0] : METHODS[1]}
        onSelect={(t) => choose(t === METHODS[0] ? 'key' : 'user')}
      />
      <ErrorBanner error={error} />
      <div
        id="signin-panel"
        role="tabpanel"
        aria-labelledby={tabId('signin', mode === 'key' ? METHODS[0] : METHODS[1])}
      >
        {mode === 'key' ? (
          <form onSubmit={submitKey}>
            <LabeledInput
              id="api-key"
              label="Admin, company or instance API key"
              type="password"
              autoComplete="off"
              spellcheck={false}
              value={key}
              onValue={setKey}
              placeholder="sb_…"
              required
            />
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Checking…' : 'Sign in'}
            </button>
            <p class="muted small">The key stays in this browser tab only (session storage).</p>
          </form>
        ) : (
          <form onSubmit={submitUser}>
            <LabeledInput
              id="email"
              label="Email"
              type="email"
              autoComplete="username"
              value={email}
              onValue={setEmail}
              required
            />
            <LabeledInput
              id="password"
              label="Password"
              type="password"
              autoComplete="current-password"
              value={password}
              onValue={setPassword}
              required
            />
            <button type="submit" class="primary" disabled={busy}>
              {busy ? 'Signing in…' : 'Sign in'}
            </button>
          </form>
        )}
      </div>
    </section>
  );
}
