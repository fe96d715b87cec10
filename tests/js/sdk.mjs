#!/usr/bin/env node
// Conformance driver for the official TypeScript SDK, @openrouter/sdk.
//
//   node sdk.mjs models     <baseURL> <apiKey>
//   node sdk.mjs endpoints  <baseURL> <apiKey> <author/slug>
//   node sdk.mjs generate   <baseURL> <apiKey> '<json request>'
//   node sdk.mjs stream     <baseURL> <apiKey> '<json request>'
//   node sdk.mjs generation <baseURL> <apiKey> <generation id>
//   node sdk.mjs chat       <baseURL> <apiKey> '<json chat request: model, messages, modalities, image_config>'
//   node sdk.mjs chatstream <baseURL> <apiKey> '<same json>' (stream: true; every chunk parsed)
//   node sdk.mjs modelslist <baseURL> <apiKey> [output_modalities]
//
// <baseURL> is the API root, e.g. http://127.0.0.1:18080/api/v1. <apiKey> may be
// "" (no Authorization header is then sent). The JSON request uses the wire
// names (snake_case: aspect_ratio, output_format, input_references[].image_url,
// provider.allow_fallbacks, provider.options["black-forest-labs"], ...); they
// are converted to the SDK's camelCase input, which the SDK maps back on the
// wire. camelCase keys are accepted as well.
//
// Prints one JSON object on stdout (see README.md) and exits 0; when the SDK
// throws, prints {"error": {name, statusCode, message, code, body}} and exits 3.
// Retries are disabled so that a 5xx fails at once.

import { HTTPClient, OpenRouter } from "@openrouter/sdk";
import {
  EXIT_USAGE,
  describeB64,
  parseJsonArg,
  printJson,
  reportError,
  snakeToCamel,
  toSnakeDeep,
} from "./common.mjs";

const USAGE =
  "usage: node sdk.mjs <models|endpoints|generate|stream|generation|chat|chatstream|modelslist> <baseURL> <apiKey> [arg]";

const TIMEOUT_MS = Number(process.env.IMAGEGATE_JS_TIMEOUT_MS || 120000);

/** Records every HTTP exchange the SDK makes (to spot retries and read headers). */
function makeHttpClient(log) {
  const client = new HTTPClient();
  client.addHook("response", (res, req) => {
    log.push({
      method: req.method,
      url: req.url,
      status: res.status,
      content_type: res.headers.get("content-type"),
      generation_id: res.headers.get("x-generation-id"),
    });
  });
  return client;
}

function makeClient(baseURL, apiKey, log) {
  return new OpenRouter({
    apiKey: apiKey || undefined,
    serverURL: baseURL,
    httpClient: makeHttpClient(log),
    retryConfig: { strategy: "none" },
    timeoutMs: TIMEOUT_MS,
  });
}

/** Summary of a CapabilityDescriptor map: name -> descriptor (unknown ones flagged). */
function describeParams(params, where, unknown) {
  const out = {};
  for (const [name, d] of Object.entries(params ?? {})) {
    if (d && d.isUnknown) {
      unknown.push({ where, param: name, raw: d.raw });
      out[name] = { type: "UNKNOWN" };
    } else {
      out[name] = d;
    }
  }
  return out;
}

// ---- request conversion: wire (snake_case) -> SDK input (camelCase) --------

const TRACE_KEYS = new Set(["trace_id", "trace_name", "span_name", "generation_name", "parent_span_id"]);

function providerSlugToSdkKey(slug) {
  if (slug === "01ai") return "oneai";
  return snakeToCamel(slug);
}

function convertProvider(p) {
  if (!p || typeof p !== "object") return p;
  const out = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "options" && v && typeof v === "object") {
      const opts = {};
      // Option values are passed through untouched; slugs the SDK does not
      // know are silently dropped by the SDK (as for any SDK user).
      for (const [slug, o] of Object.entries(v)) opts[providerSlugToSdkKey(slug)] = o;
      out.options = opts;
    } else {
      out[snakeToCamel(k)] = v;
    }
  }
  return out;
}

