// core.js: the session's state, the admin API client, the snapshots and
// the confirmation dialog of every change (rollback, rollback-all, pause,
// resume, promote).

import { $, h, modeText } from './dom.js';

const TOKEN_KEY = 'strangler.admin.token';
const ADMIN_SERVICE = 'strangler-admin';
const ADMIN_API = 1;

const state = {
  token: null, // null: logged out; '' is a valid token when the API runs without one
  snap: null, // the latest snapshot
  stream: null, // AbortController of the event stream
  view: null, // {name, el, update(snap), destroy()}
  live: '',
};

// hooks are set by app.js: refused is called when the API no longer takes
// the token.
const hooks = { refused() {} };

// ---- the notice line (role=status): what matters, not every figure ----

let noticeTimer = 0;
function announce(text, bad) {
  const n = $('notice');
  clearTimeout(noticeTimer);
  n.classList.toggle('bad', !!bad);
  n.textContent = text;
  noticeTimer = setTimeout(() => { n.textContent = ''; }, 15000);
}

// ---- the admin API ----

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function authHeaders(extra) {
  const hd = Object.assign({ Accept: 'application/json' }, extra || {});
  if (state.token) hd.Authorization = 'Bearer ' + state.token;
  return hd;
}

function problemText(data, resp) {
  if (data && typeof data === 'object') {
    if (data.detail) return data.detail;
    if (data.title) return data.title;
  }
  return `${resp.status} ${resp.statusText}`.trim();
}

async function api(method, path, body, token) {
  const headers = token === undefined ? authHeaders() : { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    if (resp.status === 401 && token === undefined && state.token !== null) hooks.refused();
    throw new APIError(resp.status, problemText(data, resp));
  }
  return data;
}

function onSnapshot(s) {
  const prev = state.snap;
  if (prev && s.version < prev.version) {
    // An older state than one a change answered with: keep the routes.
    s = Object.assign({}, s, { version: prev.version, routes: prev.routes });
  }
  s.routes = s.routes || [];
  s.stats = s.stats || [];
  state.snap = s;
  $('conn-version').textContent = `state version ${s.version}`;
  if (prev) announceModes(prev, s);
  if (state.view && state.view.update) state.view.update(s, prev);
}

// announceModes says which routes changed mode since the last snapshot.
function announceModes(prev, s) {
  const before = new Map(prev.routes.map((r) => [r.name, modeText(r)]));
  const moved = [];
  for (const r of s.routes) {
    const was = before.get(r.name);
    if (was !== undefined && was !== modeText(r)) moved.push(`${r.name}: ${was} → ${modeText(r)}`);
  }
  if (moved.length) announce('Route changed: ' + moved.join('; '));
}

// applyChange takes the routes a change answered with, ahead of the next
// snapshot.
function applyChange(resp) {
  if (!state.snap || !resp || !resp.routes) return;
  const s = Object.assign({}, state.snap, { version: resp.version, routes: resp.routes });
  state.snap = s;
  $('conn-version').textContent = `state version ${s.version}`;
  if (state.view && state.view.update) state.view.update(s, null);
}

const statsOf = (s, name) => (s.stats || []).find((x) => x.route === name);
const rolloutOf = (s, name) => (s.rollout && s.rollout.routes || []).find((x) => x.route === name);
const routeOf = (s, name) => s.routes.find((x) => x.name === name);

// ---- the confirmation dialog: rollback, rollback-all, pause, resume, promote ----

const dialogState = { opener: null, run: null, required: true };

function confirmAction(opts) {
  const d = $('confirm');
  dialogState.opener = document.activeElement;
  dialogState.run = opts.run;
  dialogState.required = opts.required !== false;
  $('confirm-title').textContent = opts.title;
  $('confirm-desc').textContent = opts.text;
  $('confirm-ok').textContent = opts.ok;
  $('confirm-ok').className = opts.danger ? 'danger' : '';
  $('confirm-ok').disabled = false;
  $('confirm-cancel').disabled = false;
  $('confirm-reason').value = '';
  $('confirm-reason').required = dialogState.required;
  $('confirm-reason-hint').textContent = dialogState.required ? '(required: it goes into the audit log)' : '(optional: it goes into the audit log)';
  $('confirm-error').textContent = '';
  d.showModal();
  $('confirm-reason').focus();
}

