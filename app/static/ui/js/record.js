// One generation's ledger record (GET /api/v1/generation?id=), with its images when this
// browser session made it.

import { api } from './api.js';
import { h, ms, objectUrl, usd, when } from './dom.js';
import { getGeneration } from './store.js';

export async function renderRecord(root, ctx) {
  const id = ctx.arg;
  const { data } = await api(`api/v1/generation?id=${encodeURIComponent(id)}`);
  const local = await getGeneration(id);
  const rows = [
    ['Model', data.model], ['Provider', data.provider_name || '–'], ['Status', data.status], ['Door', data.route],
    ['Created', when(data.created_at)], ['Cost', `${usd(data.cost_usd)} (${data.cost_usd} USD)`], ['Latency', ms(data.latency)],
    ['Images', data.images], ['Resolution', data.resolution || '–'], ['Streamed', data.streamed ? 'yes' : 'no'],
    ['Prompt tokens', data.tokens_prompt], ['Completion tokens', data.tokens_completion], ['Upstream id', data.upstream_id || '–'],
  ];
  if (data.error_message) rows.push(['Error', `${data.error_code}: ${data.error_message}`]);
  root.append(h('section', { class: 'panel', dataset: { testid: 'record' } },
    h('div', { class: 'row' }, h('h1', {}, 'Generation'), h('code', { dataset: { testid: 'record-id' } }, data.id)),
    h('dl', { class: 'meta' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])),
    local ? h('div', { class: 'stage' }, ...local.images.map((img, i) => h('figure', { class: 'result' }, h('img', { src: objectUrl(img.blob), alt: `image ${i + 1}` })))) : null,
    local ? h('p', {}, h('strong', {}, 'Prompt: '), local.prompt) : null,
    h('h3', {}, 'Record (GET /api/v1/generation)'),
    h('pre', { class: 'json' }, JSON.stringify(data, null, 2))));
}
