// pages.js: the routes page, the route page, the sync page and the
// catalog page. Each is {name, title, el, update(snapshot), destroy()}.

import {
  h, sr, fill, setIf, fmtRate, fmtShare, fmtErr, fmtMs, fmtNum, fmtTime, timeEl,
  modeText, modeEl, badge, breakerEl, gateState, rolloutStatusKind, stageText,
} from './dom.js';
import { state, api, statsOf, rolloutOf, routeOf, rollbackAll, actionButtons } from './core.js';
import { recordView } from './diff.js';

function pageHeading(text) {
  return h('h1', { tabindex: '-1', id: 'page-h' }, text);
}

// The routes page: every route, its traffic, breaker, comparisons and
// rollout; a rollback button per route and one for all.
function routesPage() {
  const tbody = h('tbody');
  const meta = h('p', { class: 'meta' });
  const rows = new Map();
  const table = h('table', { class: 'routes', id: 'routes-table' },
    h('caption', {}, 'Every route of the facade with its mode, its traffic per backend, breaker, shadow comparisons and rollout. Figures update every second.'),
    h('colgroup', {}, h('col'), h('col')),
    h('colgroup', { span: '3' }),
    h('colgroup', { span: '3' }),
    h('colgroup', {}, h('col'), h('col'), h('col'), h('col'), h('col')),
    h('thead', {},
      h('tr', {},
        h('th', { scope: 'col', rowspan: '2' }, 'Route'),
        h('th', { scope: 'col', rowspan: '2' }, 'Mode'),
        h('th', { scope: 'colgroup', colspan: '3' }, 'Legacy'),
        h('th', { scope: 'colgroup', colspan: '3' }, 'New'),
        h('th', { scope: 'col', rowspan: '2' }, 'Breaker'),
        h('th', { scope: 'col', rowspan: '2' }, 'Shadow match'),
        h('th', { scope: 'col', rowspan: '2' }, 'Rollout'),
        h('th', { scope: 'col', rowspan: '2' }, 'Gates'),
        h('th', { scope: 'col', rowspan: '2' }, 'Actions')),
      h('tr', {},
        ['legacy', 'new'].map((b) => [
          h('th', { scope: 'col', class: 'num' }, sr(b + ' '), 'req/s'),
          h('th', { scope: 'col', class: 'num' }, sr(b + ' '), 'errors'),
          h('th', { scope: 'col', class: 'num' }, sr(b + ' '), 'p99')]))),
    tbody);
  const allBtn = h('button', { type: 'button', class: 'danger', id: 'rollback-all', onclick: rollbackAll }, 'Roll back all…');
  const el = h('section', { 'aria-labelledby': 'page-h' },
    h('div', { class: 'toolbar' }, pageHeading('Routes'), allBtn),
    meta, table);

  function makeRow(name) {
    const cells = {
      name: h('th', { scope: 'row' }),
      mode: h('td', { class: 'mode-cell' }),
      lrps: h('td', { class: 'num' }), lerr: h('td', { class: 'num' }), lp99: h('td', { class: 'num' }),
      nrps: h('td', { class: 'num' }), nerr: h('td', { class: 'num' }), np99: h('td', { class: 'num' }),
      breaker: h('td'), match: h('td', { class: 'num' }), rollout: h('td', { class: 'msg' }), gates: h('td', { class: 'gates' }),
      actions: h('td'),
    };
    const buttons = actionButtons(name);
    cells.actions.append(buttons.el);
    const tr = h('tr', { 'data-route': name }, Object.values(cells));
    return { tr, cells, buttons };
  }

  function backendCells(c, st, prefix) {
    const n = st && st.requests;
    setIf(c[prefix + 'rps'], n ? fmtRate(st.rps) : '-', () => n ? fmtRate(st.rps) : [h('span', { 'aria-hidden': 'true' }, '—'), sr('no requests')]);
    setIf(c[prefix + 'err'], n ? fmtErr(st.error_rate) : '-', () => n ? h('span', { title: `${st.errors} of ${st.requests} requests failed` }, fmtErr(st.error_rate)) : '');
    setIf(c[prefix + 'p99'], n ? fmtMs(st.p99_ms) : '-', () => n ? fmtMs(st.p99_ms) : '');
  }

  function update(s) {
    meta.textContent = `${s.routes.length} route${s.routes.length === 1 ? '' : 's'}; traffic over the last ${s.window || '—'}; state version ${s.version}` +
      (s.rollout ? `; this replica's rollout controller ${s.rollout.leader ? 'leads' : 'follows'}` : '') + '.';
    allBtn.disabled = s.routes.every((r) => r.mode === 'legacy');
    const seen = new Set();
    let i = 0;
    for (const r of s.routes) {
      seen.add(r.name);
      let row = rows.get(r.name);
      if (!row) {
        row = makeRow(r.name);
        rows.set(r.name, row);
      }
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
      i++;
      const c = row.cells;
      const st = statsOf(s, r.name);
      const ro = rolloutOf(s, r.name);
      setIf(c.name, r.name + '|' + r.target, () => [h('a', { href: `#/route/${encodeURIComponent(r.name)}` }, r.name), h('small', {}, r.target)]);
      const src = r.source === 'override' && r.override ? `override by ${r.override.who || 'someone'}` : 'project file';
      setIf(c.mode, modeText(r) + '|' + src + '|' + (r.override && r.override.reason), () => [modeEl(r),
        h('small', { title: r.override && r.override.reason ? `reason: ${r.override.reason}` : undefined }, src)]);
      backendCells(c, st && st.legacy, 'l');
      backendCells(c, st && st.new, 'n');
      setIf(c.breaker, st ? st.breaker : r.breaker, () => breakerEl(st ? st.breaker : r.breaker));
      const sh = st && st.shadow;
      const mk = sh ? `${sh.match_rate}|${sh.compared}` : '-';
      setIf(c.match, mk, () => sh && sh.compared
        ? [fmtShare(sh.match_rate), h('small', {}, `${sh.compared} compared`)]
        : [h('span', { 'aria-hidden': 'true' }, '—'), sr('no comparisons')]);
      setIf(c.rollout, ro ? `${ro.stage}|${ro.status}|${ro.message}` : '-', () => ro
        ? [h('span', {}, stageText(ro)), ' ', badge(rolloutStatusKind(ro.status), ro.status), h('small', {}, ro.message)]
        : h('span', { class: 'empty' }, 'no plan'));
      setIf(c.gates, ro ? JSON.stringify(ro.gates) : '-', () => gatesList(ro));
      row.buttons.update(r, ro);
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
    }
  }

  return { name: 'routes', title: 'Routes', el, update, destroy() {} };
}

