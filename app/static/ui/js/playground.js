// The playground: pick a model and endpoint, fill the form its descriptors describe, see the
// quote, generate, and watch partial images or progress until the result arrives.

import { ApiError } from './api.js';
import { listModels, modelEndpoints, modelSelect } from './catalog.js';
import { debounce, flash, h } from './dom.js';
import { paramForm, referencePicker } from './form.js';
import { generate, quote, requestBody, waitForRecord } from './generate.js';
import { metaList, partialFigure, progressText, quoteView, resultFigure } from './results.js';
import { saveGeneration } from './store.js';

const LAST_MODEL = 'imagegate.model';

export async function renderPlayground(root, ctx) {
  const models = await listModels();
  if (!models.length) {
    root.append(h('p', { class: 'panel' }, 'No model can be served: this gateway has no provider credentials. Configure a provider key, or start it with --simulate.'));
    return;
  }
  const wanted = ctx.query.get('model') || sessionStorage.getItem(LAST_MODEL) || 'openai/gpt-image-1.5';
  const modelPick = modelSelect(models, { selected: wanted, id: 'model', testid: 'model-select' });
  const endpointHost = h('div', { class: 'field' });
  const prompt = h('textarea', { id: 'prompt', dataset: { testid: 'prompt' }, placeholder: 'Describe the image…', rows: 4 },
    sessionStorage.getItem('imagegate.prompt') || '');
  const formHost = h('div');
  const refsHost = h('div', { class: 'field' });
  const quoteBox = h('div', { class: 'quote', dataset: { testid: 'quote' }, 'aria-live': 'polite' }, 'Quote: …');
  const go = h('button', { class: 'primary', type: 'submit', dataset: { testid: 'generate' } }, 'Generate');
  const cancel = h('button', { type: 'button', hidden: true }, 'Cancel');
  const status = h('div', { class: 'status', dataset: { testid: 'status' }, 'aria-live': 'polite' }, 'Ready.');
  const stage = h('div', { class: 'stage empty', dataset: { testid: 'stage' } }, 'Your images appear here.');
  const meta = h('div');
  const state = { endpoints: [], endpoint: null, form: null, refs: null, quoteSeq: 0, controller: null };

  const controls = h('form', { class: 'panel' },
    h('h1', {}, 'Playground'),
    h('div', { class: 'field' }, h('label', { for: 'model' }, 'Model'), modelPick),
    endpointHost,
    h('div', { class: 'field' }, h('label', { for: 'prompt' }, 'Prompt'), prompt),
    formHost, refsHost, quoteBox,
    h('div', { class: 'row' }, go, cancel, h('span', { class: 'hint' }, 'Ctrl+Enter in the prompt generates')));
  root.append(h('div', { class: 'play' }, controls, h('section', { class: 'panel' }, status, stage, meta)));

  function body() {
    const { params, options, problems } = state.form.read();
    const references = state.refs ? state.refs.read() : [];
    return { problems, body: requestBody({ model: modelPick.value, endpoint: state.endpoint, prompt: prompt.value, params, options, references }) };
  }

  const refreshQuote = debounce(async () => {
    if (!state.endpoint || !ctx.isCurrent()) return;
    const seq = ++state.quoteSeq;
    const { problems, body: req } = body();
    if (problems.length) { quoteView(quoteBox, null, problems); go.disabled = true; return; }
    try {
      const q = await quote(req, state.endpoint);
      if (seq !== state.quoteSeq) return;
      quoteView(quoteBox, q);
      go.disabled = !q.eligible;
    } catch (err) {
      if (seq === state.quoteSeq) { quoteView(quoteBox, null, [`No quote: ${err.message}`]); go.disabled = false; }
    }
  }, 250);

  function useEndpoint(endpoint) {
    state.endpoint = endpoint;
    state.form = paramForm(endpoint, refreshQuote);
    formHost.replaceChildren(state.form.el);
    state.refs?.detach();
    const maxRefs = endpoint.supported_parameters?.input_references?.max || 0;
    state.refs = maxRefs > 0 ? referencePicker(maxRefs, refreshQuote) : null;
    refsHost.replaceChildren(...(state.refs ? [state.refs.el] : []));
    refreshQuote();
  }

  async function useModel() {
    const model = modelPick.value;
    sessionStorage.setItem(LAST_MODEL, model);
    const endpoints = await modelEndpoints(model);
    // another model was picked while these loaded: its own call builds the form
    if (model !== modelPick.value || !ctx.isCurrent()) return;
    state.endpoints = endpoints;
    const pick = h('select', { id: 'endpoint', dataset: { testid: 'endpoint-select' } },
      ...state.endpoints.map((e, i) => h('option', { value: String(i) }, `${e.provider_name}${e.supports_streaming ? ' ⚡ streams partial images' : ' · progress only'}`)));
    pick.addEventListener('change', () => useEndpoint(state.endpoints[Number(pick.value)]));
    endpointHost.replaceChildren(h('label', { for: 'endpoint' }, 'Provider endpoint'), pick);
    useEndpoint(state.endpoints[0]);
  }

  modelPick.addEventListener('change', useModel);
  prompt.addEventListener('input', () => { sessionStorage.setItem('imagegate.prompt', prompt.value); refreshQuote(); });
  prompt.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !go.disabled) controls.requestSubmit();
  });
  cancel.addEventListener('click', () => state.controller?.abort());
  controls.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { problems, body: req } = body();
    if (problems.length) { flash(problems.join(' ')); return; }
    if (!prompt.value.trim()) { flash('Write a prompt first.'); prompt.focus(); return; }
    await run(req);
  });

  async function run(req) {
    state.controller = new AbortController();
    go.disabled = true;
    cancel.hidden = false;
    stage.className = 'stage';
    stage.replaceChildren();
    meta.replaceChildren();
    status.replaceChildren(h('span', { class: 'spinner' }), h('span', { dataset: { testid: 'status-text' } }, 'Sending…'));
    const statusText = status.lastChild;
    let preview = null;
    try {
      const result = await generate(req, {
        signal: state.controller.signal,
        onProgress: (ev) => { statusText.textContent = progressText(ev); status.dataset.progress = ev.status; },
        onPartial: (partial) => {
          const figure = partialFigure(partial);
          if (preview) preview.replaceWith(figure); else stage.append(figure);
          preview = figure;
          statusText.textContent = `Partial image ${partial.number} received…`;
        },
      });
      preview?.remove();
      stage.replaceChildren(...result.images.map((img, i) => resultFigure(img, result.id, i)));
      statusText.textContent = 'Recording…';
      const record = await waitForRecord(result.id);
      meta.replaceChildren(metaList(result, record));
      status.replaceChildren(h('span', { dataset: { testid: 'status-text' } }, `Done in ${(result.elapsedMs / 1000).toFixed(1)} s.`));
      await saveGeneration({
        id: result.id || `local-${Date.now()}`,
        prompt: req.prompt,
        model: req.model,
        provider: record?.provider ?? state.endpoint.provider_slug,
        providerName: record?.provider_name ?? state.endpoint.provider_name,
        costUsd: record?.cost_usd ?? (result.usage ? String(result.usage.cost) : null),
        latencyMs: record?.latency_ms ?? Math.round(result.elapsedMs),
        params: { ...req, input_references: req.input_references?.length || 0 },
        images: result.images,
      });
      ctx.refreshMe().catch(() => {});
    } catch (err) {
      preview?.remove();
      const aborted = err.name === 'AbortError';
      status.replaceChildren(h('span', {}, aborted ? 'Cancelled.' : 'Failed.'));
      if (!aborted) stage.append(h('div', { class: 'error-box', dataset: { testid: 'error' } }, err instanceof ApiError ? `${err.status}: ${err.message}` : String(err.message || err)));
    } finally {
      go.disabled = false;
      cancel.hidden = true;
      state.controller = null;
    }
  }

  await useModel();
}
