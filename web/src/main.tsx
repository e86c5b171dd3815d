// Dashboard entry: the shell (header, navigation), a hash router and the signed-in state.
import { type JSX, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Credential, currentCredential, setCredential, setUnauthorizedHandler } from './api.js';
import { ConnectPage } from './pages/connect.js';
import { InstancePage } from './pages/instance.js';
import { InstancesPage } from './pages/instances.js';
import { PoolPage } from './pages/pool.js';
import { SignInPage } from './pages/sign-in.js';
import './style.css';

/** The current hash route, e.g. "/instances/abc" for "#/instances/abc". */
function useRoute(): string {
  const read = () => location.hash.replace(/^#/, '') || '/';
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const [cred, setCred] = useState<Credential | null>(currentCredential());
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();

  useEffect(() => {
    setUnauthorizedHandler(() => {
      setCredential(null);
      setCred(null);
      setNotice('Your key or login is no longer accepted. Please sign in again.');
    });
  }, []);

  useEffect(() => {
    const main = document.getElementById('main');
    main?.focus({ preventScroll: true });
  }, [route]);

  const signOut = () => {
    setCredential(null);
    setCred(null);
    location.hash = '#/';
  };

  if (!cred) {
    return (
      <div class="shell">
        <header class="top">
          <span class="brand">Switchboard</span>
        </header>
        <main id="main" tabIndex={-1}>
          <SignInPage
            notice={notice}
            onSignedIn={(c) => {
              setCredential(c);
              setCred(c);
              setNotice(null);
              if (c.via === 'user' && !location.hash.startsWith('#/connect')) location.hash = '#/connect';
            }}
          />
        </main>
      </div>
    );
  }

  let page: JSX.Element;
  const m = route.match(/^\/instances\/([0-9a-fA-F-]{36})$/);
  if (m) page = <InstancePage id={m[1]} />;
  else if (route === '/pool') page = <PoolPage />;
  else if (route === '/connect') page = <ConnectPage />;
  else page = <InstancesPage />;
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );

  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Switchboard</span>
        <nav aria-label="Main">
          {nav('#/', 'Instances', route === '/' || route.startsWith('/instances'))}
          {nav('#/pool', 'Pool', route === '/pool')}
          {nav('#/connect', 'Connect WhatsApp', route === '/connect')}
        </nav>
        <span class="who" title="Signed in">
          {cred.label}
        </span>
        <button type="button" class="link" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