async function onConfirm(ev) {
  ev.preventDefault();
  const reason = $('confirm-reason').value.trim();
  if (dialogState.required && !reason) {
    $('confirm-error').textContent = 'Give a reason: it is kept in the audit log with the change.';
    $('confirm-reason').focus();
    return;
  }
  $('confirm-ok').disabled = true;
  $('confirm-cancel').disabled = true;
  $('confirm-error').textContent = '';
  try {
    const msg = await dialogState.run(reason);
    $('confirm').close();
    announce(msg);
  } catch (e) {
    $('confirm-error').textContent = `Refused: ${e.message}`;
    $('confirm-ok').disabled = false;
    $('confirm-cancel').disabled = false;
    $('confirm-reason').focus();
  }
}

function changedText(resp) {
  const n = resp && typeof resp.changed === 'number' ? resp.changed : 0;
  return `${n} route${n === 1 ? '' : 's'} changed, state version ${resp ? resp.version : '?'}`;
}

function rollback(name) {
  confirmAction({
    title: `Roll back ${name}`,
    text: `Send every request of route ${name} to legacy, at once, on every facade replica. The rollout controller leaves it alone until it is resumed.`,
    ok: `Roll back ${name}`, danger: true,
    run: async (reason) => {
      const resp = await api('POST', '/rollback', { routes: [name], reason });
      applyChange(resp);
      return resp.changed ? `Rolled back ${name} to legacy: ${changedText(resp)}.` : `${name} was on legacy already: nothing changed.`;
    },
  });
}

function rollbackAll() {
  confirmAction({
    title: 'Roll back every route',
    text: 'Send every request of every route to legacy, at once, on every facade replica.',
    ok: 'Roll back all routes', danger: true,
    run: async (reason) => {
      const resp = await api('POST', '/rollback', { all: true, reason });
      applyChange(resp);
      return `Rolled back every route to legacy: ${changedText(resp)}.`;
    },
  });
}

function steer(verb, name) {
  const texts = {
    pause: ['Pause the rollout of', 'The rollout controller stops moving the route; it keeps its mode.'],
    resume: ['Resume the rollout of', 'The rollout controller takes the route again, from its current stage (or the first after a rollback).'],
    promote: ['Promote', 'Move the route to its next stage now, whatever its gates say.'],
  };
  const [title, text] = texts[verb];
  confirmAction({
    title: `${title} ${name}`, text, ok: `${verb[0].toUpperCase()}${verb.slice(1)} ${name}`,
    danger: verb === 'promote', required: verb === 'promote',
    run: async (reason) => {
      const resp = await api('POST', `/routes/${encodeURIComponent(name)}/${verb}`, { reason });
      applyChange(resp);
      const done = { pause: 'Paused the rollout of', resume: 'Resumed the rollout of', promote: 'Promoted' }[verb];
      return `${done} ${name}: ${changedText(resp)}.`;
    },
  });
}

// actionButtons are a route's buttons, made once and kept (a focused
// button stays focused across updates); update sets what applies.
function actionButtons(name) {
  const mk = (text, cls, onclick, action) => h('button', { type: 'button', class: cls, onclick, 'data-action': action, 'data-route': name }, text);
  const back = mk('Roll back', 'danger', () => rollback(name), 'rollback');
  back.setAttribute('aria-label', `Roll back ${name}`);
  const pause = mk('Pause', '', () => steer('pause', name), 'pause');
  pause.setAttribute('aria-label', `Pause the rollout of ${name}`);
  const resume = mk('Resume', '', () => steer('resume', name), 'resume');
  resume.setAttribute('aria-label', `Resume the rollout of ${name}`);
  const promote = mk('Promote', '', () => steer('promote', name), 'promote');
  promote.setAttribute('aria-label', `Promote ${name} to its next stage`);
  const el = h('div', { class: 'actions' }, back, pause, resume, promote);
  return {
    el,
    update(r, ro) {
      back.disabled = r.mode === 'legacy';
      back.title = r.mode === 'legacy' ? 'on legacy already' : '';
      const held = ro && (ro.status === 'paused' || ro.status === 'aborted');
      pause.hidden = !ro || held;
      resume.hidden = !ro || !held;
      promote.hidden = !ro;
      promote.disabled = !!ro && ro.stage >= ro.stages.length - 1;
    },
  };
}

export {
  TOKEN_KEY, ADMIN_SERVICE, ADMIN_API, state, hooks, announce,
  APIError, authHeaders, api,
  onSnapshot, applyChange, statsOf, rolloutOf, routeOf,
  dialogState, confirmAction, onConfirm, rollbackAll, actionButtons,
};
