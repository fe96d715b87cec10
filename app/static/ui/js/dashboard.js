// Spend dashboard: spend, requests, images and failures by day, model, provider and key, from
// the ledger (GET /api/v1/activity/summary), and the most recent generations.

import { api, session } from './api.js';
import { barList, dayChart, legend } from './charts.js';
import { h, int, ms, usd, usdCell, when } from './dom.js';

const PAGE = 25;

function stat(label, testid, value, shown) {
  return h('div', { class: 'panel stat' }, h('div', { class: 'label' }, label),
    h('div', { class: 'value', dataset: { testid, value: String(value) }, title: String(value) }, shown));
}

function breakdown(title, rows, name, testid) {
  const table = h('table', { class: 'data', dataset: { testid } },
    h('thead', {}, h('tr', {}, h('th', {}, title.replace('By ', '')), h('th', { class: 'num' }, 'Spend'), h('th', { class: 'num' }, 'Requests'),
      h('th', { class: 'num' }, 'Images'), h('th', { class: 'num' }, 'Failures'))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, h('td', {}, name(r)), h('td', { class: 'num' }, usdCell(r.spend_usd)),
      h('td', { class: 'num' }, int(r.requests)), h('td', { class: 'num' }, int(r.images)), h('td', { class: 'num' }, int(r.failures))))));
  return h('section', { class: 'panel' }, h('h2', {}, title),
    rows.length ? barList(rows, { label: name, value: (r) => Number(r.spend_usd), display: (r) => usd(r.spend_usd) }) : h('p', { class: 'muted' }, 'No activity.'),
    h('div', { class: 'table-wrap' }, table));
}

function recentRow(g) {
  return h('tr', { dataset: { id: g.id } },
    h('td', {}, when(g.created_at)),
    h('td', {}, g.model),
    h('td', {}, g.provider_name),
    h('td', {}, g.key_name || 'master key'),
    h('td', {}, h('span', { class: `badge ${g.status}`, title: g.error_message || '' }, g.status)),
    h('td', { class: 'num' }, int(g.images)),
    h('td', { class: 'num' }, usdCell(g.cost_usd)),
    h('td', { class: 'num' }, ms(g.latency_ms)),
    h('td', {}, h('a', { href: `#/generation/${encodeURIComponent(g.id)}`, class: 'mono', dataset: { testid: 'recent-link' } }, g.id.slice(0, 18) + '…')));
}

async function recentSection(keyFilter) {
  const query = (offset) => `api/v1/activity/generations?limit=${PAGE}&offset=${offset}${keyFilter ? `&api_key_hash=${encodeURIComponent(keyFilter)}` : ''}`;
  const tbody = h('tbody');
  const more = h('button', { type: 'button' }, 'Load more');
  let offset = 0;
  async function load() {
    const { data } = await api(query(offset));
    offset += data.length;
    tbody.append(...data.map(recentRow));
    more.hidden = data.length < PAGE;
  }
  more.addEventListener('click', load);
  await load();
  return h('section', { class: 'panel' }, h('h2', {}, 'Recent generations'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data', dataset: { testid: 'recent' } },
      h('thead', {}, h('tr', {}, ...['When', 'Model', 'Provider', 'Key', 'Status'].map((t) => h('th', {}, t)),
        ...['Images', 'Cost', 'Latency'].map((t) => h('th', { class: 'num' }, t)), h('th', {}, 'Record'))),
      tbody)),
    offset ? more : h('p', { class: 'muted' }, 'No generations yet.'));
}

export async function renderDashboard(root, ctx) {
  const admin = Boolean(session.me?.is_management_key);
  const days = Number(ctx.query.get('days')) || 30;
  const keyFilter = admin ? ctx.query.get('key') || '' : '';
  const go = (d, k) => { location.hash = `#/dashboard?days=${d}${k ? `&key=${encodeURIComponent(k)}` : ''}`; };

  const range = h('select', { id: 'dash-days' }, ...[7, 30, 90].map((d) => h('option', { value: String(d) }, `Last ${d} days`)));
  range.value = String(days);
  range.addEventListener('change', () => go(range.value, keyFilter));
  const controls = h('div', { class: 'row' }, h('h1', {}, 'Spend'), h('span', { class: 'spacer' }), range);
  if (admin) {
    const keys = (await api('api/v1/keys')).data;
    const pick = h('select', { id: 'dash-key', dataset: { testid: 'dash-key' } }, h('option', { value: '' }, 'All keys'),
      ...keys.map((k) => h('option', { value: k.hash }, `${k.name} (${k.label})`)));
    pick.value = keyFilter;
    pick.addEventListener('change', () => go(range.value, pick.value));
    controls.append(pick);
  }
  const filter = keyFilter ? `&api_key_hash=${encodeURIComponent(keyFilter)}` : '';
  const { data } = await api(`api/v1/activity/summary?days=${days}${filter}`);
  if (!ctx.isCurrent()) return;
  const t = data.totals;
  root.append(controls,
    h('p', { class: 'muted' }, `${data.from} to ${data.to} (UTC) · ${data.scope === 'all' ? 'every key' : keyFilter ? 'one key' : 'this key only'} · from the generation ledger`),
    h('div', { class: 'cards', dataset: { testid: 'totals' } },
      stat('Spend', 'total-spend', t.spend_usd, usd(t.spend_usd)),
      stat('Requests', 'total-requests', t.requests, int(t.requests)),
      stat('Images', 'total-images', t.images, int(t.images)),
      stat('Failures', 'total-failures', t.failures, int(t.failures))),
    h('div', { class: 'dash-grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Spend per day'),
        dayChart(data.by_day, [{ value: (d) => Number(d.spend_usd), name: 'spend' }], { format: (v) => usd(v), label: 'spend per day' })),
      h('section', { class: 'panel' }, h('h2', {}, 'Requests per day'),
        dayChart(data.by_day, [
          { value: (d) => d.requests - d.failures, className: 'ok', name: 'succeeded or cancelled' },
          { value: (d) => d.failures, className: 'fail', name: 'failed' },
        ], { format: (v) => (Number.isInteger(v) ? int(v) : v.toFixed(1)), label: 'requests per day' }),
        legend([['succeeded or cancelled', '#60a5fa'], ['failed', '#dc2626']]))),
    h('div', { class: 'dash-grid' },
      breakdown('By model', data.by_model, (r) => r.model, 'by-model'),
      breakdown('By provider', data.by_provider, (r) => r.provider_name, 'by-provider'),
      breakdown('By key', data.by_key, (r) => (r.label ? `${r.name} (${r.label})` : r.name), 'by-key')),
    await recentSection(keyFilter));
}
