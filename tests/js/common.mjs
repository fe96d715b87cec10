// Helpers shared by sdk.mjs and aisdk.mjs: image header parsing (plain JS, no
// dependencies), key-case conversion and the uniform error report.

/** Exit code used when the client under test threw. */
export const EXIT_CLIENT_ERROR = 3;
/** Exit code for a bad command line. */
export const EXIT_USAGE = 2;

function u16be(b, i) {
  return (b[i] << 8) | b[i + 1];
}
function u32be(b, i) {
  return ((b[i] << 24) >>> 0) + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
}
function u16le(b, i) {
  return b[i] | (b[i + 1] << 8);
}
function u24le(b, i) {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
}
function ascii(b, i, n) {
  return String.fromCharCode(...b.subarray(i, i + n));
}

function pngSize(b) {
  // 8-byte signature, then the IHDR chunk: length(4) "IHDR"(4) width(4) height(4).
  if (b.length < 24 || ascii(b, 12, 4) !== "IHDR") return null;
  return { width: u32be(b, 16), height: u32be(b, 20) };
}

function jpegSize(b) {
  let i = 2; // after SOI (FF D8)
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) {
      i += 1; // tolerate garbage between segments
      continue;
    }
    const marker = b[i + 1];
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    // Stand-alone markers without a length field.
    if (marker === 0x01 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return null; // EOI / SOS before any SOF
    const len = u16be(b, i + 2);
    const isSof =
      marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (i + 9 > b.length) return null;
      // FF Cn, length(2), precision(1), height(2), width(2)
      return { width: u16be(b, i + 7), height: u16be(b, i + 5) };
    }
    i += 2 + len;
  }
  return null;
}

function webpSize(b) {
  if (b.length < 30) return null;
  const chunk = ascii(b, 12, 4);
  const d = 20; // chunk payload
  if (chunk === "VP8 ") {
    // 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
    if (b[d + 3] !== 0x9d || b[d + 4] !== 0x01 || b[d + 5] !== 0x2a) return null;
    return { width: u16le(b, d + 6) & 0x3fff, height: u16le(b, d + 8) & 0x3fff };
  }
  if (chunk === "VP8L") {
    if (b[d] !== 0x2f) return null;
    const b0 = b[d + 1], b1 = b[d + 2], b2 = b[d + 3], b3 = b[d + 4];
    return {
      width: 1 + (b0 | ((b1 & 0x3f) << 8)),
      height: 1 + ((b1 >> 6) | (b2 << 2) | ((b3 & 0x0f) << 10)),
    };
  }
  if (chunk === "VP8X") {
    return { width: 1 + u24le(b, d + 4), height: 1 + u24le(b, d + 7) };
  }
  return null;
}

/**
 * Sniff the format of image bytes and read their pixel size from the header.
 * Returns {detected_type, width, height}; width/height are null when unknown
 * (e.g. SVG or an unrecognised format).
 */
export function imageInfo(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let detected = null;
  let size = null;
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 3) === "PNG") {
    detected = "image/png";
    size = pngSize(b);
  } else if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
    detected = "image/jpeg";
    size = jpegSize(b);
  } else if (b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") {
    detected = "image/webp";
    size = webpSize(b);
  } else {
    const head = new TextDecoder("utf-8", { fatal: false }).decode(b.subarray(0, 512));
    if (/<svg[\s>]/i.test(head)) detected = "image/svg+xml";
  }
  return {
    detected_type: detected,
    width: size ? size.width : null,
    height: size ? size.height : null,
  };
}

/** Decode raw base64 (no data: prefix) and describe it. */
export function describeB64(b64) {
  const bytes = Buffer.from(b64 ?? "", "base64");
  return { b64_len: (b64 ?? "").length, bytes: bytes.length, ...imageInfo(bytes) };
}

export function snakeToCamel(key) {
  return key.replace(/[_-]([a-z0-9])/g, (_, c) => c.toUpperCase());
}

export function camelToSnake(key) {
  return key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** Deep-convert the keys of what an SDK parsed back to the wire's snake_case. */
export function toSnakeDeep(value) {
  if (Array.isArray(value)) return value.map(toSnakeDeep);
  if (value && typeof value === "object" && value.constructor === Object) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[camelToSnake(k)] = toSnakeDeep(v);
    return out;
  }
  return value;
}

export function printJson(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

/** Print {"error": {...}} for a thrown error and exit with EXIT_CLIENT_ERROR. */
export function reportError(err, extra = {}) {
  // ai's RetryError wraps the real failure.
  const inner = err && err.lastError && err.name === "AI_RetryError" ? err.lastError : err;
  const statusCode =
    typeof inner?.statusCode === "number"
      ? inner.statusCode
      : typeof inner?.status === "number"
        ? inner.status
        : null;
  let body = inner?.body ?? inner?.responseBody ?? null;
  if (typeof body === "string" && body.length > 4000) body = body.slice(0, 4000);
  const error = {
    name: inner?.name ?? typeof inner,
    statusCode,
    message: String(inner?.message ?? inner),
    // Code from a typed OpenRouter error body ({"error": {"code": ...}}), when present.
    code: inner?.error?.code ?? inner?.data?.error?.code ?? null,
    body,
  };
  if (inner !== err) error.wrapper = err.name;
  if (inner?.cause && typeof inner.cause === "object" && inner.cause.message) {
    error.cause = String(inner.cause.message).slice(0, 2000);
  }
  printJson({ error, ...extra });
  process.exit(EXIT_CLIENT_ERROR);
}

export function parseJsonArg(text, what) {
  if (text === undefined || text === "") return {};
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v;
  } catch (e) {
    process.stderr.write(`${what}: invalid JSON object: ${e.message}\n`);
    process.exit(EXIT_USAGE);
  }
}
