// strangler dashboard: plain JavaScript, no framework, no build step.
//
// Security rules this file keeps (docs/dashboard.md):
// - the admin token lives in sessionStorage only, is sent only as
//   "Authorization: Bearer" to this origin, never in a URL;
// - every text that comes from the API (and so from the monolith: bodies,
//   headers, paths) is inserted with textContent or text nodes, never as
//   HTML (the page's CSP requires Trusted Types, so innerHTML would throw);
// - writes are same-origin fetches with Content-Type application/json, as
//   the admin API's origin checks demand.
//
// The page is split in modules, loaded by the browser as they are (no
// build step): dom.js, core.js, diff.js, pages.js and this entry point,
// which holds the login, the live feed and the router.

import { $ } from './dom.js';
import {
  TOKEN_KEY, ADMIN_SERVICE, ADMIN_API, state, hooks, announce, authHeaders, api,
  onSnapshot, dialogState, onConfirm,
} from './core.js';
import { routesPage, routePage, syncPage, catalogPage, notFoundPage } from './pages.js';

const STALL_MS = 40000; // no byte of the stream for this long: reconnect (keepalives come every 15 s)

// ---- login ----

async function checkIdentity() {
  let v;
  try {
    v = await api('GET', '/version', undefined, '');
  } catch (e) {
    throw new Error(`this is not a strangler admin API (GET /version: ${e.message})`);
  }
  if (!v || v.service !== ADMIN_SERVICE) throw new Error(`this is not a strangler admin API (GET /version names ${v && v.service ? JSON.stringify(v.service) : 'no service'})`);
  if (v.api !== ADMIN_API) throw new Error(`this admin API speaks version ${v.api}; this dashboard speaks ${ADMIN_API}`);
  return v;
}

