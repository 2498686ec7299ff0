// The bulwark status page: renders StatusSnapshot documents (bulwarkhttp) and keeps them
// live over server-sent events. Every name and number goes into the DOM by textContent.
(() => {
  'use strict';

  const base = location.pathname; // the handler answers every path alike
  const maxChanges = 30;
  const stateOrder = ['open', 'forced_open', 'half_open', 'metrics_only', 'disabled', 'closed'];

  const ui = {
    filter: '',
    snap: null,      // the latest snapshot
    received: 0,     // Date.now() when it arrived
    rates: new Map(), // limiter name -> {admitted, rejected} per second
    changes: [],
    busy: false,     // a control request is in flight
  };

  // --- formatting -------------------------------------------------------------------
  const int = (n) => Number(n).toLocaleString('en-US');
  const fixed = (x, d) => Number(x).toFixed(d);
  const pct = (r) => fixed(100 * r, 1) + '%';
  const perSec = (x) => (x == null ? '–' : x < 10 ? fixed(x, 1) : int(Math.round(x)));
  const span = (ms) => {
    let s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    let m = Math.floor(s / 60); s %= 60;
    if (m < 60) return m + 'm ' + s + 's';
    let h = Math.floor(m / 60); m %= 60;
    if (h < 48) return h + 'h ' + m + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  };
  const clock = (t) => new Date(t).toLocaleTimeString('en-GB', { hour12: false });
  // serverNow estimates the server's clock now, from the latest snapshot.
  const serverNow = () => Date.parse(ui.snap.at) + (Date.now() - ui.received);

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  const setText = (node, text) => {
    if (node.textContent !== text) node.textContent = text;
  };

  // --- the tables -------------------------------------------------------------------
  // A column: label, value (for sorting), and render(td, row) which fills its cell.
  const text = (label, value, show) => ({
    label, value, render: (td, r) => setText(td, show ? show(r) : int(value(r))),
  });
  const nameCol = {
    label: 'Name', value: (r) => r.name, cls: 'name',
    render: (td, r) => { setText(td, r.name); td.title = r.name; },
  };

  const breakerFailures = (r) => {
    if (r.window_calls > 0) return r.failure_rate;
    return r.consecutive_failures;
  };
  const breakerCols = [
    nameCol,
    {
      label: 'State', value: (r) => stateOrder.indexOf(r.state), cls: 'state',
      render: (td, r) => {
        let b = td.firstChild;
        if (!b) { b = el('span'); td.appendChild(b); }
        b.className = 'badge state-' + r.state;
        setText(b, r.state.replace('_', ' '));
        b.dataset.state = r.state;
      },
    },
    text('Failures', breakerFailures, (r) => {
      if (r.window_calls > 0) return pct(r.failure_rate) + ' of ' + int(r.window_calls);
      if (r.consecutive_failures > 0) return int(r.consecutive_failures) + ' in a row';
      return '–';
    }),
    text('Calls', (r) => r.successes + r.failures),
    text('Failed', (r) => r.failures),
    text('Rejected', (r) => r.rejected),
    text('Trips', (r) => r.trips),
    text('Since change', (r) => serverNow() - Date.parse(r.last_change),
      (r) => span(serverNow() - Date.parse(r.last_change))),
    text('Open until', (r) => (r.open_until ? Date.parse(r.open_until) : r.state === 'forced_open' ? Infinity : -1), (r) => {
      if (r.open_until) return 'in ' + span(Date.parse(r.open_until) - serverNow());
      return r.state === 'forced_open' ? 'until reset' : '–';
    }),
  ];
  const controlCol = {
    label: 'Controls', nosort: true, cls: 'controls',
    render: (td, r) => {
      if (td.firstChild) return;
      for (const [action, label] of [['force_open', 'Force open'], ['reset', 'Reset'], ['disable', 'Disable']]) {
        const b = el('button', null, label);
        b.type = 'button';
        b.dataset.action = action;
        b.addEventListener('click', () => control(action, r.name));
        td.appendChild(b);
      }
    },
  };

  const limiterCols = [
    nameCol,
    text('Tokens', (r) => r.tokens, (r) => fixed(r.tokens, 1)),
    text('Admitted/s', (r) => rate(r.name, 'admitted'), (r) => perSec(rate(r.name, 'admitted'))),
    text('Refused/s', (r) => rate(r.name, 'rejected'), (r) => perSec(rate(r.name, 'rejected'))),
    text('Admitted', (r) => r.admitted),
    text('Refused', (r) => r.rejected),
    text('Waiting', (r) => r.waiting),
  ];
  const rate = (name, key) => {
    const r = ui.rates.get(name);
    return r ? r[key] : null;
  };

  const bulkheadCols = [
    nameCol,
    {
      label: 'In flight / limit', value: (r) => (r.limit > 0 ? r.in_flight / r.limit : 0),
      render: (td, r) => {
        let t = td.firstChild, m = td.lastChild;
        if (!t) {
          t = el('span'); m = el('span', 'meter'); m.appendChild(el('span'));
          td.append(t, m);
        }
        setText(t, int(r.in_flight) + ' / ' + int(r.limit));
        m.firstChild.style.width = Math.min(100, r.limit > 0 ? (100 * r.in_flight) / r.limit : 0) + '%';
      },
    },
    text('Queued', (r) => r.queued),
    text('Max in flight', (r) => r.max_in_flight),
    text('Admitted', (r) => r.admitted),
    text('Rejected', (r) => r.rejected),
  ];

  const budgetCols = [
    nameCol,
    text('Balance', (r) => r.balance, (r) => fixed(r.balance, 1)),
    text('Deposits', (r) => r.deposits),
    text('Withdrawals', (r) => r.withdrawals),
    text('Refused', (r) => r.refused),
  ];

  // table keeps one rendered table: its columns, its sort and a row per name.
  // Only breakers have controls.
  const table = (id, cols, key) => {
    const t = {
      id, key, cols, node: document.getElementById(id), sort: { col: 0, dir: 1 }, rows: new Map(),
      controls: false, controllable: key === 'breakers',
    };
    t.head = t.node.tHead;
    t.body = t.node.tBodies[0];
    return t;
  };
  const tables = [
    table('breakers', breakerCols, 'breakers'),
    table('limiters', limiterCols, 'limiters'),
    table('bulkheads', bulkheadCols, 'bulkheads'),
    table('budgets', budgetCols, 'budgets'),
  ];

  const columnsOf = (t) => (t.controls ? t.cols.concat([controlCol]) : t.cols);

  const renderHead = (t) => {
    const tr = el('tr');
    columnsOf(t).forEach((c, i) => {
      const th = el('th', [c.cls, c.nosort ? 'nosort' : null].filter(Boolean).join(' ') || null, c.label);
      th.scope = 'col';
      if (!c.nosort) {
        th.tabIndex = 0;
        th.setAttribute('aria-sort', i === t.sort.col ? (t.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
        const sortBy = () => {
          t.sort = { col: i, dir: t.sort.col === i ? -t.sort.dir : 1 };
          renderHead(t);
          renderTable(t);
        };
        th.addEventListener('click', sortBy);
        th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(); } });
      }
      tr.appendChild(th);
    });
    t.head.replaceChildren(tr);
  };

  const renderTable = (t) => {
    const cols = columnsOf(t);
    const all = ui.snap[t.key] || [];
    const shown = all.filter((r) => r.name.toLowerCase().includes(ui.filter));
    const c = cols[t.sort.col];
    shown.sort((a, b) => {
      const x = c.value(a), y = c.value(b);
      const d = typeof x === 'string' ? x.localeCompare(y) : x == null ? (y == null ? 0 : -1) : y == null ? 1 : x - y;
      return t.sort.dir * (d || a.name.localeCompare(b.name));
    });
    const live = new Set(all.map((r) => r.name));
    for (const [name, tr] of t.rows) if (!live.has(name)) { tr.remove(); t.rows.delete(name); }
    const order = [];
    for (const r of shown) {
      let tr = t.rows.get(r.name);
      if (!tr || tr.cells.length !== cols.length) {
        if (tr) tr.remove();
        tr = el('tr');
        tr.dataset.name = r.name;
        cols.forEach((col) => tr.appendChild(el('td', col.cls || null)));
        t.rows.set(r.name, tr);
      }
      cols.forEach((col, i) => col.render(tr.cells[i], r));
      order.push(tr);
    }
    if (order.length === 0) {
      const td = el('td', 'empty', all.length === 0 ? 'none' : 'no name matches the filter');
      td.colSpan = cols.length;
      const tr = el('tr');
      tr.appendChild(td);
      order.push(tr);
    }
    t.body.replaceChildren(...order);
    setText(document.getElementById(t.id + '-count'), all.length === shown.length ? '(' + all.length + ')' : '(' + shown.length + ' of ' + all.length + ')');
  };

  const totals = [
    ['operations', 'Operations'], ['successful', 'Successful'], ['failed', 'Failed'],
    ['retry_attempts', 'Retries'], ['circuit_breaker_trips', 'Breaker trips'],
    ['rate_limit_hits', 'Rate limit hits'], ['concurrency_limit_hits', 'Bulkhead refusals'],
    ['timeouts', 'Timeouts'], ['abandoned_calls', 'Abandoned calls'], ['panics', 'Panics'],
    ['hedges_started', 'Hedges'], ['actor_restarts', 'Actor restarts'], ['dropped_events', 'Dropped events'],
  ];
  const renderEngine = () => {
    const dl = document.getElementById('engine');
    if (!dl.firstChild) {
      for (const [key, label] of totals) {
        const d = el('div');
        d.dataset.key = key;
        d.append(el('dt', null, label), el('dd'));
        dl.appendChild(d);
      }
    }
    for (const d of dl.children) setText(d.lastChild, int(ui.snap.engine[d.dataset.key] || 0));
  };

  const renderChanges = () => {
    const ol = document.getElementById('changes');
    if (ui.changes.length === 0) { ol.replaceChildren(el('li', 'muted', 'none since the page opened')); return; }
    ol.replaceChildren(...ui.changes.map((c) => {
      let what = c.kind.replaceAll('_', ' ');
      if (c.kind === 'breaker_state_changed') what = c.from.replace('_', ' ') + ' → ' + c.to.replace('_', ' ');
      if (c.reason) what += ' (' + c.reason.replaceAll('_', ' ') + ')';
      const li = el('li');
      li.append(el('span', 'muted', clock(c.at) + ' '), el('strong', null, c.name), document.createTextNode(' ' + what));
      return li;
    }));
  };

  const render = () => {
    for (const t of tables) {
      const controls = t.controllable && ui.snap.controls;
      if (t.controls !== controls) { t.controls = controls; t.rows.clear(); renderHead(t); }
      renderTable(t);
    }
    renderEngine();
    setText(document.getElementById('at'), 'updated ' + clock(ui.snap.at));
  };

  // --- data ---------------------------------------------------------------------------
  const take = (snap) => {
    const prev = ui.snap;
    if (prev) {
      const dt = (Date.parse(snap.at) - Date.parse(prev.at)) / 1000;
      const before = new Map(prev.limiters.map((l) => [l.name, l]));
      for (const l of snap.limiters) {
        const p = before.get(l.name);
        if (p && dt > 0 && l.admitted >= p.admitted && l.rejected >= p.rejected) {
          ui.rates.set(l.name, { admitted: (l.admitted - p.admitted) / dt, rejected: (l.rejected - p.rejected) / dt });
        } else if (!p || dt > 0) {
          ui.rates.delete(l.name);
        }
      }
    }
    ui.snap = snap;
    ui.received = Date.now();
    render();
  };

  const change = (c) => {
    ui.changes.unshift(c);
    ui.changes.length = Math.min(ui.changes.length, maxChanges);
    renderChanges();
    if (c.kind === 'breaker_state_changed') { // show it now; the snapshot follows
      const row = ui.snap.breakers.find((b) => b.name === c.name);
      if (row) { row.state = c.to; render(); }
    }
  };

  const conn = (state, label) => {
    const n = document.getElementById('conn');
    n.dataset.conn = state;
    setText(n, label);
  };

  const connect = () => {
    if (typeof EventSource === 'undefined') { conn('stopped', 'not live: no EventSource'); return; }
    const es = new EventSource(base + '?format=events');
    es.onopen = () => conn('live', 'live');
    es.onerror = () => conn(es.readyState === EventSource.CLOSED ? 'stopped' : 'reconnecting', es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…');
    es.addEventListener('snapshot', (e) => take(JSON.parse(e.data)));
    es.addEventListener('change', (e) => change(JSON.parse(e.data)));
    es.addEventListener('shutdown', () => { es.close(); conn('stopped', 'engine stopped'); });
  };

  // --- controls -----------------------------------------------------------------------
  const notice = (msg) => setText(document.getElementById('notice'), msg);
  const control = async (action, name) => {
    if (ui.busy) return;
    ui.busy = true;
    document.querySelectorAll('#breakers button').forEach((b) => { b.disabled = true; });
    try {
      const resp = await fetch(base, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ action, name }),
      });
      let body = {};
      try { body = await resp.json(); } catch (_) { /* not JSON: the status says enough */ }
      notice(resp.ok ? name + ': ' + (body.state || 'done').replace('_', ' ')
        : name + ': refused (' + resp.status + (body.error ? ', ' + body.error : '') + ')');
    } catch (_) {
      notice(name + ': the request failed');
    } finally {
      ui.busy = false;
      document.querySelectorAll('#breakers button').forEach((b) => { b.disabled = false; });
    }
  };

  // --- start --------------------------------------------------------------------------
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => {
    ui.filter = filter.value.trim().toLowerCase();
    for (const t of tables) renderTable(t);
  });
  for (const t of tables) renderHead(t);
  take(JSON.parse(document.getElementById('bulwark-status').textContent));
  renderChanges();
  connect();
})();