function gatesList(ro) {
  if (!ro || !ro.gates || !ro.gates.length) return h('span', { class: 'empty' }, ro ? 'none judged' : '—');
  return h('ul', { class: 'gates' }, ro.gates.map((g) => {
    const [kind, word] = gateState(g);
    return h('li', { title: g.detail || undefined }, badge(kind, word), ' ', h('span', { class: 'g' }, g.gate),
      g.detail ? sr(`: ${g.detail}`) : '');
  }));
}

// The route page: the route's figures and rollout, its shadow report,
// a stored record in the diff viewer, and its history.
function routePage(name, recordID) {
  const summary = h('div', { class: 'panel' });
  const rolloutBox = h('div');
  const report = h('div', {}, h('p', { class: 'empty' }, 'Loading the shadow report…'));
  const recordBox = h('div', { id: 'record' });
  const history = h('div', {}, h('p', { class: 'empty' }, 'Loading the history…'));
  const buttons = actionButtons(name);
  const refresh = h('button', { type: 'button', onclick: () => loadReport() }, 'Refresh the report');
  const el = h('section', { 'aria-labelledby': 'page-h' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('ol', {},
      h('li', {}, h('a', { href: '#/' }, 'Routes')), h('li', {}, h('span', { 'aria-current': 'page' }, name)))),
    h('div', { class: 'toolbar' }, pageHeading(`Route ${name}`), buttons.el),
    summary,
    rolloutBox,
    h('section', { 'aria-labelledby': 'report-h' }, h('div', { class: 'toolbar' }, h('h2', { id: 'report-h' }, 'Shadow comparisons'), refresh), report),
    recordBox,
    h('section', { 'aria-labelledby': 'history-h' }, h('h2', { id: 'history-h' }, 'History'), history));
  let lastVersion = -1;
  let alive = true;

  function update(s) {
    const r = routeOf(s, name);
    if (!r) {
      setIf(summary, 'missing', () => h('p', { class: 'error' }, `The facade has no route ${name}.`));
      return;
    }
    const st = statsOf(s, name);
    const ro = rolloutOf(s, name);
    buttons.update(r, ro);
    setIf(summary, JSON.stringify([r, st && [st.legacy, st.new, st.breaker, st.shadow, st.fallbacks], s.window]), () => [
      h('dl', { class: 'facts' },
        h('dt', {}, 'Mode'), h('dd', {}, modeEl(r)),
        h('dt', {}, 'Set by'), h('dd', {}, r.source === 'override' && r.override
          ? `an override by ${r.override.who || 'someone'} at ${fmtTime(r.override.at)} (version ${r.override.version})${r.override.reason ? ': ' + r.override.reason : ''}; the project file says ${modeText(r.file)}`
          : 'the project file'),
        h('dt', {}, 'Target'), h('dd', { class: 'mono' }, r.target),
        h('dt', {}, 'Breaker'), h('dd', {}, breakerEl(st ? st.breaker : r.breaker)),
        h('dt', {}, 'Fallback'), h('dd', {}, r.fallback || '—'),
        r.sticky ? [h('dt', {}, 'Sticky'), h('dd', { class: 'mono' }, r.sticky)] : null),
      trafficTable(st, s.window)]);
    setIf(rolloutBox, JSON.stringify(ro || null), () => ro ? rolloutSection(ro) : null);
    if (s.version !== lastVersion) {
      lastVersion = s.version;
      loadHistory();
    }
  }

  async function loadHistory() {
    try {
      const resp = await api('GET', '/history');
      if (!alive) return;
      const entries = (resp.history || []).filter((e) => e.route === name).reverse();
      fill(history, entries.length ? historyTable(entries) : h('p', { class: 'empty' }, 'No change of this route was recorded.'));
    } catch (e) {
      if (alive) fill(history, h('p', { class: 'error' }, `GET /history: ${e.message}`));
    }
  }

  async function loadReport() {
    try {
      const resp = await api('GET', `/shadow/report?route=${encodeURIComponent(name)}&top=10&examples=3`);
      if (!alive) return;
      const rep = (resp.routes || []).find((x) => x.route === name);
      fill(report, rep ? reportView(name, rep) : h('p', { class: 'empty' }, 'No comparison of this route was recorded yet.'));
    } catch (e) {
      if (!alive) return;
      fill(report, h('p', { class: e.status === 404 ? 'empty' : 'error' },
        e.status === 404 && /no \/shadow/.test(e.message) ? 'This facade runs no shadow engine.' : `GET /shadow/report: ${e.message}`));
    }
  }

  async function loadRecord() {
    if (!recordID) return;
    fill(recordBox, h('p', { class: 'empty' }, `Loading record ${recordID}…`));
    try {
      const rec = await api('GET', `/shadow/records/${encodeURIComponent(recordID)}`);
      if (!alive) return;
      const r = state.snap && routeOf(state.snap, rec.route);
      fill(recordBox, recordView(rec, r ? r.target : ''));
    } catch (e) {
      if (alive) fill(recordBox, h('p', { class: 'error' }, `GET /shadow/records/${recordID}: ${e.message}`));
    }
  }

  loadReport();
  loadRecord();
  if (state.snap) update(state.snap);
  return {
    name: 'route', title: `Route ${name}`, el, update,
    destroy() { alive = false; },
    focusRecord: !!recordID,
  };
}

