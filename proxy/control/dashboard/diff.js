// diff.js: the diff viewer of one stored shadow record (legacy's answer
// beside the new service's, the differing paths highlighted) and its
// request as curl commands.

import { h, sr, badge, fmtMs, fmtTime } from './dom.js';
import { announce } from './core.js';

// ---- the diff viewer ----

function recordView(rec, target) {
  const diffs = rec.diffs || [];
  const curlText = curlCommands(rec, target);
  const curlPre = h('pre', { class: 'curl', id: 'curl-text' }, curlText);
  const curlBox = h('details', {}, h('summary', {}, 'The curl commands'), curlPre);
  const copy = h('button', { type: 'button', id: 'copy-curl', onclick: () => copyCurl(curlPre, curlBox) }, 'Copy as curl');
  const req = rec.request || {};
  return h('section', { 'aria-labelledby': 'record-h' },
    h('div', { class: 'toolbar' }, h('h2', { id: 'record-h', tabindex: '-1' }, `Record ${rec.id}`), copy),
    h('p', {}, badge(rec.result === 'diff' ? 'warn' : rec.result === 'error' ? 'bad' : 'ok', rec.result), ' ',
      `${req.method || ''} ${req.path || ''}${req.query ? '?' + req.query : ''}`,
      req.target && req.target !== req.path ? ` (the new service received ${req.target})` : '',
      ` at ${fmtTime(rec.at)}; ${rec.primary === 'new' ? 'the new service' : 'legacy'} answered the client`,
      rec.request_id ? `; request id ${rec.request_id}` : '', '.'),
    rec.error ? h('p', { class: 'error' }, rec.error) : null,
    curlBox,
    diffs.length ? h('table', { id: 'diff-list' },
      h('caption', {}, `Differences (${diffs.length}${rec.more_diffs ? ` listed, ${rec.more_diffs} more` : ''})`),
      h('thead', {}, h('tr', {}, ['Path', 'Kind', 'Legacy', 'New'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, diffs.map((d) => h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, d.path), h('td', {}, d.kind),
        h('td', { class: 'val' }, d.legacy || '(missing)'), h('td', { class: 'val' }, d.new || '(missing)'))))) : null,
    rec.noise && rec.noise.length ? h('p', { class: 'meta' }, 'Silenced as noise: ', rec.noise.join(', ')) : null,
    h('div', { class: 'sides' },
      sideView('legacy', 'Legacy', rec.legacy, diffs, rec.primary !== 'new'),
      sideView('new', 'New service', rec.new, diffs, rec.primary === 'new')));
}

function sideView(side, title, ans, diffs, primary) {
  const id = `diff-${side}`;
  const head = h('h3', { id: id + '-h' }, title, primary ? ' (answered the client)' : '');
  if (!ans) return h('section', { class: 'side', id, 'aria-labelledby': id + '-h' }, head, h('p', { class: 'empty' }, 'No answer.'));
  const value = (d) => (side === 'legacy' ? d.legacy : d.new);
  const statusDiff = diffs.some((d) => d.path === 'status');
  const headerDiffs = new Set(diffs.filter((d) => d.path.startsWith('header:')).map((d) => d.path.slice(7).toLowerCase()));
  const headers = Object.keys(ans.header || {}).sort();
  for (const name of headerDiffs) {
    if (!headers.some((k) => k.toLowerCase() === name)) headers.push(name);
  }
  const hl = (on, ...kids) => on ? h('mark', { class: 'hl' }, sr('differs: '), kids) : kids;
  return h('section', { class: 'side', id, 'aria-labelledby': id + '-h' },
    head,
    h('p', { class: 'status-line' }, 'Status ', hl(statusDiff, h('strong', {}, String(ans.status))), ` in ${fmtMs(ans.duration_ms)}`),
    headers.length ? h('table', {},
      h('caption', {}, `${title}: headers`),
      h('tbody', {}, headers.map((k) => {
        const vals = (ans.header || {})[k];
        const on = headerDiffs.has(k.toLowerCase());
        return h('tr', {}, h('th', { scope: 'row', class: 'mono' }, k),
          h('td', { class: 'val' }, hl(on, vals ? vals.join(', ') : '(missing)')));
      }))) : null,
    bodyView(side, ans.body || {}, diffs.filter((d) => d.path === 'body' || d.path.startsWith('$')), value));
}

