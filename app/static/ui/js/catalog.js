// The model catalog as this gateway serves it (discovery needs no key), cached for the page.

import { api } from './api.js';
import { h } from './dom.js';

let models = null;
const endpoints = new Map();

export async function listModels() {
  if (!models) models = (await api('api/v1/images/models')).data;
  return models;
}

export async function modelEndpoints(modelId) {
  if (!endpoints.has(modelId)) {
    const body = await api(`api/v1/images/models/${modelId}/endpoints`);
    endpoints.set(modelId, body.endpoints);
  }
  return endpoints.get(modelId);
}

// A <select> of every model, grouped by author; streaming models are marked.
export function modelSelect(list, { selected, id, allowNone = false, testid } = {}) {
  const select = h('select', { id, dataset: testid ? { testid } : undefined });
  if (allowNone) select.append(h('option', { value: '' }, '— none —'));
  const groups = new Map();
  for (const model of list) {
    const author = model.id.split('/')[0];
    if (!groups.has(author)) groups.set(author, h('optgroup', { label: author }));
    groups.get(author).append(
      h('option', { value: model.id }, `${model.name}${model.supports_streaming ? '  ⚡ streams' : ''}`),
    );
  }
  for (const group of groups.values()) select.append(group);
  if (selected && list.some((m) => m.id === selected)) select.value = selected;
  return select;
}
