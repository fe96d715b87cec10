#!/usr/bin/env node
// Conformance driver for the official OpenAI Node SDK against the gateway's OpenAI-compatible
// images API.
//
//   node openai.mjs generate <baseURL> <apiKey> '<json images.generate params>'
//   node openai.mjs edit     <baseURL> <apiKey> '<json images.edit params>'   (a 64x64 PNG is the image)
//   node openai.mjs stream   <baseURL> <apiKey> '<json images.generate params>'
//   node openai.mjs models   <baseURL> <apiKey>
//
// <baseURL> is e.g. http://127.0.0.1:18080/v1. Prints one JSON object on stdout; when the SDK
// throws, prints {"error": {...}} and exits 3. Retries are disabled.

import OpenAI, { toFile } from "openai";
import { EXIT_USAGE, describeB64, parseJsonArg, printJson, reportError } from "./common.mjs";

const USAGE = "usage: node openai.mjs <generate|edit|stream|models> <baseURL> <apiKey> [json]";

// A 1x1 transparent PNG, enough for an edit's input image.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

function summarize(res) {
  return {
    created: res.created,
    images: (res.data ?? []).map((d) => describeB64(d.b64_json ?? "")),
    size: res.size ?? null,
    output_format: res.output_format ?? null,
    usage: res.usage ?? null,
  };
}

async function main() {
  const [command, baseURL, apiKey, arg] = process.argv.slice(2);
  if (!command || !baseURL) {
    process.stderr.write(USAGE + "\n");
    process.exit(EXIT_USAGE);
  }
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 120000 });
  let out;
  if (command === "generate") {
    out = summarize(await client.images.generate(parseJsonArg(arg, "generate")));
  } else if (command === "edit") {
    const image = await toFile(PNG, "in.png", { type: "image/png" });
    out = summarize(await client.images.edit({ ...parseJsonArg(arg, "edit"), image }));
  } else if (command === "stream") {
    const stream = await client.images.generate({ ...parseJsonArg(arg, "stream"), stream: true });
    const events = [];
    for await (const ev of stream) events.push({ type: ev.type, b64_len: (ev.b64_json ?? "").length });
    out = { events };
  } else if (command === "models") {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    out = { ids };
  } else {
    process.stderr.write(USAGE + "\n");
    process.exit(EXIT_USAGE);
  }
  printJson(out);
}

main().catch((err) => reportError(err, {}));
