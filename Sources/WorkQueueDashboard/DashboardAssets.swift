/// The web dashboard's page, embedded in the binary: no CDN, no build step, no external asset.
/// The script sets every text it shows from the JSON with `textContent` (never `innerHTML`),
/// so item bytes, errors and worker names are always shown as text; the server's
/// Content-Security-Policy allows scripts and styles from these paths only.
enum DashboardAssets {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>workqueue dashboard</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<header class="top">
  <div class="brand"><img src="/favicon.svg" alt="" width="22" height="22"><span>workqueue</span><span class="sub">dashboard</span></div>
  <div id="status" class="status" role="status">connecting…</div>
  <form id="token-form" class="token" autocomplete="off">
    <span id="actions-state" class="actions-state"></span>
    <input id="token" type="password" placeholder="token for actions" aria-label="token for actions">
    <button type="submit" id="token-use">Use token</button>
    <button type="button" id="token-forget" class="quiet">Forget</button>
  </form>
</header>
<div id="notice" class="notice" role="alert" hidden></div>
<main id="queues"></main>
<footer>Read from Redis once per refresh interval whatever the number of viewers · items shown as text, invalid bytes as \xNN</footer>
<script src="/dashboard.js"></script>
</body>
</html>
"""#

    static let icon = #"""
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2563eb"/><rect x="7" y="8" width="18" height="4" rx="2" fill="#fff"/><rect x="7" y="14" width="13" height="4" rx="2" fill="#bfdbfe"/><rect x="7" y="20" width="8" height="4" rx="2" fill="#93c5fd"/></svg>
"""#

    static let style = #"""
:root {
  --bg: #f4f6fa; --card: #fff; --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb;
  --blue: #2563eb; --green: #16a34a; --amber: #d97706; --red: #dc2626; --violet: #7c3aed; --slate: #475569;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; background: var(--bg); color: var(--ink); }
.top { display: flex; align-items: center; gap: 18px; padding: 10px 22px; background: #111827; color: #f9fafb; position: sticky; top: 0; z-index: 2; }
.brand { display: flex; align-items: center; gap: 8px; font-weight: 650; font-size: 17px; }
.brand .sub { color: #9ca3af; font-weight: 400; }
.status { color: #d1d5db; font-size: 13px; flex: 1; }
.status.bad { color: #fca5a5; }
.token { display: flex; gap: 6px; align-items: center; }
.token input { background: #1f2937; border: 1px solid #374151; color: #f9fafb; border-radius: 6px; padding: 5px 8px; width: 170px; }
.actions-state { font-size: 12px; color: #9ca3af; margin-right: 4px; }
.actions-state.on { color: #86efac; }
button { font: inherit; font-size: 13px; border-radius: 6px; border: 1px solid #cbd5e1; background: #fff; color: var(--ink); padding: 4px 10px; cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--blue); color: var(--blue); }
button:disabled { opacity: .45; cursor: not-allowed; }
.top button { background: #1f2937; color: #e5e7eb; border-color: #374151; }
button.danger:hover:not(:disabled) { border-color: var(--red); color: var(--red); }
.notice { margin: 14px 22px 0; padding: 9px 14px; border-radius: 8px; background: #ecfdf5; border: 1px solid #a7f3d0; color: #065f46; }
.notice.error { background: #fef2f2; border-color: #fecaca; color: #991b1b; }
main { padding: 16px 22px; display: grid; gap: 18px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 16px 18px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.card-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.card-head h2 { margin: 0; font-size: 19px; font-weight: 650; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 999px; background: #eef2ff; color: #3730a3; border: 1px solid #e0e7ff; }
.badge.ok { background: #ecfdf5; color: #166534; border-color: #bbf7d0; }
.badge.warn { background: #fffbeb; color: #92400e; border-color: #fde68a; }
.badge.bad { background: #fef2f2; color: #991b1b; border-color: #fecaca; }
.badge.paused { background: #f59e0b; color: #fff; border-color: #d97706; font-weight: 650; }
.badge.cancelled { background: #dc2626; color: #fff; border-color: #b91c1c; font-weight: 650; }
.card-head .controls { margin-left: auto; display: flex; gap: 6px; }
.step { display: flex; align-items: center; gap: 6px; margin: 1px 0 4px; font-size: 12px; color: var(--muted); }
.step .pbar { width: 90px; height: 6px; background: #e5e7eb; border-radius: 99px; overflow: hidden; flex: none; }
.step .pbar > span { display: block; height: 100%; background: var(--green); }
.step .pct { width: 36px; text-align: right; font-variant-numeric: tabular-nums; color: var(--ink); flex: none; }
.step .note { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.tiles { display: grid; grid-template-columns: repeat(6, minmax(110px, 1fr)); gap: 10px; margin: 14px 0 10px; }
.tile { border: 1px solid var(--line); border-radius: 10px; padding: 8px 12px; border-top: 3px solid var(--c, var(--slate)); }
.tile .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.tile .value { font-size: 26px; font-weight: 650; font-variant-numeric: tabular-nums; }
.tile .hint { color: var(--muted); font-size: 12px; }
.progress { display: flex; align-items: center; gap: 14px; margin: 4px 0 8px; color: var(--muted); }
.bar { flex: 1; height: 8px; border-radius: 99px; background: #e5e7eb; overflow: hidden; }
.bar > span { display: block; height: 100%; background: linear-gradient(90deg, #22c55e, #16a34a); }
.rate { font-variant-numeric: tabular-nums; white-space: nowrap; }
.rate b { color: var(--ink); }
.chart { width: 100%; height: 130px; display: block; background: #fafbfc; border: 1px solid var(--line); border-radius: 8px; }
.legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin: 4px 2px 0; }
.legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle; margin-right: 4px; border-radius: 2px; }
h3 { font-size: 14px; margin: 18px 0 6px; display: flex; align-items: center; gap: 10px; }
h3 .spacer { flex: 1; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th { text-align: left; color: var(--muted); font-weight: 550; font-size: 12px; border-bottom: 1px solid var(--line); padding: 5px 8px; }
td { border-bottom: 1px solid #f1f5f9; padding: 6px 8px; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.item { font-family: ui-monospace, "SFMono-Regular", Menlo, "DejaVu Sans Mono", monospace; font-size: 12.5px; white-space: pre-wrap; word-break: break-all; }
.cut { color: var(--muted); font-size: 11px; margin-left: 4px; }
.error-text { color: #991b1b; white-space: pre-wrap; word-break: break-word; max-width: 420px; }
.muted { color: var(--muted); }
.lease { display: flex; align-items: center; gap: 8px; margin: 2px 0; }
.lease .item { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.ttl { width: 70px; height: 6px; background: #e5e7eb; border-radius: 99px; overflow: hidden; flex: none; }
.ttl > span { display: block; height: 100%; background: var(--blue); }
.ttl-text { width: 52px; text-align: right; font-variant-numeric: tabular-nums; color: var(--muted); font-size: 12px; flex: none; }
.who b { font-weight: 600; }
.who .muted { font-size: 12px; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; color: var(--muted); font-size: 12px; }
.empty { color: var(--muted); padding: 6px 8px; }
.error-box { margin-top: 10px; padding: 8px 12px; border-radius: 8px; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; white-space: pre-wrap; }
footer { color: var(--muted); font-size: 12px; padding: 0 22px 22px; }
@media (max-width: 900px) { .tiles { grid-template-columns: repeat(3, 1fr); } .token input { width: 110px; } }
"""#

    static let script = #"""
'use strict';
(function () {
  var state = {
    token: sessionStorage.getItem('workqueue-dashboard-token') || '',
    snapshot: null,
    views: {},      // queue -> { shard, start, page }
    rendered: {},   // queue -> { section: key } to re-render only what changed
    failures: 0
  };
  var byId = function (id) { return document.getElementById(id); };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attributes) {
    var node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, String(attributes[key])); });
    return node;
  }
  function number(n) { return (n || 0).toLocaleString('en-US'); }
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return '—';
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
    if (h > 0) return h + 'h' + String(m).padStart(2, '0') + 'm';
    if (m > 0) return m + 'm' + String(r).padStart(2, '0') + 's';
    return r + 's';
  }
  function itemNode(item, className) {
    var span = el('span', 'item' + (className ? ' ' + className : ''));
    if (item.text === null || item.text === undefined) {
      span.textContent = item.size < 0 ? '(no preview recorded, and too large to read here: workqueue dead list shows it)'
        : '(' + number(item.size) + ' bytes, too long to preview)';
      span.classList.add('muted');
      return span;
    }
    span.textContent = item.text;
    span.title = item.text;
    if (item.cut) span.appendChild(el('span', 'cut', '… ' + number(item.size) + ' bytes'));
    return span;
  }

  function notice(text, isError) {
    var box = byId('notice');
    box.textContent = text;
    box.className = 'notice' + (isError ? ' error' : '');
    box.hidden = false;
    clearTimeout(notice.timer);
    notice.timer = setTimeout(function () { box.hidden = true; }, isError ? 12000 : 6000);
  }

  // Actions: POST with the token; the server refuses them without it.
  function act(action, body, label, path) {
    var headers = { 'Content-Type': 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    return fetch((path || '/api/dead/') + action, { method: 'POST', headers: headers, body: JSON.stringify(body), cache: 'no-store' })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (reply) {
          if (!response.ok) throw new Error(reply.error || (label + ' failed: HTTP ' + response.status));
          notice(reply.message || (label + ': done'), false);
        });
      })
      .catch(function (error) { notice(label + ' refused: ' + error.message, true); })
      .then(function () { state.views = {}; refresh(); });
  }

  function tile(label, value, hint, color, key) {
    var box = el('div', 'tile');
    box.style.setProperty('--c', color);
    box.appendChild(el('div', 'label', label));
    var v = el('div', 'value', number(value));
    v.dataset.count = key;
    box.appendChild(v);
    box.appendChild(el('div', 'hint', hint || '\u00a0'));
    return box;
  }

  function renderBadges(queue) {
    var head = el('div', 'card-head');
    head.appendChild(el('h2', null, queue.name));
    var add = function (text, kind) { head.appendChild(el('span', 'badge' + (kind ? ' ' + kind : ''), text)); };
    if (queue.error) { add('Redis error', 'bad'); return head; }
    if (queue.shards > 1) add(queue.shards + ' shards');
    var control = queue.control || { paused: false, cancelled: false, cancelled_items: 0 };
    if (control.cancelled) { /* the cancelled badge says it */ } else if (queue.drained) add(queue.workers_exited ? 'drained · workers exited' : 'drained', 'ok');
    else if (!control.paused && !control.cancelled) add('working', null);
    if (queue.holds > 0) add('open: ' + queue.holds + ' hold' + (queue.holds === 1 ? '' : 's'), 'warn');
    if (queue.counts.expired > 0) add(number(queue.counts.expired) + ' awaiting recovery', 'warn');
    if (control.cancelled) add('cancelled · ' + number(control.cancelled_items) + ' item' + (control.cancelled_items === 1 ? '' : 's') + ' aside', 'cancelled');
    else if (control.cancelled_items > 0) add(number(control.cancelled_items) + ' item' + (control.cancelled_items === 1 ? '' : 's') + ' aside', 'warn');
    if (control.paused) add('paused', 'paused');
    // Pause or Resume, and Cancel (asks first): token-protected like the dead-letter actions.
    var enabled = state.snapshot && state.snapshot.actions.enabled;
    var controls = el('span', 'controls');
    var button = function (action, text, className, title, confirmText) {
      var b = el('button', className, text);
      b.dataset.action = action;
      b.disabled = !enabled;
      b.title = enabled ? title : 'actions need the dashboard to run with --token-file';
      b.addEventListener('click', function () {
        if (confirmText && !confirm(confirmText)) return;
        act(action, { queue: queue.name }, text, '/api/queue/');
      });
      controls.appendChild(b);
    };
    if (control.paused || control.cancelled) button('resume', 'Resume', null, 'let the workers take items again');
    else button('pause', 'Pause', null, 'workers take no new items; items in flight finish');
    if (!control.cancelled) {
      button('cancel', 'Cancel', 'danger', 'end the job: move pending items aside and stop every worker',
             'Cancel ' + queue.name + '? Its ' + number(queue.counts.pending + queue.counts.scheduled) + ' pending and scheduled items are moved aside '
             + '(to ' + queue.name + ':cancelled, restorable), handlers in flight are cancelled and every worker exits.');
    }
    head.appendChild(controls);
    return head;
  }

  function renderTiles(queue) {
    var c = queue.counts;
    var tiles = el('div', 'tiles');
    tiles.appendChild(tile('Pending', c.pending, 'waiting', 'var(--blue)', 'pending'));
    tiles.appendChild(tile('In flight', c.in_flight, 'live leases', 'var(--violet)', 'in_flight'));
    tiles.appendChild(tile('Scheduled', c.scheduled, 'retries and delayed pushes due later', 'var(--amber)', 'scheduled'));
    tiles.appendChild(tile('Dead', c.dead, 'out of attempts', 'var(--red)', 'dead'));
    // The completion records `workqueue results` exports, and what --results-max dropped.
    var r = queue.results;
    var recorded = r ? number(r.kept) + ' results kept' + (r.dropped > 0 ? ', ' + number(r.dropped) + ' dropped' : '') : 'so far';
    tiles.appendChild(tile('Completed', c.completed, recorded, 'var(--green)', 'completed'));
    tiles.appendChild(tile('Workers', c.workers, 'live heartbeats', 'var(--slate)', 'workers'));
    return tiles;
  }

  function renderProgress(queue) {
    var row = el('div', 'progress');
    var history = queue.history || [];
    var c = queue.counts;
    var left = c.pending + c.processing + c.scheduled;
    var done = history.length ? Math.max(0, history[history.length - 1][1] - history[0][1]) : 0;
    var bar = el('div', 'bar');
    var fill = el('span');
    var fraction = done + left === 0 ? 1 : done / (done + left);
    fill.style.width = (fraction * 100).toFixed(1) + '%';
    bar.appendChild(fill);
    row.appendChild(bar);
    var rate = el('span', 'rate');
    rate.appendChild(el('b', null, queue.rate_per_s === null || queue.rate_per_s === undefined ? '—' : queue.rate_per_s.toFixed(1)));
    rate.appendChild(document.createTextNode(' items/s · ETA '));
    var eta = el('b', null, left === 0 ? 'done' : duration(queue.eta_s));
    eta.dataset.eta = '1';
    rate.appendChild(eta);
    rate.appendChild(document.createTextNode(' · ' + number(left) + ' left'));
    row.appendChild(rate);
    return row;
  }

  // The chart: items left (pending + in flight + scheduled) as an area, and the throughput per
  // second between refreshes as a line on its own scale.
  function renderChart(queue) {
    var wrap = el('div');
    var width = 1000, height = 130, pad = 6;
    var chart = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, preserveAspectRatio: 'none', class: 'chart', role: 'img',
                             'aria-label': 'items left and throughput over the last minutes' });
    var h = (queue.history || []).slice(-300);
    if (h.length >= 2) {
      var t0 = h[0][0], t1 = h[h.length - 1][0], span = Math.max(1, t1 - t0);
      var x = function (t) { return pad + (t - t0) / span * (width - 2 * pad); };
      var left = h.map(function (s) { return s[2] + s[3] + s[4]; });
      var maxLeft = Math.max.apply(null, left.concat([1]));
      // Done per second over the last 5 s at each sample (a smoother line than sample to sample).
      var rates = h.map(function (s, i) {
        var j = i;
        while (j > 0 && s[0] - h[j - 1][0] <= 5000) j--;
        var dt = (s[0] - h[j][0]) / 1000;
        return dt > 0 ? Math.max(0, s[1] - h[j][1]) / dt : 0;
      });
      var maxRate = Math.max.apply(null, rates.concat([1]));
      var y = function (v, max) { return height - pad - v / max * (height - 2 * pad); };
      for (var g = 1; g < 4; g++) {
        chart.appendChild(svg('line', { x1: 0, x2: width, y1: g * height / 4, y2: g * height / 4, stroke: '#eef0f3', 'stroke-width': 1 }));
      }
      var area = 'M' + x(h[0][0]) + ',' + (height - pad);
      h.forEach(function (s, i) { area += ' L' + x(s[0]).toFixed(1) + ',' + y(left[i], maxLeft).toFixed(1); });
      area += ' L' + x(t1) + ',' + (height - pad) + ' Z';
      chart.appendChild(svg('path', { d: area, fill: 'rgba(37,99,235,.14)', stroke: '#2563eb', 'stroke-width': 1.5,
                                      'vector-effect': 'non-scaling-stroke' }));
      var line = '';
      h.forEach(function (s, i) { line += (i ? ' L' : 'M') + x(s[0]).toFixed(1) + ',' + y(rates[i], maxRate).toFixed(1); });
      chart.appendChild(svg('path', { d: line, fill: 'none', stroke: '#16a34a', 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke' }));
      var legend = el('div', 'legend');
      var key = function (color, text) { var s = el('span'); var i = el('i'); i.style.background = color; s.appendChild(i); s.appendChild(document.createTextNode(text)); legend.appendChild(s); };
      key('#2563eb', 'left (max ' + number(maxLeft) + ')');
      key('#16a34a', 'done per second (max ' + maxRate.toFixed(1) + ')');
      legend.appendChild(el('span', null, 'last ' + duration(span / 1000)));
      wrap.appendChild(chart);
      wrap.appendChild(legend);
    } else {
      wrap.appendChild(chart);
      wrap.appendChild(el('div', 'legend', 'the chart fills as the page refreshes'));
    }
    return wrap;
  }

  // A handler's progress: a small bar, the percentage and its note (user text: textContent only).
  function progressNode(progress) {
    var row = el('div', 'step');
    row.dataset.progress = progress.item;
    var bar = el('div', 'pbar'); var fill = el('span');
    var fraction = Math.min(1, Math.max(0, Number(progress.fraction) || 0));
    fill.style.width = (fraction * 100).toFixed(1) + '%';
    bar.appendChild(fill);
    row.appendChild(bar);
    row.appendChild(el('span', 'pct', Math.floor(fraction * 100) + '%'));
    var note = el('span', 'note', progress.note);
    note.title = progress.note;
    row.appendChild(note);
    return row;
  }

  function leaseNodes(leases, cell, progress) {
    var shown = {};
    leases.slice(0, 6).forEach(function (lease) { if (lease.progress) shown[lease.progress.item] = true; });
    // Progress of items whose lease is not listed (or not matched) comes under the leases.
    var rest = (progress || []).filter(function (p) { return !shown[p.item]; }).slice(0, 6);
    if (!leases.length && !rest.length) { cell.appendChild(el('span', 'muted', '—')); return; }
    leases.slice(0, 6).forEach(function (lease) {
      var row = el('div', 'lease');
      row.appendChild(itemNode(lease.item));
      var ttl = el('div', 'ttl'); var fill = el('span');
      fill.style.width = Math.min(100, Math.max(0, lease.seconds_left / 30 * 100)).toFixed(0) + '%';
      ttl.appendChild(fill);
      row.appendChild(ttl);
      row.appendChild(el('span', 'ttl-text', lease.seconds_left.toFixed(1) + 's'));
      cell.appendChild(row);
      if (lease.progress) cell.appendChild(progressNode(lease.progress));
    });
    if (leases.length > 6) cell.appendChild(el('div', 'muted', '… and ' + (leases.length - 6) + ' more'));
    rest.forEach(function (p) {
      var row = el('div', 'lease');
      row.appendChild(el('span', 'item', p.item));
      cell.appendChild(row);
      cell.appendChild(progressNode(p));
    });
  }

  function renderWorkers(queue) {
    var box = el('div');
    var title = el('h3', null, 'Workers (' + number(queue.counts.workers) + ')');
    box.appendChild(title);
    if (!queue.workers.length && !queue.unrecorded.length) { box.appendChild(el('div', 'empty', 'no live worker')); return box; }
    var table = el('table');
    var head = el('tr');
    ['worker', 'in flight / held', 'completed', 'failed', 'seen', 'leases (time left, progress)'].forEach(function (text, i) {
      head.appendChild(el('th', i >= 1 && i <= 4 ? 'num' : null, text));
    });
    table.appendChild(head);
    queue.workers.forEach(function (w) {
      var tr = el('tr');
      var who = el('td', 'who');
      who.appendChild(el('b', null, w.host));
      who.appendChild(document.createTextNode(' · ' + w.handler));
      who.appendChild(el('div', 'muted', w.session));
      tr.appendChild(who);
      tr.appendChild(el('td', 'num', w.in_flight + ' / ' + w.held));
      tr.appendChild(el('td', 'num', number(w.completed)));
      tr.appendChild(el('td', 'num', number(w.failed)));
      tr.appendChild(el('td', 'num', w.last_seen_s.toFixed(1) + 's ago'));
      var leases = el('td');
      leaseNodes(w.leases, leases, w.progress);
      tr.appendChild(leases);
      table.appendChild(tr);
    });
    queue.unrecorded.forEach(function (u) {
      var tr = el('tr');
      var who = el('td', 'who');
      who.appendChild(el('b', null, 'no live record'));
      who.appendChild(el('div', 'muted', u.session));
      tr.appendChild(who);
      for (var i = 0; i < 4; i++) tr.appendChild(el('td', 'num muted', '—'));
      var leases = el('td');
      leaseNodes(u.leases, leases);
      tr.appendChild(leases);
      table.appendChild(tr);
    });
    box.appendChild(table);
    return box;
  }

  function currentDeadPage(queue) {
    var view = state.views[queue.name] || { shard: 0, start: 0 };
    if (view.start > 0 && view.page) return view.page;
    var page = (queue.dead || []).filter(function (p) { return p.shard === view.shard; })[0];
    return page || (queue.dead || [])[0] || { shard: 0, total: 0, start: 0, letters: [], next: null };
  }

  function renderDead(queue) {
    var box = el('div');
    var page = currentDeadPage(queue);
    var title = el('h3', null, 'Dead letters (' + number(queue.counts.dead) + ')');
    title.appendChild(el('span', 'spacer'));
    var enabled = state.snapshot && state.snapshot.actions.enabled;
    var retryAll = el('button', null, 'Retry all');
    retryAll.dataset.action = 'retry-all';
    retryAll.disabled = !enabled || queue.counts.dead === 0;
    retryAll.addEventListener('click', function () {
      if (confirm('Move all ' + queue.counts.dead + ' dead letters of ' + queue.name + ' back to pending?')) act('retry-all', { queue: queue.name }, 'Retry all');
    });
    var purge = el('button', 'danger', 'Purge');
    purge.dataset.action = 'purge';
    purge.disabled = !enabled || queue.counts.dead === 0;
    purge.addEventListener('click', function () {
      if (confirm('Delete all ' + queue.counts.dead + ' dead letters of ' + queue.name + '? This cannot be undone.')) act('purge', { queue: queue.name }, 'Purge');
    });
    title.appendChild(retryAll);
    title.appendChild(purge);
    box.appendChild(title);
    if (!page.letters.length) { box.appendChild(el('div', 'empty', 'no dead letter')); return box; }
    var table = el('table');
    table.className = 'dead';
    var head = el('tr');
    ['#', 'item', 'size', 'attempts', 'last error', ''].forEach(function (text, i) { head.appendChild(el('th', i === 2 || i === 3 ? 'num' : null, text)); });
    table.appendChild(head);
    page.letters.forEach(function (letter) {
      var tr = el('tr');
      tr.dataset.digest = letter.digest;
      tr.appendChild(el('td', 'muted', letter.index + 1));
      var item = el('td');
      item.appendChild(itemNode(letter.item, 'dead-item'));
      tr.appendChild(item);
      tr.appendChild(el('td', 'num', letter.item.size < 0 ? '?' : number(letter.item.size)));
      tr.appendChild(el('td', 'num', letter.attempts === null || letter.attempts === undefined ? '…' : letter.attempts));
      tr.appendChild(el('td', 'error-text', letter.error || ''));
      var cell = el('td');
      var retry = el('button', null, 'Retry');
      retry.dataset.action = 'retry';
      retry.disabled = !enabled;
      retry.title = enabled ? 'move it back to pending' : 'actions need the dashboard to run with --token-file';
      retry.addEventListener('click', function () {
        act('retry', { queue: queue.name, shard: page.shard, index: letter.index, digest: letter.digest }, 'Retry');
      });
      cell.appendChild(retry);
      tr.appendChild(cell);
      table.appendChild(tr);
    });
    box.appendChild(table);
    var pager = el('div', 'pager');
    var first = page.start + 1, last = page.start + page.letters.length;
    pager.appendChild(el('span', null, first + '–' + last + ' of ' + number(page.total) + (queue.shards > 1 ? ' in shard ' + page.shard : '')));
    var prev = el('button', null, '‹ Previous');
    prev.disabled = page.start === 0;
    prev.addEventListener('click', function () { showDead(queue.name, page.shard, Math.max(0, page.start - 20)); });
    var next = el('button', null, 'Next ›');
    next.disabled = page.next === null || page.next === undefined;
    next.addEventListener('click', function () { showDead(queue.name, page.shard, page.next); });
    pager.appendChild(prev);
    pager.appendChild(next);
    if (queue.shards > 1) {
      (queue.dead || []).forEach(function (p) {
        if (p.shard === page.shard) return;
        var b = el('button', null, 'shard ' + p.shard + ' (' + p.total + ')');
        b.addEventListener('click', function () { showDead(queue.name, p.shard, 0); });
        pager.appendChild(b);
      });
    }
    box.appendChild(pager);
    return box;
  }

  function showDead(name, shard, start) {
    if (start === 0) {
      state.views[name] = { shard: shard, start: 0 };
      render(state.snapshot, true);
      return;
    }
    fetch('/api/dead?queue=' + encodeURIComponent(name) + '&shard=' + shard + '&start=' + start, { cache: 'no-store' })
      .then(function (r) { return r.json(); })
      .then(function (page) {
        if (page.error) throw new Error(page.error);
        state.views[name] = { shard: shard, start: start, page: page };
        render(state.snapshot, true);
      })
      .catch(function (error) { notice('Reading the dead letters failed: ' + error.message, true); });
  }

  // One card per queue; each section is rebuilt only when its data changed, so that a click or
  // a selection survives the refreshes.
  function render(snapshot, force) {
    var main = byId('queues');
    var seen = {};
    snapshot.queues.forEach(function (queue) {
      seen[queue.name] = true;
      var card = main.querySelector('section[data-queue="' + CSS.escape(queue.name) + '"]');
      if (!card) {
        card = el('section', 'card');
        card.dataset.queue = queue.name;
        ['head', 'tiles', 'progress', 'chart', 'workers', 'dead', 'error'].forEach(function (part) {
          var div = el('div'); div.dataset.part = part; card.appendChild(div);
        });
        main.appendChild(card);
        state.rendered[queue.name] = {};
      }
      var done = state.rendered[queue.name];
      var update = function (part, key, build) {
        if (!force && done[part] === key) return;
        done[part] = key;
        var slot = card.querySelector('[data-part="' + part + '"]');
        slot.replaceChildren();
        var node = build();
        if (node) slot.appendChild(node);
      };
      if (queue.error) {
        update('head', 'error', function () { return renderBadges(queue); });
        update('error', queue.error, function () { return el('div', 'error-box', 'Reading this queue failed: ' + queue.error); });
        return;
      }
      update('error', '', function () { return null; });
      update('head', JSON.stringify([queue.drained, queue.workers_exited, queue.holds, queue.counts.expired, queue.shards, queue.control,
                                     snapshot.actions.enabled, queue.counts.pending + queue.counts.scheduled]), function () { return renderBadges(queue); });
      update('tiles', JSON.stringify(queue.counts), function () { return renderTiles(queue); });
      update('progress', JSON.stringify([queue.counts, queue.rate_per_s, queue.eta_s]), function () { return renderProgress(queue); });
      update('chart', String(snapshot.generated_ms), function () { return renderChart(queue); });
      update('workers', JSON.stringify([queue.workers, queue.unrecorded, queue.counts.workers]), function () { return renderWorkers(queue); });
      update('dead', JSON.stringify([queue.dead, queue.counts.dead, state.views[queue.name], snapshot.actions.enabled]), function () { return renderDead(queue); });
    });
    Array.prototype.slice.call(main.children).forEach(function (card) { if (!seen[card.dataset.queue]) card.remove(); });
  }

  function renderHeader(snapshot) {
    var status = byId('status');
    status.className = 'status';
    var time = new Date(snapshot.generated_ms).toLocaleTimeString();
    status.textContent = snapshot.queues.length + ' queue' + (snapshot.queues.length === 1 ? '' : 's') + ' · updated ' + time
      + ' · every ' + (snapshot.interval_ms / 1000) + ' s';
    var actions = byId('actions-state');
    if (!snapshot.actions.enabled) {
      actions.textContent = 'read-only (no --token-file)';
      actions.className = 'actions-state';
    } else {
      actions.textContent = state.token ? 'actions: token set' : 'actions need the token';
      actions.className = 'actions-state' + (state.token ? ' on' : '');
    }
  }

  var timer = null;
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }
  function refresh() {
    fetch('/api/snapshot', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (snapshot) {
        var enabledChanged = !state.snapshot || state.snapshot.actions.enabled !== snapshot.actions.enabled;
        state.snapshot = snapshot;
        state.failures = 0;
        renderHeader(snapshot);
        render(snapshot, enabledChanged);
        var view;
        Object.keys(state.views).forEach(function (name) {
          view = state.views[name];
          if (view.start > 0) showDead(name, view.shard, view.start);
        });
        schedule(snapshot.interval_ms);
      })
      .catch(function (error) {
        state.failures += 1;
        var status = byId('status');
        status.className = 'status bad';
        status.textContent = 'cannot reach the dashboard server (' + error.message + '); retrying';
        schedule(Math.min(10000, 1000 * state.failures));
      });
  }

  byId('token').value = state.token;
  byId('token-form').addEventListener('submit', function (event) {
    event.preventDefault();
    state.token = byId('token').value.trim();
    if (state.token) sessionStorage.setItem('workqueue-dashboard-token', state.token);
    else sessionStorage.removeItem('workqueue-dashboard-token');
    notice(state.token ? 'Token set for this tab: actions will present it.' : 'Token cleared.', false);
    if (state.snapshot) renderHeader(state.snapshot);
  });
  byId('token-forget').addEventListener('click', function () {
    state.token = '';
    byId('token').value = '';
    sessionStorage.removeItem('workqueue-dashboard-token');
    notice('Token forgotten.', false);
    if (state.snapshot) renderHeader(state.snapshot);
  });
  refresh();
})();
"""#
}
