// This browser session's generations (the gallery), in IndexedDB: images are stored as Blobs
// with a small thumbnail each, so a gallery of large images stays light. A session is this tab's
// (sessionStorage); other sessions' entries are dropped after a day, and all of them on sign-out.

import { randomId } from './dom.js';

const DB_NAME = 'imagegate-ui';
const STORE = 'generations';
const DAY_MS = 24 * 3600 * 1000;
let dbPromise = null;

export function sessionId() {
  let id = sessionStorage.getItem('imagegate.session');
  if (!id) {
    id = randomId();
    sessionStorage.setItem('imagegate.session', id);
  }
  return id;
}

function db() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return dbPromise;
}

async function tx(mode, work) {
  const conn = await db();
  return new Promise((resolve, reject) => {
    const t = conn.transaction(STORE, mode);
    const result = work(t.objectStore(STORE));
    t.oncomplete = () => resolve(result?.result ?? result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}

export async function thumbnail(blob, max = 320) {
  try {
    const bitmap = await createImageBitmap(blob);
    const scale = Math.min(1, max / Math.max(bitmap.width, bitmap.height));
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    return { thumb: await canvas.convertToBlob({ type: 'image/webp', quality: 0.8 }), width: Math.round(canvas.width / scale), height: Math.round(canvas.height / scale) };
  } catch {
    return { thumb: blob, width: null, height: null }; // e.g. SVG: small already, shown as is
  }
}

// entry: {id, prompt, model, providerName, costUsd, latencyMs, params, images: [{blob, mediaType}]}
export async function saveGeneration(entry) {
  const images = [];
  for (const img of entry.images) images.push({ ...img, ...(await thumbnail(img.blob)) });
  const record = { ...entry, images, session: sessionId(), createdAt: Date.now() };
  await tx('readwrite', (store) => store.put(record));
  return record;
}

export async function listGenerations() {
  const all = await tx('readonly', (store) => store.getAll());
  const mine = sessionId();
  return all.filter((e) => e.session === mine).sort((a, b) => b.createdAt - a.createdAt);
}

export async function getGeneration(id) {
  const found = await tx('readonly', (store) => store.get(id));
  return found && found.session === sessionId() ? found : null;
}

export async function pruneGallery({ everything = false } = {}) {
  const all = await tx('readonly', (store) => store.getAll());
  const mine = sessionId();
  const stale = all.filter((e) => (everything ? e.session === mine : e.session !== mine && Date.now() - e.createdAt > DAY_MS));
  if (stale.length) await tx('readwrite', (store) => { for (const e of stale) store.delete(e.id); });
}
