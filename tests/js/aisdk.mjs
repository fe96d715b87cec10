#!/usr/bin/env node
// Conformance driver for the Vercel AI SDK (`ai`) with @openrouter/ai-sdk-provider.
//
//   node aisdk.mjs <baseURL> <apiKey> '<json args>'
//
// json args:
//   model        (required) e.g. "openai/gpt-image-1.5"
//   prompt       text prompt (default "")
//   size         "WxH", e.g. "1024x1024"            -> body.size
//   aspectRatio  "W:H" (aspect_ratio also accepted) -> body.aspect_ratio
//   n            number of images                  -> body.n
//   seed         integer                           -> body.seed
//   images       reference images: array of data URLs, http(s) URLs, file paths or
//                raw base64 strings (reference: a single one). They go through
//                generateImage's prompt {text, images}; the provider sends them as
//                input_references [{type:"image_url", image_url:{url:"data:..."}}].
//   provider     imageModel settings.provider (routing preferences, sent verbatim)
//   user         imageModel settings.user
//   providerOptions  object merged into the body top level (providerOptions.openrouter)
//
// Prints {images:[{width,height,media_type,detected_type,b64_len,bytes}], usage,
// providerMetadata, warnings, http} and exits 0; when the call throws, prints
// {"error": {name, statusCode, message, code, body}} and exits 3. Retries are off.

import { readFileSync } from "node:fs";
import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import * as ai from "ai";
import { EXIT_USAGE, imageInfo, parseJsonArg, printJson, reportError } from "./common.mjs";

const generateImage = ai.generateImage ?? ai.experimental_generateImage;

// Warnings are reported in the JSON output; keep the SDK from logging them
// (its first-warning notice goes to stdout via console.info).
globalThis.AI_SDK_LOG_WARNINGS = false;

const http = [];

/** fetch wrapper that records each exchange (and the keys of the JSON body sent). */
async function recordingFetch(input, init) {
  const entry = { method: init?.method ?? "GET", url: String(input?.url ?? input) };
  if (typeof init?.body === "string") {
    try {
      const body = JSON.parse(init.body);
      entry.request_keys = Object.keys(body).sort();
      if (Array.isArray(body.input_references)) {
        entry.input_references = body.input_references.map((r) => ({
          type: r?.type,
          url_prefix: String(r?.image_url?.url ?? "").slice(0, 30),
        }));
      }
    } catch {
      /* not JSON */
    }
  }
  const res = await fetch(input, init);
  entry.status = res.status;
  entry.content_type = res.headers.get("content-type");
  entry.generation_id = res.headers.get("x-generation-id");
  http.push(entry);
  return res;
}

function loadReference(ref) {
  if (typeof ref !== "string") return ref;
  if (ref.startsWith("data:") || ref.startsWith("http://") || ref.startsWith("https://")) return ref;
  if (ref.startsWith("/") || ref.startsWith("./") || ref.startsWith("../")) {
    return new Uint8Array(readFileSync(ref));
  }
  return ref; // raw base64
}

async function main() {
  const [baseURL, apiKey, argText] = process.argv.slice(2);
  if (!baseURL || apiKey === undefined || !argText) {
    process.stderr.write("usage: node aisdk.mjs <baseURL> <apiKey> '<json args>'\n");
    process.exit(EXIT_USAGE);
  }
  const args = parseJsonArg(argText, "aisdk");
  if (!args.model) {
    process.stderr.write("aisdk: args.model is required\n");
    process.exit(EXIT_USAGE);
  }

  const openrouter = createOpenRouter({
    apiKey, // "" is sent as "Authorization: Bearer "
    baseURL,
    fetch: recordingFetch,
  });
  const settings = {};
  if (args.provider !== undefined) settings.provider = args.provider;
  if (args.user !== undefined) settings.user = args.user;
  const model = openrouter.imageModel(args.model, settings);

  let refs = args.images ?? (args.reference !== undefined ? [args.reference] : undefined);
  const text = args.prompt ?? "";
  const prompt = refs && refs.length ? { text, images: refs.map(loadReference) } : text;

  const call = { model, prompt, maxRetries: 0 };
  if (args.n !== undefined) call.n = args.n;
  if (args.size !== undefined) call.size = args.size;
  const aspectRatio = args.aspectRatio ?? args.aspect_ratio;
  if (aspectRatio !== undefined) call.aspectRatio = aspectRatio;
  if (args.seed !== undefined) call.seed = args.seed;
  if (args.maxImagesPerCall !== undefined) call.maxImagesPerCall = args.maxImagesPerCall;
  if (args.providerOptions !== undefined) call.providerOptions = { openrouter: args.providerOptions };

  const result = await generateImage(call);
  const images = result.images.map((img) => {
    const info = imageInfo(img.uint8Array);
    return {
      width: info.width,
      height: info.height,
      media_type: img.mediaType,
      detected_type: info.detected_type,
      b64_len: img.base64.length,
      bytes: img.uint8Array.length,
    };
  });
  const usage = result.usage;
  const hasUsage =
    usage && (usage.inputTokens !== undefined || usage.outputTokens !== undefined || usage.totalTokens !== undefined);
  const out = { images, usage: hasUsage ? usage : null };
  if (result.providerMetadata && Object.keys(result.providerMetadata).length) {
    out.providerMetadata = result.providerMetadata;
  }
  out.warnings = result.warnings ?? [];
  out.http = http;
  printJson(out);
}

main().catch((err) => reportError(err, { http }));