function bodyView(side, body, diffs, value) {
  if (body.base64) {
    const n = Math.floor(body.base64.length * 3 / 4);
    return h('p', { class: 'meta' }, `A binary body of about ${n} bytes${body.truncated ? ' (cut: longer than what is kept)' : ''}.`);
  }
  const text = body.text || '';
  if (!text) return h('p', { class: 'empty' }, 'No body.');
  let lines;
  let tree = null;
  try { tree = parseJSON(text); } catch { tree = null; }
  if (tree) {
    const marked = new Set();
    for (const d of diffs) {
      if (!d.path.startsWith('$') || !value(d)) continue;
      const segs = parsePath(d.path);
      if (segs) for (const n of resolve(tree, segs)) marked.add(n);
    }
    lines = [];
    printJSON(tree, 0, '', '', false, marked, lines);
  } else {
    const hot = new Set();
    for (const d of diffs) {
      const m = /^line (\d+):/.exec(value(d) || '');
      if (m) hot.add(Number(m[1]));
      else if (d.path === 'body' && value(d)) hot.add(-1);
    }
    lines = text.split(/\r\n|\n/).map((t, i) => ({ text: t, hl: hot.has(i + 1) || hot.has(-1) }));
  }
  const pre = h('pre', { class: 'body', tabindex: '0', 'aria-label': `${side === 'legacy' ? 'Legacy' : 'New service'} body` });
  lines.forEach((l, i) => {
    const n = String(i + 1);
    pre.append(l.hl
      ? h('mark', { class: 'ln', 'data-n': n }, sr('differs: '), l.text)
      : h('span', { class: 'ln', 'data-n': n }, l.text));
  });
  return [pre, body.truncated ? h('p', { class: 'meta' }, 'The body was cut: it is longer than what is kept.') : null];
}

// parseJSON parses JSON into a tree that keeps every number and string
// as it was written (JSON.parse would turn 1.10 into 1.1 and round big
// integers): {t: 'o', m: [{k, raw, v}]}, {t: 'a', e: [...]}, {t: 's'|'n'|'l', raw}.
function parseJSON(src) {
  let i = 0;
  const n = src.length;
  const fail = () => { throw new SyntaxError('not JSON'); };
  const ws = () => { while (i < n && ' \t\r\n'.includes(src[i])) i++; };
  const num = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  function str() {
    const start = i++;
    while (i < n) {
      const c = src[i];
      if (c === '"') { i++; return src.slice(start, i); }
      if (c === '\\') i += 2;
      else if (c < ' ') fail();
      else i++;
    }
    return fail();
  }
  function value(depth) {
    if (depth > 256) fail();
    ws();
    const c = src[i];
    if (c === '{') {
      i++;
      const m = [];
      ws();
      if (src[i] === '}') { i++; return { t: 'o', m }; }
      for (;;) {
        ws();
        if (src[i] !== '"') fail();
        const raw = str();
        ws();
        if (src[i++] !== ':') fail();
        const v = value(depth + 1);
        m.push({ k: JSON.parse(raw), raw, v });
        ws();
        if (src[i] === ',') { i++; continue; }
        if (src[i] === '}') { i++; return { t: 'o', m }; }
        fail();
      }
    }
    if (c === '[') {
      i++;
      const e = [];
      ws();
      if (src[i] === ']') { i++; return { t: 'a', e }; }
      for (;;) {
        e.push(value(depth + 1));
        ws();
        if (src[i] === ',') { i++; continue; }
        if (src[i] === ']') { i++; return { t: 'a', e }; }
        fail();
      }
    }
    if (c === '"') {
      const raw = str();
      JSON.parse(raw); // checks the escapes
      return { t: 's', raw };
    }
    num.lastIndex = i;
    const m = num.exec(src);
    if (m) { i += m[0].length; return { t: 'n', raw: m[0] }; }
    for (const lit of ['true', 'false', 'null']) {
      if (src.startsWith(lit, i)) { i += lit.length; return { t: 'l', raw: lit }; }
    }
    return fail();
  }
  const v = value(0);
  ws();
  if (i !== n) fail();
  return v;
}