function trafficTable(st, window) {
  const row = (label, b) => h('tr', {},
    h('th', { scope: 'row' }, label),
    h('td', { class: 'num' }, b && b.requests ? fmtRate(b.rps) : '—'),
    h('td', { class: 'num' }, b ? fmtNum(b.requests) : '—'),
    h('td', { class: 'num' }, b && b.requests ? `${fmtErr(b.error_rate)} (${b.errors})` : '—'),
    h('td', { class: 'num' }, b && b.requests ? fmtMs(b.p50_ms) : '—'),
    h('td', { class: 'num' }, b && b.requests ? fmtMs(b.p99_ms) : '—'));
  const sh = st && st.shadow;
  return [
    h('table', {},
      h('caption', {}, `Traffic over the last ${window || '—'}` + (st && st.fallbacks ? `; ${st.fallbacks} requests fell back to legacy` : '')),
      h('thead', {}, h('tr', {}, ['Backend', 'req/s', 'requests', 'errors', 'p50', 'p99'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, row('legacy', st && st.legacy), row('new', st && st.new))),
    h('p', { class: 'meta' }, sh && sh.compared
      ? `Shadow over the same window: ${sh.compared} compared, ${sh.matched} matched, ${sh.diffs} differed, ${sh.errors} failed, ${sh.dropped} dropped: match rate ${fmtShare(sh.match_rate)}.`
      : 'Shadow over the same window: no comparison.'),
  ];
}

function rolloutSection(ro) {
  return h('section', { 'aria-labelledby': 'rollout-h' },
    h('h2', { id: 'rollout-h' }, 'Rollout'),
    h('p', {}, stageText(ro), ' ', badge(rolloutStatusKind(ro.status), ro.status), ' ', ro.message),
    h('ol', { class: 'stages', 'aria-label': 'Stages' }, ro.stages.map((st, i) =>
      h('li', { 'aria-current': i === ro.stage ? 'step' : undefined, class: i < ro.stage ? 'done' : undefined }, st))),
    h('p', { class: 'meta' }, `Gates judged over ${ro.window}; abort: ${ro.abort}; this stage since ${fmtTime(ro.since)}.`),
    ro.gates && ro.gates.length ? h('table', {},
      h('caption', {}, 'Gates of the current stage'),
      h('thead', {}, h('tr', {}, ['Gate', 'State', 'Value', 'Threshold', 'Detail'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ro.gates.map((g) => {
        const [kind, word] = gateState(g);
        return h('tr', {}, h('th', { scope: 'row', class: 'mono' }, g.gate), h('td', {}, badge(kind, word)),
          h('td', { class: 'num' }, g.value === undefined ? '—' : fmtNum(g.value)), h('td', { class: 'num' }, fmtNum(g.threshold)),
          h('td', {}, g.detail || ''));
      }))) : h('p', { class: 'empty' }, 'No gate is judged in this stage.'));
}

function historyTable(entries) {
  return h('table', {},
    h('caption', {}, 'Changes of this route, newest first'),
    h('thead', {}, h('tr', {}, ['When', 'Version', 'Change', 'Who', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, entries.map((e) => h('tr', {},
      h('td', {}, timeEl(e.at)),
      h('td', { class: 'num' }, String(e.version)),
      h('td', {}, e.reset ? 'reset: ' : '', `${modeText(e.from)} → ${modeText(e.to)}`, e.to.hold ? ` (${e.to.hold})` : ''),
      h('td', {}, e.who || '—'),
      h('td', {}, e.reason || '')))));
}

function reportView(name, rep) {
  const recLink = (id, label) => h('a', { href: `#/route/${encodeURIComponent(name)}/${encodeURIComponent(id)}`, 'data-record': id }, label);
  return [
    h('p', {}, `Match rate ${fmtShare(rep.match_rate)}: ${rep.compared} compared, ${rep.matched} matched, ${rep.differed} differed, ${rep.errors} failed, ${rep.dropped} dropped`,
      rep.first ? ` (from ${fmtTime(rep.first)} to ${fmtTime(rep.last)})` : '', '.'),
    rep.paths && rep.paths.length ? h('table', { id: 'top-paths' },
      h('caption', {}, 'Top differing paths, most frequent first, with example records'),
      h('thead', {}, h('tr', {}, ['Path', 'Count', 'Examples'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rep.paths.map((p) => h('tr', {},
        h('th', { scope: 'row', class: 'mono' }, p.path),
        h('td', { class: 'num' }, String(p.count)),
        h('td', {}, (p.examples || []).length ? h('ul', { class: 'gates' }, p.examples.map((x) =>
          h('li', {}, recLink(x.id, `record ${x.id}`), ' ', h('span', { class: 'g' }, `${x.path}: ${x.legacy || '(missing)'} → ${x.new || '(missing)'}`))))
          : h('span', { class: 'empty' }, 'none kept')))))) : h('p', { class: 'empty' }, 'No path differed.'),
    rep.recent_errors && rep.recent_errors.length ? [h('h3', {}, 'Recent failed comparisons'),
      h('ul', {}, rep.recent_errors.map((x) => h('li', {}, recLink(x.id, `record ${x.id}`), ` at ${fmtTime(x.at)}: `, x.error)))] : null,
    rep.noise && rep.noise.length ? [h('h3', {}, 'Noise (silenced paths)'),
      h('ul', {}, rep.noise.map((n) => h('li', {}, h('code', {}, n.path), ` seen ${n.count} times`, n.pinned ? ', pinned' : '')))] : null,
  ];
}

// ---- the sync page ----

function syncPage() {
  const box = h('div', {}, h('p', { class: 'empty' }, 'Loading…'));
  const el = h('section', { 'aria-labelledby': 'page-h' }, pageHeading('Sync pipelines'), box);
  let alive = true;
  let timer = 0;
  async function load() {
    try {
      const resp = await api('GET', '/sync/status');
      if (!alive) return;
      const list = Array.isArray(resp) ? resp : (resp && (resp.pipelines || resp.status)) || [];
      setIf(box, JSON.stringify(list), () => list.length ? syncTable(list) : h('p', { class: 'empty' }, 'No sync pipeline reports a status.'));
    } catch (e) {
      if (!alive) return;
      setIf(box, 'err' + e.status + e.message, () => e.status === 404
        ? h('p', { class: 'empty' }, 'No sync pipelines are reported by this facade.')
        : h('p', { class: 'error' }, `GET /sync/status: ${e.message}`));
    }
    if (alive) timer = setTimeout(load, 2000);
  }
  load();
  return { name: 'sync', title: 'Sync', el, destroy() { alive = false; clearTimeout(timer); } };
}

function syncTable(list) {
  const phaseKind = (p) => p === 'streaming' ? 'ok' : p === 'paused' || p === 'waiting' ? 'warn' : p === 'stopped' ? 'bad' : 'idle';
  const pos = (s) => s.direction === 'new-to-legacy' ? (s.lsn ? `LSN ${s.lsn}` : '(none)')
    : !s.position || !s.position.file ? '(none)' : `${s.position.file}:${s.position.pos}${s.position.gtid ? ` (${s.position.gtid})` : ''}`;
  return h('table', { id: 'sync-table' },
    h('caption', {}, 'Change-data sync pipelines, updated every two seconds'),
    h('thead', {}, h('tr', {}, ['Pipeline', 'Phase', 'Position', 'Lag', 'Lag (events)', 'Rows/s', 'Changes', 'Updated', 'Tables']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((s) => h('tr', {},
      h('th', { scope: 'row' }, s.pipeline, s.direction ? h('small', {}, s.direction) : null),
      h('td', {}, badge(phaseKind(s.phase), s.phase || 'unknown'), s.reason ? h('small', {}, s.reason) : null,
        s.statement ? h('small', { class: 'mono' }, s.statement) : null,
        s.todo ? h('small', {}, `To do first: ${s.todo}, then strangler sync resume ${s.pipeline}`) : null),
      h('td', { class: 'mono' }, pos(s)),
      h('td', { class: 'num' }, typeof s.lag_seconds === 'number' ? `${s.lag_seconds.toFixed(2)} s` : '—'),
      h('td', { class: 'num' }, fmtNum(s.lag_events)),
      h('td', { class: 'num' }, typeof s.rows_per_sec === 'number' ? fmtRate(s.rows_per_sec) : '—'),
      h('td', { class: 'num' }, fmtNum(s.changes)),
      h('td', {}, timeEl(s.updated_at)),
      h('td', {}, (s.tables || []).length ? h('ul', { class: 'gates' }, s.tables.map((t) => h('li', {},
        h('span', { class: 'g' }, t.table), ' ', t.phase || '', t.snapshot_done || t.phase === 'streaming' ? '' : ` ${fmtNum(t.percent)}% (${fmtNum(t.rows)} of ${fmtNum(t.total)} rows)`)))
        : h('span', { class: 'empty' }, '—'))))));
}

// ---- the catalog page ----

function catalogPage() {
  const box = h('div', {}, h('p', { class: 'empty' }, 'Loading…'));
  const el = h('section', { 'aria-labelledby': 'page-h' }, pageHeading('Catalog'), box);
  let alive = true;
  let timer = 0;
  async function load() {
    try {
      const resp = await api('GET', '/catalog');
      if (!alive) return;
      setIf(box, JSON.stringify([resp.services, resp.left, resp.unmatched]), () => catalogView(resp));
    } catch (e) {
      if (!alive) return;
      setIf(box, 'err' + e.status + e.message, () => e.status === 404
        ? h('p', { class: 'empty' }, 'This facade serves no catalog (GET /catalog answered 404).')
        : h('p', { class: 'error' }, `GET /catalog: ${e.message}`));
    }
    if (alive) timer = setTimeout(load, 5000);
  }
  load();
  return { name: 'catalog', title: 'Catalog', el, destroy() { alive = false; clearTimeout(timer); } };
}

function sloEl(slo) {
  if (!slo) return h('span', { class: 'empty' }, 'no objective');
  const word = slo.met === true ? ['ok', 'met'] : slo.met === false ? ['bad', 'missed'] : ['idle', 'unjudged'];
  const goal = [slo.availability ? `availability ${fmtNum(slo.availability)}%` : '', slo.p99_ms ? `p99 ${fmtMs(slo.p99_ms)}` : ''].filter(Boolean).join(', ');
  return h('span', {}, badge(word[0], word[1]), ` ${goal} over ${slo.window}`, h('small', {}, slo.detail));
}

function catalogView(c) {
  const services = c.services || [];
  return [
    h('p', { class: 'meta' }, `${services.length} service${services.length === 1 ? '' : 's'}, as of ${fmtTime(c.at)}.`),
    services.map((s, i) => h('section', { class: 'panel', 'aria-labelledby': `svc-${i}` },
      h('h2', { id: `svc-${i}` }, s.name ? `Service ${s.name}` : 'Routes of no service'),
      s.name ? h('dl', { class: 'facts' },
        h('dt', {}, 'Owner'), h('dd', {}, s.owner || '—'),
        h('dt', {}, 'Recipe'), h('dd', { class: 'mono' }, s.recipe || 'run elsewhere'),
        s.listen ? [h('dt', {}, 'Listens on'), h('dd', { class: 'mono' }, s.listen)] : null,
        h('dt', {}, 'Tables'), h('dd', {}, (s.tables || []).length ? s.tables.map((t) => {
          const sy = (s.sync || []).find((x) => x.table === t);
          return h('span', { class: 'mono' }, t, sy ? ` (from ${sy.source} by ${sy.pipeline})` : '', ' ');
        }) : '—'),
        h('dt', {}, 'Objective'), h('dd', {}, sloEl(s.slo))) : null,
      h('table', {},
        h('caption', {}, `Routes of ${s.name || 'no service'}`),
        h('thead', {}, h('tr', {}, ['Route', 'Mode', 'Path', 'Methods', 'Owner', 'Objective'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, (s.routes || []).map((r) => h('tr', {},
          h('th', { scope: 'row' }, h('a', { href: `#/route/${encodeURIComponent(r.name)}` }, r.name)),
          h('td', {}, modeEl(r)),
          h('td', { class: 'mono' }, r.path || '—'),
          h('td', {}, (r.methods || []).join(', ') || 'all'),
          h('td', {}, r.owner || '—'),
          h('td', {}, sloEl(r.slo)))))))),
    h('h2', {}, 'Left on legacy'),
    (c.left || []).length ? h('table', {},
      h('caption', {}, 'Routes legacy still answers, wholly or in part'),
      h('thead', {}, h('tr', {}, ['Route', 'Service', 'Mode', 'Legacy share', 'Path', 'Methods'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, c.left.map((l) => h('tr', {},
        h('th', { scope: 'row' }, l.route), h('td', {}, l.service || '—'), h('td', {}, l.mode),
        h('td', { class: 'num' }, `${fmtNum(l.legacy_percent)}%`), h('td', { class: 'mono' }, l.path || '—'),
        h('td', {}, (l.methods || []).join(', ') || 'all'))))) : h('p', { class: 'empty' }, 'Every route is served by the new services.'),
    c.unmatched ? h('p', { class: 'meta' }, `Unmatched traffic (legacy answers it) over the last ${c.window}: ${fmtRate(c.unmatched.rps)} req/s, ${fmtErr(c.unmatched.error_rate)} errors, p99 ${fmtMs(c.unmatched.p99_ms)}.`) : null,
  ];
}

// ---- the router: #/, #/route/NAME[/RECORD], #/sync, #/catalog ----

function notFoundPage(hash) {
  const el = h('section', { 'aria-labelledby': 'page-h' }, pageHeading('No such page'),
    h('p', {}, `The dashboard has no page ${hash}. `, h('a', { href: '#/' }, 'See the routes.')));
  return { name: '', title: 'No such page', el, destroy() {} };
}

export { routesPage, routePage, syncPage, catalogPage, notFoundPage };
