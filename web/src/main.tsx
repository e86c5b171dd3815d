// Dashboard entry: the shell (header, navigation), a hash router and the signed-in state.
import { type JSX, render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Credential, currentCredential, setCredential, setUnauthorizedHandler } from './api.js';
import { ConnectPage } from './pages/connect.js';
import { InstancePage } from './pages/instance.js';
import { InstancesPage } from './pages/instances.js';
import { PoolPage } from './pages/pool.js';
import { SignInPage } from './pages/sign-in.js';
import { focusMainHeading, hasPendingSecrets, installFocusRescue } from './ui.js';
import './style.css';

/** What a credential can use: the pool counters are for the admin key, "Connect" for a company or its user. */
export function navFor(c: Credential): { pool: boolean; connect: boolean } {
  if (c.via === 'user') return { pool: false, connect: true };
  if (c.token.startsWith('sb_admin_')) return { pool: true, connect: false };
  if (c.token.startsWith('sb_co_')) return { pool: false, connect: true };
  return { pool: false, connect: false };
}

/** Moves focus to the view's heading once it is on the page (pages that load show their heading at once). */
function focusHeadingWhenReady(): () => void {
  if (focusMainHeading()) return () => {};
  const observer = new MutationObserver(() => {
    if (focusMainHeading()) observer.disconnect();
  });
  observer.observe(document.getElementById('app')!, { childList: true, subtree: true });
  const stop = setTimeout(() => observer.disconnect(), 5000);
  return () => {
    clearTimeout(stop);
    observer.disconnect();
  };
}

/** A skip link that works with the hash router (a plain href="#main" would change the route). */
function SkipLink() {
  return (
    <button type="button" class="skip" onClick={() => focusMainHeading()}>
      Skip to main content
    </button>
  );
}

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

  // Every view change (route, sign-in, sign-out) puts focus on the new view's heading.
  const first = useRef(true);
  const signedIn = cred !== null;
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    return focusHeadingWhenReady();
  }, [route, signedIn]);

  useEffect(() => installFocusRescue(document.getElementById('app')!), []);

  // A secret not yet confirmed as saved: the browser asks before the tab is closed or reloaded.
  useEffect(() => {
    const on = (e: BeforeUnloadEvent) => {
      if (hasPendingSecrets()) e.preventDefault();
    };
    addEventListener('beforeunload', on);
    return () => removeEventListener('beforeunload', on);
  }, []);

  const signOut = () => {
    setCredential(null);
    setCred(null);
    location.hash = '#/';
  };

  if (!cred) {
    return (
      <div class="shell">
        <SkipLink />
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
  const can = navFor(cred);
  // Keyed by id: another instance is a fresh page, nothing of the previous one (timeline, thread) carries over.
  if (m) page = <InstancePage key={m[1]} id={m[1]} />;
  else if (route === '/pool' && can.pool) page = <PoolPage />;
  else if (route === '/connect' && can.connect) page = <ConnectPage />;
  else page = <InstancesPage />;
  const nav = (href: string, label: string, active: boolean) => (
    <a href={href} aria-current={active ? 'page' : undefined}>
      {label}
    </a>
  );

  return (
    <div class="shell">
      <SkipLink />
      <header class="top">
        <span class="brand">Switchboard</span>
        <nav aria-label="Main">
          {nav('#/', 'Instances', route === '/' || route.startsWith('/instances'))}
          {can.pool && nav('#/pool', 'Pool', route === '/pool')}
          {can.connect && nav('#/connect', 'Connect WhatsApp', route === '/connect')}
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