// printJSON writes node as indented lines, each marked when it belongs
// to a marked node.
function printJSON(node, depth, prefix, suffix, hot, marked, out) {
  const ind = '  '.repeat(depth);
  const on = hot || marked.has(node);
  if (node.t === 'o' || node.t === 'a') {
    const kids = node.t === 'o' ? node.m : node.e;
    const [open, close] = node.t === 'o' ? ['{', '}'] : ['[', ']'];
    if (!kids.length) { out.push({ text: ind + prefix + open + close + suffix, hl: on }); return; }
    out.push({ text: ind + prefix + open, hl: on });
    kids.forEach((k, i) => {
      const comma = i < kids.length - 1 ? ',' : '';
      if (node.t === 'o') printJSON(k.v, depth + 1, k.raw + ': ', comma, on, marked, out);
      else printJSON(k, depth + 1, '', comma, on, marked, out);
    });
    out.push({ text: ind + close + suffix, hl: on });
    return;
  }
  out.push({ text: ind + prefix + node.raw + suffix, hl: on });
}

// parsePath reads a concrete path of the differ: $, .name, ["name"],
// [3], [#3] (a set element matched with none), [key=value] (the element
// of a keyed set), [*]. null when it is not one.
function parsePath(p) {
  if (p[0] !== '$') return null;
  const segs = [];
  let i = 1;
  const ident = /[A-Za-z0-9_-]+/y;
  const quoted = () => {
    const start = i++;
    while (i < p.length && p[i] !== '"') i += p[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(p.slice(start, i));
  };
  try {
    while (i < p.length) {
      if (p[i] === '.') {
        i++;
        ident.lastIndex = i;
        const m = ident.exec(p);
        if (!m) return null;
        segs.push({ k: 'm', name: m[0] });
        i += m[0].length;
        continue;
      }
      if (p[i] !== '[') return null;
      i++;
      if (p[i] === '"') {
        segs.push({ k: 'm', name: quoted() });
      } else if (p[i] === '*') {
        i++;
        segs.push({ k: '*' });
      } else if (/[#0-9]/.test(p[i])) {
        if (p[i] === '#') i++;
        const m = /\d+/y;
        m.lastIndex = i;
        const d = m.exec(p);
        if (!d) return null;
        i += d[0].length;
        segs.push({ k: 'i', idx: Number(d[0]) });
      } else {
        let name;
        if (p[i] === '"') name = quoted();
        else {
          ident.lastIndex = i;
          const m = ident.exec(p);
          if (!m) return null;
          name = m[0];
          i += m[0].length;
        }
        if (p[i++] !== '=') return null;
        let val;
        if (p[i] === '"') { const start = i; quoted(); val = p.slice(start, i); } else {
          const end = p.indexOf(']', i);
          if (end < 0) return null;
          val = p.slice(i, end);
          i = end;
        }
        segs.push({ k: 'key', name, val });
      }
      if (p[i++] !== ']') return null;
    }
  } catch {
    return null;
  }
  return segs;
}

function sameScalar(node, val) {
  if (!node) return false;
  if (node.raw === val) return true;
  try {
    if (node.t === 's') return JSON.parse(node.raw) === (val[0] === '"' ? JSON.parse(val) : val);
    if (node.t === 'n') return Number(node.raw) === Number(val);
  } catch { return false; }
  return false;
}

// resolve returns the nodes of tree that path segs names.
function resolve(tree, segs) {
  let nodes = [tree];
  for (const s of segs) {
    const next = [];
    for (const n of nodes) {
      if (s.k === 'm' && n.t === 'o') {
        for (let j = n.m.length - 1; j >= 0; j--) if (n.m[j].k === s.name) { next.push(n.m[j].v); break; }
      } else if (s.k === 'i' && n.t === 'a' && s.idx < n.e.length) {
        next.push(n.e[s.idx]);
      } else if (s.k === '*' && n.t === 'a') {
        next.push(...n.e);
      } else if (s.k === 'key' && n.t === 'a') {
        for (const e of n.e) {
          if (e.t !== 'o') continue;
          const m = e.m.find((x) => x.k === s.name);
          if (m && sameScalar(m.v, s.val)) { next.push(e); break; }
        }
      }
    }
    nodes = next;
  }
  return nodes;
}

// ---- copy as curl: the commands `strangler shadow replay ID --curl` prints ----

const shellQuote = (s) => "'" + String(s).replaceAll("'", "'\\''") + "'";
const SHADOW_HEADER = 'X-Strangler-Shadow';

function curlCommand(method, url, header, body, shadowHeader) {
  const parts = ['curl', '-sS', '-i', '-X', shellQuote(method)];
  const keys = Object.keys(header || {}).sort();
  for (const k of keys) {
    if (k.toLowerCase() === SHADOW_HEADER.toLowerCase() && !shadowHeader) continue;
    for (const v of header[k]) parts.push('-H', shellQuote(`${k}: ${v}`));
  }
  if (shadowHeader && !keys.some((k) => k.toLowerCase() === SHADOW_HEADER.toLowerCase())) parts.push('-H', shellQuote(`${SHADOW_HEADER}: 1`));
  if (body) parts.push('--data-binary', shellQuote(body));
  parts.push(url);
  return parts.join(' ');
}

function curlCommands(rec, target) {
  const req = rec.request || {};
  if (req.body && req.body.base64) {
    return `# record ${rec.id} has a binary request body: send it again with\n#   strangler shadow replay ${rec.id}`;
  }
  const body = (req.body && req.body.text) || '';
  const query = req.query ? '?' + req.query : '';
  const safe = ['GET', 'HEAD', 'OPTIONS'].includes(req.method);
  const out = [`# record ${rec.id}, route ${rec.route}; secrets were redacted when it was stored`];
  if (!safe) out.push("# legacy: this is a write; sending it again changes legacy's data");
  out.push("# legacy: set LEGACY to the project file's legacy: URL first");
  out.push(curlCommand(req.method, '"${LEGACY:?set LEGACY to the legacy URL}"' + shellQuote(req.path + query), req.header, body, false));
  if (target) {
    let base = target;
    let path = req.target || req.path;
    try {
      const u = new URL(target);
      base = `${u.protocol}//${u.host}`;
      if (!req.target) path = u.pathname.replace(/\/$/, '') + req.path;
    } catch { /* keep the target as written */ }
    out.push('# new');
    out.push(curlCommand(req.method, shellQuote(base + path + query), req.header, body, !safe));
  }
  return out.join('\n');
}

async function copyCurl(pre, box) {
  box.open = true;
  const text = pre.textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
    await navigator.clipboard.writeText(text);
    announce('Copied the curl commands to the clipboard.');
  } catch {
    // Without the clipboard API (a page not served from loopback or
    // https), select the text so that Ctrl+C copies it.
    const range = document.createRange();
    range.selectNodeContents(pre);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    announce(ok ? 'Copied the curl commands to the clipboard.' : 'The clipboard is not available here: the commands are selected, press Ctrl+C to copy them.');
  }
}

export { recordView, parseJSON, printJSON, parsePath, resolve, curlCommands };