// tryToken checks the token against the API: true when it is taken.
async function tryToken(token) {
  try {
    await api('GET', '/routes', undefined, token);
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

async function onLogin(ev) {
  ev.preventDefault();
  const input = $('login-token');
  const err = $('login-error');
  const btn = $('login-submit');
  const token = input.value.trim();
  err.textContent = '';
  btn.disabled = true;
  try {
    const v = await checkIdentity();
    if (!(await tryToken(token))) {
      sessionStorage.removeItem(TOKEN_KEY);
      err.textContent = 'wrong token: the admin API refused it. Nothing was stored.';
      input.select();
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    input.value = '';
    startApp(token, v);
  } catch (e) {
    err.textContent = e.message;
  } finally {
    btn.disabled = false;
  }
}

function showLogin(message) {
  stopStream();
  if (state.view) state.view.destroy();
  state.view = null;
  state.token = null;
  state.snap = null;
  $('view').replaceChildren();
  $('nav').hidden = true;
  $('conn').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  document.title = 'Log in · strangler dashboard';
  $('login-token').focus();
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('');
  announce('Logged out: the token was removed from this tab.');
}

// refused: the API no longer takes the token (it was changed).
function refused() {
  if (state.token === null) return;
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin('wrong token: the admin API refused the stored token (was it changed?). Log in again.');
}

function startApp(token, v) {
  state.token = token;
  $('login').hidden = true;
  $('nav').hidden = false;
  $('conn').hidden = false;
  $('logout').hidden = false;
  $('conn').title = `strangler ${v.version}, admin API ${v.api}`;
  startStream();
  route();
}

// ---- the live feed: GET /events, server-sent events read with fetch ----

function setLive(s) {
  if (state.live === s) return;
  const was = state.live;
  state.live = s;
  const el = $('conn-state');
  el.className = s === 'live' || s === 'polling' ? 'live' : 'down';
  el.textContent = s === 'live' ? 'live' : s === 'polling' ? 'live (polling)' : s;
  if (s === 'reconnecting' && was === 'live') announce('Lost the live feed; reconnecting.', true);
  if (s === 'live' && was === 'reconnecting') announce('The live feed is back.');
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  state.live = '';
}

function wait(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

function startStream() {
  stopStream();
  const ctl = new AbortController();
  state.stream = ctl;
  setLive('connecting');
  (async () => {
    let delay = 1000;
    while (!ctl.signal.aborted) {
      try {
        const resp = await fetch('/events', {
          headers: authHeaders({ Accept: 'text/event-stream' }), cache: 'no-store', credentials: 'omit',
          redirect: 'error', referrerPolicy: 'no-referrer', signal: ctl.signal,
        });
        if (resp.status === 401) { refused(); return; }
        if (resp.status === 404) { await poll(ctl.signal); return; }
        if (!resp.ok || !resp.body) throw new Error(`GET /events answered ${resp.status}`);
        await readEvents(resp.body, ctl.signal, (name, data) => {
          if (name !== 'snapshot') return;
          delay = 1000;
          setLive('live');
          onSnapshot(JSON.parse(data));
        });
      } catch {
        if (ctl.signal.aborted) return;
      }
      setLive('reconnecting');
      await wait(delay, ctl.signal);
      delay = Math.min(delay * 2, 15000);
    }
  })();
}

// readEvents parses a text/event-stream body: frames of "field: value"
// lines ended by a blank line; comment lines start with ':'.
async function readEvents(body, signal, onEvent) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let name = 'message';
  let data = [];
  let stall = 0;
  const arm = () => { clearTimeout(stall); stall = setTimeout(() => reader.cancel().catch(() => {}), STALL_MS); };
  const onAbort = () => reader.cancel().catch(() => {});
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    arm();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      arm();
      buf += dec.decode(value, { stream: true });
      for (;;) {
        const i = buf.search(/[\r\n]/);
        if (i < 0) break;
        if (buf[i] === '\r' && i === buf.length - 1) break; // a \r\n cut in two: wait for the rest
        const line = buf.slice(0, i);
        buf = buf.slice(i + (buf[i] === '\r' && buf[i + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (data.length) onEvent(name, data.join('\n'));
          name = 'message';
          data = [];
          continue;
        }
        if (line[0] === ':') continue;
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        let val = c < 0 ? '' : line.slice(c + 1);
        if (val[0] === ' ') val = val.slice(1);
        if (field === 'event') name = val;
        else if (field === 'data') data.push(val);
      }
    }
  } finally {
    clearTimeout(stall);
    signal.removeEventListener('abort', onAbort);
  }
}

// poll stands in for the stream on an admin API without a feed (no
// GET /events): the routes and the rollout every two seconds.
async function poll(signal) {
  while (!signal.aborted) {
    try {
      const routes = await api('GET', '/routes');
      let rollout;
      try { rollout = await api('GET', '/rollout'); } catch { rollout = undefined; }
      setLive('polling');
      onSnapshot({ at: new Date().toISOString(), version: routes.version, routes: routes.routes, stats: [], window: '', rollout });
    } catch (e) {
      if (e.status === 401) return;
      setLive('reconnecting');
    }
    await wait(2000, signal);
  }
}

function route() {
  if (state.token === null) return;
  const hash = location.hash || '#/';
  if (!hash.startsWith('#/')) {
    if (!state.view) show(routesPage());
    return;
  }
  let parts;
  try {
    parts = hash.slice(2).split('/').map(decodeURIComponent);
  } catch {
    parts = ['?'];
  }
  if (parts.length === 1 && parts[0] === '') show(routesPage());
  else if (parts[0] === 'route' && parts[1] && parts.length <= 3) {
    if (state.view && state.view.name === 'route' && state.view.route === parts[1] && state.view.record === parts[2]) return;
    const v = routePage(parts[1], parts[2]);
    v.route = parts[1];
    v.record = parts[2];
    show(v);
  } else if (parts[0] === 'sync' && parts.length === 1) show(syncPage());
  else if (parts[0] === 'catalog' && parts.length === 1) show(catalogPage());
  else show(notFoundPage(hash));
}

function show(v) {
  if (state.view) state.view.destroy();
  state.view = v;
  $('view').replaceChildren(v.el);
  if (state.snap && v.update) v.update(state.snap, null);
  document.title = `${v.title} · strangler dashboard`;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === v.name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // Move the focus to the new page's heading, as a page load would.
  const target = v.focusRecord ? null : v.el.querySelector('#page-h');
  if (target) target.focus({ preventScroll: false });
  else if (v.focusRecord) {
    const watch = new MutationObserver(() => {
      const rh = document.getElementById('record-h');
      if (rh) { watch.disconnect(); rh.focus(); }
    });
    watch.observe(v.el, { childList: true, subtree: true });
    setTimeout(() => watch.disconnect(), 10000);
  }
}

// ---- start ----

async function boot() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', logout);
  $('confirm-form').addEventListener('submit', onConfirm);
  $('confirm-cancel').addEventListener('click', () => $('confirm').close());
  $('confirm').addEventListener('close', () => {
    const o = dialogState.opener;
    dialogState.opener = null;
    if (o && o.isConnected && typeof o.focus === 'function') o.focus();
  });
  window.addEventListener('hashchange', route);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token === null) {
    showLogin('');
    return;
  }
  try {
    const v = await checkIdentity();
    if (!(await tryToken(token))) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin('wrong token: the admin API refused the stored token (was it changed?). Log in again.');
      return;
    }
    startApp(token, v);
  } catch (e) {
    showLogin(e.message);
  }
}

hooks.refused = refused;
boot();
