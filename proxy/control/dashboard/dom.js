// dom.js: building the page from data, and formatting figures. Every
// string becomes a text node: nothing from the API is ever parsed as HTML.

const $ = (id) => document.getElementById(id);

// ---- DOM helpers: every string becomes a text node ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

function fill(el, ...kids) {
  el.replaceChildren();
  return add(el, kids);
}

const sr = (text) => h('span', { class: 'sr-only' }, text);

// setIf re-renders el only when key changed, so that the table does not
// churn (and a screen reader's place is kept) when a figure stays put.
function setIf(el, key, render) {
  if (el._key === key) return;
  el._key = key;
  el.replaceChildren();
  add(el, [render()]);
}

// ---- formatting ----

function fmtRate(v) {
  if (!v) return '0';
  if (v < 10) return v.toFixed(2);
  if (v < 100) return v.toFixed(1);
  return String(Math.round(v));
}

// A share in percent; floor, so that 99.96 never reads as 100.
function fmtShare(v) {
  if (v === undefined || v === null) return '—';
  if (v >= 100) return '100%';
  return (Math.floor(v * 10) / 10).toFixed(1) + '%';
}

function fmtErr(v) {
  if (!v) return '0%';
  if (v < 0.1) return '<0.1%';
  return v.toFixed(1) + '%';
}

function fmtMs(v) {
  if (!v) return '—';
  if (v < 1) return v.toFixed(2) + ' ms';
  if (v < 10) return v.toFixed(1) + ' ms';
  if (v < 1000) return Math.round(v) + ' ms';
  return (v / 1000).toFixed(2) + ' s';
}

function fmtNum(v) {
  return typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 3 }) : '—';
}

function pad(n) { return String(n).padStart(2, '0'); }

function fmtTime(iso) {
  const d = new Date(iso);
  if (!iso || isNaN(d)) return '—';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const timeEl = (iso) => h('time', { datetime: iso || undefined }, fmtTime(iso));

function modeText(r) {
  return r.mode === 'canary' ? `canary ${fmtNum(r.percent)}%` : r.mode;
}

function modeEl(r) {
  return h('span', {},
    h('span', { class: `mode mode-${r.mode}`, 'data-mode': r.mode }, r.mode),
    r.mode === 'canary' ? ` ${fmtNum(r.percent)}%` : '');
}

function badge(kind, text) {
  return h('span', { class: `badge b-${kind}` }, text);
}

function breakerEl(b) {
  const kind = b === 'open' ? 'bad' : b === 'half-open' ? 'warn' : b === 'closed' ? 'ok' : 'idle';
  return badge(kind, b || 'unknown');
}

function gateState(g) {
  if (g.broken) return ['bad', 'broken'];
  if (g.ok) return ['ok', 'ok'];
  return ['idle', 'unjudged'];
}

function rolloutStatusKind(s) {
  switch (s) {
    case 'advance': case 'done': return 'ok';
    case 'breached': case 'aborting': case 'aborted': return 'bad';
    case 'paused': case 'holding': case 'thin': return 'warn';
    default: return 'idle';
  }
}

function stageText(ro) {
  if (!ro) return '';
  if (ro.stage < 0) return `before stage 1 of ${ro.stages.length} (legacy)`;
  return `stage ${ro.stage + 1} of ${ro.stages.length}: ${ro.stages[ro.stage]}`;
}

export {
  $, h, add, fill, sr, setIf,
  fmtRate, fmtShare, fmtErr, fmtMs, fmtNum, fmtTime, timeEl,
  modeText, modeEl, badge, breakerEl, gateState, rolloutStatusKind, stageText,
};