function convertRequest(args) {
  const out = {};
  for (const [k, v] of Object.entries(args)) {
    if (k === "input_references" || k === "inputReferences") {
      out.inputReferences = Array.isArray(v)
        ? v.map((r) =>
            r && typeof r === "object"
              ? { type: r.type ?? "image_url", imageUrl: r.image_url ?? r.imageUrl }
              : r,
          )
        : v;
    } else if (k === "provider") {
      out.provider = convertProvider(v);
    } else if (k === "trace" && v && typeof v === "object") {
      const t = {};
      for (const [tk, tv] of Object.entries(v)) t[TRACE_KEYS.has(tk) ? snakeToCamel(tk) : tk] = tv;
      out.trace = t;
    } else {
      out[snakeToCamel(k)] = v;
    }
  }
  return out;
}

// ---- result summaries -------------------------------------------------------

function describeImage(item) {
  const info = describeB64(item.b64Json);
  return {
    b64_len: info.b64_len,
    bytes: info.bytes,
    media_type: item.mediaType ?? null,
    detected_type: info.detected_type,
    width: info.width,
    height: info.height,
  };
}

function isEventStream(res) {
  return res && typeof res[Symbol.asyncIterator] === "function" && !Array.isArray(res.data);
}

function summarizeBuffered(res) {
  return {
    created: res.created,
    images: (res.data ?? []).map(describeImage),
    usage: res.usage === undefined ? null : toSnakeDeep(res.usage),
  };
}

async function summarizeStream(stream) {
  const events = [];
  const completed = [];
  const errors = [];
  let usage = null;
  for await (const ev of stream) {
    if (!ev || ev.isUnknown) {
      // Known type with a bad payload, or an unknown type: the SDK could not
      // parse it, so a real caller would lose it.
      events.push({ type: "UNKNOWN", unknown: true, raw_type: ev?.raw?.type ?? null });
      continue;
    }
    const e = { type: ev.type };
    if (ev.type === "image_generation.partial_image") {
      e.partial_image_index = ev.partialImageIndex;
      e.b64_len = (ev.b64Json ?? "").length;
    } else if (ev.type === "image_generation.text_chunk") {
      e.phase = ev.phase;
      e.text_len = (ev.text ?? "").length;
    } else if (ev.type === "image_generation.completed") {
      const img = describeImage(ev);
      img.created = ev.created;
      completed.push(img);
      if (ev.usage != null) usage = toSnakeDeep(ev.usage);
    } else if (ev.type === "error") {
      e.code = ev.error?.code ?? null;
      e.message = ev.error?.message ?? null;
      errors.push({ code: e.code, message: e.message });
    }
    events.push(e);
  }
  return { events, completed, usage, stream_errors: errors };
}

// ---- commands ----------------------------------------------------------------

async function cmdModels(client) {
  const res = await client.images.listModels();
  const unknown = [];
  const models = (res.data ?? []).map((m) => ({
    id: m.id,
    name: m.name,
    created: m.created,
    input_modalities: m.architecture?.inputModalities ?? null,
    output_modalities: m.architecture?.outputModalities ?? null,
    supports_streaming: m.supportsStreaming,
    endpoints: m.endpoints,
    supported_parameters: describeParams(m.supportedParameters, m.id, unknown),
  }));
  return { count: models.length, ids: models.map((m) => m.id), models, unknown_descriptors: unknown };
}

async function cmdEndpoints(client, modelId) {
  const cut = (modelId ?? "").indexOf("/");
  if (cut <= 0) {
    process.stderr.write("endpoints: expected <author/slug>\n");
    process.exit(EXIT_USAGE);
  }
  const res = await client.images.listModelEndpoints({
    author: modelId.slice(0, cut),
    slug: modelId.slice(cut + 1),
  });
  const unknown = [];
  const endpoints = (res.endpoints ?? []).map((e) => ({
    provider_name: e.providerName,
    provider_slug: e.providerSlug,
    provider_tag: e.providerTag,
    supports_streaming: e.supportsStreaming,
    allowed_passthrough_parameters: e.allowedPassthroughParameters,
    pricing: toSnakeDeep(e.pricing),
    supported_parameters: describeParams(
      e.supportedParameters,
      `${res.id}@${e.providerSlug}`,
      unknown,
    ),
  }));
  return { id: res.id, count: endpoints.length, endpoints, unknown_descriptors: unknown };
}

