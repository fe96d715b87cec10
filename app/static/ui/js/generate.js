// One generation through POST /api/v1/images, always as an event stream: partial images
// arrive as they are made (streaming endpoints), and `X-Imagegate-Progress: true` turns the
// wait for every other provider into progress events.

import { ApiError, api, apiUrl, authHeaders, readJson, sseEvents } from './api.js';
import { b64ToBlob } from './dom.js';

// The request body for one endpoint, pinned to it (the form was built from its descriptors).
export function requestBody({ model, endpoint, prompt, params = {}, options = {}, references = [] }) {
  const body = { model, prompt, ...params };
  if (references.length) body.input_references = references;
  body.provider = { only: [endpoint.provider_slug], allow_fallbacks: false };
  if (Object.keys(options).length) body.provider.options = { [endpoint.provider_slug]: options };
  return body;
}

// What the request would cost on that endpoint (nothing is generated or reserved). Quoted as
// generate() sends it, streamed: a streamed request's partial images are billed too.
export async function quote(body, endpoint, signal) {
  const { data } = await api('api/v1/images/quote', { method: 'POST', body: { ...body, stream: true }, signal });
  const entry = data.endpoints.find((e) => e.provider_slug === endpoint.provider_slug) || data.endpoints[0];
  return { ...entry, limit_remaining: data.limit_remaining };
}

function image(payload) {
  return { blob: b64ToBlob(payload.b64_json, payload.media_type), mediaType: payload.media_type || 'image/png' };
}

export async function generate(body, { onProgress, onPartial, signal } = {}) {
  const started = performance.now();
  const resp = await fetch(apiUrl('api/v1/images'), {
    method: 'POST',
    signal,
    headers: { ...authHeaders(), 'content-type': 'application/json', 'x-imagegate-progress': 'true' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const id = resp.headers.get('x-generation-id');
  const images = [];
  let usage = null;
  let partials = 0;
  if (!resp.ok || !(resp.headers.get('content-type') || '').includes('text/event-stream')) {
    const data = await readJson(resp); // throws the gateway's error
    for (const item of data.data) images.push(image(item));
    usage = data.usage;
  } else {
    for await (const event of sseEvents(resp)) {
      if (event.done) break;
      if (event.type === 'imagegate.progress') onProgress?.(event);
      else if (event.type === 'image_generation.partial_image') {
        partials += 1;
        onPartial?.({ index: event.partial_image_index, number: partials, ...image(event) });
      } else if (event.type === 'image_generation.completed') {
        images[event.image_index ?? images.length] = image(event);
        if (event.usage) usage = event.usage;
      } else if (event.type === 'error') {
        throw new ApiError(event.error?.code || 502, event.error?.message || 'The generation failed', event);
      }
    }
  }
  const done = images.filter(Boolean);
  if (!done.length) throw new ApiError(502, 'The stream ended without an image');
  return { id, images: done, usage, elapsedMs: performance.now() - started, partials };
}

// The ledger row, once written (a few milliseconds after the response). The listing answers an
// empty list until then, so waiting never provokes 404s.
export async function waitForRecord(id, timeoutMs = 5000) {
  if (!id) return null;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { data } = await api(`api/v1/activity/generations?id=${encodeURIComponent(id)}`);
    if (data.length) return data[0];
    if (performance.now() > deadline) return null;
    await new Promise((resolve) => { setTimeout(resolve, 120); });
  }
}
