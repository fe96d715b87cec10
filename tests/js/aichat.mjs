#!/usr/bin/env node
// Conformance driver for the Vercel AI SDK's chat path (`generateText`) with
// @openrouter/ai-sdk-provider: images through chat completions.
//
//   node aichat.mjs <baseURL> <apiKey> '<json args: model, prompt>'
//
// The request asks for modalities ["image", "text"]. Prints {text, files:[{media_type,
// b64_len}], finish_reason, usage, provider} and exits 0; when the call throws, prints
// {"error": {name, statusCode, message, code, body}} and exits 3. Retries are off.

import { createOpenRouter } from "@openrouter/ai-sdk-provider";
import { generateText } from "ai";
import { EXIT_USAGE, parseJsonArg, printJson, reportError } from "./common.mjs";

globalThis.AI_SDK_LOG_WARNINGS = false;

async function main() {
  const [baseURL, apiKey, argText] = process.argv.slice(2);
  if (!baseURL || apiKey === undefined || !argText) {
    process.stderr.write("usage: node aichat.mjs <baseURL> <apiKey> '<json args>'\n");
    process.exit(EXIT_USAGE);
  }
  const args = parseJsonArg(argText, "aichat");
  const openrouter = createOpenRouter({ apiKey, baseURL });
  const model = openrouter.chat(args.model, { extraBody: { modalities: ["image", "text"] } });
  const result = await generateText({ model, prompt: args.prompt ?? "", maxRetries: 0 });
  printJson({
    text: result.text,
    files: (result.files ?? []).map((f) => ({ media_type: f.mediaType, b64_len: f.base64.length })),
    finish_reason: result.finishReason,
    usage: result.usage ?? null,
    provider: result.providerMetadata?.openrouter?.provider ?? null,
  });
}

main().catch((err) => reportError(err));