async function cmdGenerate(client, args, forceStream) {
  const req = convertRequest(args);
  if (forceStream) req.stream = true;
  // IMAGEGATE_JS_HEADERS: extra request headers as JSON (e.g. the progress opt-in).
  const headers = JSON.parse(process.env.IMAGEGATE_JS_HEADERS || "{}");
  const res = await client.images.generate({ imageGenerationRequest: req }, { headers });
  if (isEventStream(res)) {
    return { mode: "stream", ...(await summarizeStream(res)) };
  }
  // Buffered JSON (also what a stream request gets from a non-streaming endpoint).
  return { mode: "buffered", ...summarizeBuffered(res) };
}

function chatRequest(args, stream) {
  return {
    model: args.model,
    messages: args.messages,
    modalities: args.modalities,
    imageConfig: args.image_config,
    stream,
  };
}

async function cmdChat(client, args) {
  const res = await client.chat.send({ chatRequest: chatRequest(args, false) });
  const choice = res.choices?.[0];
  const images = (choice?.message?.images ?? []).map((img) => {
    const url = img.imageUrl?.url ?? "";
    const comma = url.indexOf(",");
    const info = describeB64(url.slice(comma + 1));
    return { prefix: url.slice(0, comma), width: info.width, height: info.height };
  });
  return {
    id: res.id,
    object: res.object,
    content: choice?.message?.content ?? null,
    finish_reason: choice?.finishReason ?? null,
    images,
    usage: res.usage === undefined ? null : toSnakeDeep(res.usage),
  };
}

async function cmdChatStream(client, args) {
  const stream = await client.chat.send({ chatRequest: chatRequest(args, true) });
  const out = { chunks: 0, objects: [], finish_reasons: [], usage: null, errors: [], content: "" };
  for await (const chunk of stream) {
    out.chunks += 1;
    if (!out.objects.includes(chunk.object)) out.objects.push(chunk.object);
    for (const choice of chunk.choices ?? []) {
      if (choice.finishReason) out.finish_reasons.push(choice.finishReason);
      if (choice.delta?.content) out.content += choice.delta.content;
    }
    if (chunk.usage) out.usage = toSnakeDeep(chunk.usage);
    if (chunk.error) out.errors.push(toSnakeDeep(chunk.error));
  }
  return out;
}

async function cmdModelsList(client, outputModalities) {
  const pages = await client.models.list(outputModalities ? { outputModalities } : {});
  const ids = [];
  let total = null;
  for await (const page of pages) {
    total = page.result.totalCount;
    for (const m of page.result.data) ids.push(m.id);
  }
  return { count: ids.length, total_count: total, ids };
}

async function cmdGeneration(client, id) {
  const res = await client.generations.getGeneration({ id });
  return { data: toSnakeDeep(res.data) };
}

const http = [];

async function main() {
  const [command, baseURL, apiKey, arg] = process.argv.slice(2);
  if (!command || !baseURL || apiKey === undefined) {
    process.stderr.write(USAGE + "\n");
    process.exit(EXIT_USAGE);
  }
  const client = makeClient(baseURL, apiKey, http);
  let out;
  switch (command) {
    case "models":
      out = await cmdModels(client);
      break;
    case "endpoints":
      out = await cmdEndpoints(client, arg);
      break;
    case "generate":
      out = await cmdGenerate(client, parseJsonArg(arg, "generate"), false);
      break;
    case "stream":
      out = await cmdGenerate(client, parseJsonArg(arg, "stream"), true);
      break;
    case "generation":
      out = await cmdGeneration(client, arg);
      break;
    case "chat":
      out = await cmdChat(client, parseJsonArg(arg, "chat"));
      break;
    case "chatstream":
      out = await cmdChatStream(client, parseJsonArg(arg, "chatstream"));
      break;
    case "modelslist":
      out = await cmdModelsList(client, arg);
      break;
    default:
      process.stderr.write(USAGE + "\n");
      process.exit(EXIT_USAGE);
  }
  out.http = http;
  printJson(out);
}

main().catch((err) => reportError(err, { http }));
