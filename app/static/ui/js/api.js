// The gateway's HTTP API, with the signed-in key. The key lives in this tab's sessionStorage
// only: it is gone when the tab closes, and it is sent to this gateway alone.

const KEY = 'imagegate.apiKey';

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set(key) { sessionStorage.setItem(KEY, key); },
  clear() { sessionStorage.removeItem(KEY); },
  me: null, // GET /api/v1/key of the signed-in key
};

export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

// Relative to the page, so a gateway served under a path prefix works too.
export function apiUrl(path) {
  return new URL(path.replace(/^\//, ''), document.baseURI).toString();
}

export function authHeaders(key = session.key) {
  return key ? { authorization: `Bearer ${key}` } : {};
}

function errorOf(status, data, fallback) {
  const message = data?.error?.message || fallback || `HTTP ${status}`;
  return new ApiError(status, message, data);
}

export async function readJson(resp) {
  const text = await resp.text();
  let data = null;
  if (text.trim()) {
    try { data = JSON.parse(text); } catch { throw new ApiError(resp.status, `not JSON: ${text.slice(0, 120)}`); }
  }
  // A slow buffered answer is committed to 200 and may carry the error object as its body.
  if (!resp.ok || (data && data.error)) {
    if (resp.status === 401) window.dispatchEvent(new CustomEvent('ig:unauthorized'));
    throw errorOf(data?.error?.code || resp.status, data, resp.statusText);
  }
  return data;
}

export async function api(path, { method = 'GET', body, key, signal, headers = {} } = {}) {
  const init = { method, signal, headers: { ...authHeaders(key), ...headers } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return readJson(await fetch(apiUrl(path), init));
}

// Server-sent events of a fetch response: yields each event's parsed `data` (comments and
// keep-alives are skipped), and {done: true} for `data: [DONE]`. An image event can be megabytes
// of base64 arriving in many chunks, so each chunk is scanned once, not the whole buffer again.
export async function* sseEvents(resp) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  const blank = /\r?\n\r?\n/g;
  let buffer = '';
  let scanFrom = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (;;) {
      blank.lastIndex = scanFrom;
      const found = blank.exec(buffer);
      if (!found) { scanFrom = Math.max(0, buffer.length - 3); break; }
      const block = buffer.slice(0, found.index);
      buffer = buffer.slice(found.index + found[0].length);
      scanFrom = 0;
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (!data) continue;
      if (data === '[DONE]') { yield { done: true }; return; }
      yield JSON.parse(data);
    }
  }
}
