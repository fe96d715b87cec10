// The same prompt on two or three models, side by side: each column has its own quote,
// progress or partial previews, result, cost, latency and provider.

import { listModels, modelEndpoints, modelSelect } from './catalog.js';
import { flash, h } from './dom.js';
import { generate, quote, requestBody, waitForRecord } from './generate.js';
import { metaList, partialFigure, progressText, quoteView, resultFigure } from './results.js';
import { saveGeneration } from './store.js';

const DEFAULTS = ['openai/gpt-image-1.5', 'black-forest-labs/flux.2-pro', ''];

function sharedAspectRatios(endpoints) {
  const lists = endpoints.map((e) => e.supported_parameters?.aspect_ratio?.values || null);
  if (lists.some((l) => l === null)) return [];
  return lists.reduce((acc, l) => acc.filter((v) => l.includes(v)));
}

async function runColumn(column, req, endpoint, ctx) {
  const { stage, status, meta, quoteBox } = column;
  stage.replaceChildren();
  meta.replaceChildren();
  quoteBox.replaceChildren('Quote: …');
  status.replaceChildren(h('span', { class: 'spinner' }), h('span', {}, 'Sending…'));
  const text = status.lastChild;
  let preview = null;
  try {
    quoteView(quoteBox, await quote(req, endpoint));
    const result = await generate(req, {
      onProgress: (ev) => { text.textContent = progressText(ev); },
      onPartial: (partial) => {
        const figure = partialFigure(partial);
        if (preview) preview.replaceWith(figure); else stage.append(figure);
        preview = figure;
      },
    });
    preview?.remove();
    stage.replaceChildren(...result.images.map((img, i) => resultFigure(img, result.id, i)));
    const record = await waitForRecord(result.id);
    meta.replaceChildren(metaList(result, record));
    status.replaceChildren(h('span', {}, `Done in ${(result.elapsedMs / 1000).toFixed(1)} s.`));
    await saveGeneration({
      id: result.id, prompt: req.prompt, model: req.model,
      provider: record?.provider ?? endpoint.provider_slug,
      providerName: record?.provider_name ?? endpoint.provider_name,
      costUsd: record?.cost_usd ?? String(result.usage?.cost ?? ''),
      latencyMs: record?.latency_ms ?? Math.round(result.elapsedMs),
      params: { ...req }, images: result.images,
    });
  } catch (err) {
    preview?.remove();
    status.replaceChildren(h('span', {}, 'Failed.'));
    stage.append(h('div', { class: 'error-box', dataset: { testid: 'error' } }, String(err.message || err)));
  }
  if (ctx.isCurrent()) ctx.refreshMe().catch(() => {});
}

export async function renderCompare(root, ctx) {
  const models = await listModels();
  const picks = DEFAULTS.map((id, i) => modelSelect(models, { selected: id, allowNone: i === 2, id: `compare-model-${i}`, testid: `compare-model-${i}` }));
  if (!picks[1].value || picks[1].value === picks[0].value) picks[1].value = models.find((m) => m.id !== picks[0].value)?.id || '';
  const prompt = h('textarea', { id: 'compare-prompt', rows: 3, dataset: { testid: 'compare-prompt' }, placeholder: 'One prompt for every model…' },
    sessionStorage.getItem('imagegate.prompt') || '');
  const ratio = h('select', { id: 'compare-ratio' });
  const go = h('button', { class: 'primary', type: 'submit', dataset: { testid: 'compare-run' } }, 'Compare');
  const grid = h('div', { class: 'compare-grid', dataset: { testid: 'compare-grid' } });

  async function chosen() {
    const ids = picks.map((p) => p.value).filter(Boolean);
    const endpoints = await Promise.all(ids.map((id) => modelEndpoints(id)));
    return ids.map((id, i) => ({ id, endpoint: endpoints[i][0] }));
  }

  async function refreshRatios() {
    const wanted = picks.map((p) => p.value).join();
    const runs = await chosen();
    if (wanted !== picks.map((p) => p.value).join()) return; // a later pick refreshes them
    const list = sharedAspectRatios(runs.map((c) => c.endpoint));
    const keep = ratio.value;
    ratio.replaceChildren(h('option', { value: '' }, 'each model’s default'), ...list.map((v) => h('option', { value: v }, v)));
    if (list.includes(keep)) ratio.value = keep;
  }

  const form = h('form', { class: 'panel' },
    h('h1', {}, 'Compare models'),
    h('p', { class: 'hint' }, 'Runs one prompt on two or three models at once, each pinned to its first endpoint with its default parameters.'),
    h('div', { class: 'grid2' },
      ...picks.map((p, i) => h('div', { class: 'field' }, h('label', { for: p.id }, `Model ${i + 1}${i === 2 ? ' (optional)' : ''}`), p)),
      h('div', { class: 'field' }, h('label', { for: 'compare-ratio' }, 'Aspect ratio (shared by all)'), ratio)),
    h('div', { class: 'field' }, h('label', { for: 'compare-prompt' }, 'Prompt'), prompt),
    go);
  for (const p of picks) p.addEventListener('change', refreshRatios);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!prompt.value.trim()) { flash('Write a prompt first.'); return; }
    const runs = await chosen();
    if (runs.length < 2) { flash('Pick at least two models.'); return; }
    go.disabled = true;
    grid.replaceChildren();
    const jobs = runs.map(({ id, endpoint }) => {
      const column = {
        status: h('div', { class: 'status' }),
        quoteBox: h('div', { class: 'quote' }),
        stage: h('div', { class: 'stage' }),
        meta: h('div'),
      };
      const model = models.find((m) => m.id === id);
      grid.append(h('section', { class: 'panel compare-col', dataset: { testid: 'compare-col', model: id } },
        h('h2', {}, model?.name || id, ' ', h('span', { class: 'badge' }, endpoint.provider_name)),
        column.quoteBox, column.status, column.stage, column.meta));
      const params = ratio.value ? { aspect_ratio: ratio.value } : {};
      const req = requestBody({ model: id, endpoint, prompt: prompt.value, params });
      return runColumn(column, req, endpoint, ctx);
    });
    await Promise.allSettled(jobs);
    go.disabled = false;
  });
  root.append(form, grid);
  await refreshRatios();
}
