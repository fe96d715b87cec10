"""Reading a ``generateContent`` request off the wire, as the Gemini API's proto-JSON does.

Proto-JSON accepts each field under its camelCase and its snake_case name (the official SDK
sends ``inline_data``/``mime_type`` and ``thinking_level`` itself, reference §2) and ``bytes``
in both base64 alphabets: both are read here. Unknown field names are a 400, as on the real
API (so a Vertex-only ``imageConfig.outputMimeType`` is refused). The request log gets the body
as sent, with every base64 payload replaced by a summary.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulator.google_errors import bad_json, invalid_argument, unknown_field
from simulator.google_rules import (
    IMAGE_SIZES,
    INPUT_MIME_TYPES,
    MAX_INLINE_IMAGES,
    MAX_REQUEST_BYTES,
    ModelRules,
    nearest_ratio,
)
from simulator.render import dimensions

_SNAKE = re.compile(r"_([a-z0-9])")

TOP_FIELDS = frozenset(
    {"contents", "generationConfig", "safetySettings", "tools", "toolConfig"}
    | {"systemInstruction", "cachedContent", "model"}
)
CONTENT_FIELDS = frozenset({"role", "parts"})
PART_FIELDS = frozenset(
    {"text", "inlineData", "fileData", "thought", "thoughtSignature", "functionCall"}
    | {"functionResponse", "executableCode", "codeExecutionResult", "videoMetadata"}
    | {"mediaResolution"}
)
BLOB_FIELDS = frozenset({"mimeType", "data"})
GENERATION_FIELDS = frozenset(
    {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema"}
    | {"responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK"}
    | {"seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs"}
    | {"enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig"}
    | {"mediaResolution"}
)
# Gemini API only: personGeneration, prominentPeople, imageOutputOptions... are Vertex fields.
IMAGE_CONFIG_FIELDS = frozenset({"aspectRatio", "imageSize"})
THINKING_FIELDS = frozenset({"includeThoughts", "thinkingBudget", "thinkingLevel"})
THINKING_ENUM = ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH")
MODALITIES = ("TEXT", "IMAGE", "AUDIO")
_ENUM_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta"


def camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


@dataclass(frozen=True)
class InlineImage:
    mime_type: str
    data: bytes


@dataclass
class ParsedRequest:
    """The fields the simulator acts on, camelCase-normalised, plus the log summary."""

    prompt: str = ""
    images: list[InlineImage] = field(default_factory=list)
    modalities: tuple[str, ...] | None = None  # None: not given
    aspect_ratio: str | None = None
    image_size: str | None = None
    seed: int | None = None
    candidate_count: int | None = None
    thinking_level: str | None = None
    include_thoughts: bool = False
    log_body: Any = None


def _obj(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_argument(
            f"Invalid value at '{at}', expected an object.", field_path=at or None
        )
    return value


def _fields(obj: dict[str, Any], known: frozenset[str], at: str) -> dict[str, Any]:
    """Keys camelCased; an unknown one is the proto-JSON 400."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = camel(key)
        if name not in known:
            raise unknown_field(key, at)
        out[name] = value
    return out


def decode_bytes(text: Any, at: str) -> bytes:
    """Proto ``bytes``: standard or URL-safe base64, padding optional."""
    if not isinstance(text, str):
        raise invalid_argument(f"Invalid value at '{at}' (TYPE_BYTES)", field_path=at)
    normal = text.translate(str.maketrans("-_", "+/"))
    normal += "=" * (-len(normal) % 4)
    try:
        return base64.b64decode(normal, validate=True)
    except (binascii.Error, ValueError) as exc:
        shown = text[:20]
        raise invalid_argument(
            f"Invalid value at '{at}' (TYPE_BYTES), Base64 decoding failed for \"{shown}\"",
            field_path=at,
        ) from exc


def _summary(data: bytes, text: str) -> dict[str, Any]:
    alphabet = "url-safe" if ("-" in text or "_" in text) else "standard"
    return {"bytes": len(data), "base64": alphabet}


def parse_body(raw: bytes) -> ParsedRequest:
    """The request body → :class:`ParsedRequest`; 400s as the real API words them."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise invalid_argument(
            f"Request payload size exceeds the limit: {MAX_REQUEST_BYTES} bytes."
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_json(f"Unexpected token. ({exc.msg})") from exc
    top = _fields(_obj(body, ""), TOP_FIELDS, "")
    parsed = ParsedRequest(log_body=body)
    _parse_contents(top.get("contents"), parsed)
    config = top.get("generationConfig")
    if config is not None:
        _parse_generation_config(_obj(config, "generation_config"), parsed)
    return parsed


def _parse_contents(contents: Any, parsed: ParsedRequest) -> None:
    if not isinstance(contents, list) or not contents:
        raise invalid_argument(
            "* GenerateContentRequest.contents: contents is not specified\n",
            field_path="contents",
        )
    texts: list[str] = []
    for i, item in enumerate(contents):
        at = f"contents[{i}]"
        content = _fields(_obj(item, at), CONTENT_FIELDS, at)
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise invalid_argument(
                f"* GenerateContentRequest.{at}.parts: contents.parts must not be empty.\n",
                field_path=f"{at}.parts",
            )
        for j, raw_part in enumerate(parts):
            part_at = f"{at}.parts[{j}]"
            raw_part = _obj(raw_part, part_at)
            part = _fields(raw_part, PART_FIELDS, part_at)
            for key in ("thoughtSignature", "thought_signature"):  # opaque, can be ~600 KB
                if isinstance(raw_part.get(key), str):
                    raw_part[key] = {"chars": len(raw_part[key])}
            if isinstance(part.get("text"), str):
                if not part.get("thought"):
                    texts.append(part["text"])
            elif "inlineData" in part:
                parsed.images.append(_inline(raw_part, part_at))
            elif "fileData" in part:
                raise invalid_argument(
                    "The simulator has no Files API; send images as inlineData.",
                    field_path=f"{part_at}.file_data",
                )
            elif not ({"functionCall", "functionResponse"} & part.keys()):
                raise invalid_argument(
                    f"* GenerateContentRequest.{part_at}.data: required oneof field 'data' must "
                    "have one initialized field\n",
                    field_path=f"{part_at}.data",
                )
    if len(parsed.images) > MAX_INLINE_IMAGES:
        raise invalid_argument(
            f"Too many images: {len(parsed.images)} were sent, at most {MAX_INLINE_IMAGES} are "
            "supported per request.",
            field_path="contents",
        )
    parsed.prompt = " ".join(texts)


def _inline(raw_part: dict[str, Any], at: str) -> InlineImage:
    """Decode an ``inlineData``/``inline_data`` part; its log entry gets a summary instead."""
    key = "inlineData" if "inlineData" in raw_part else "inline_data"
    blob_at = f"{at}.inline_data"
    raw_blob = _obj(raw_part[key], blob_at)
    blob = _fields(raw_blob, BLOB_FIELDS, blob_at)
    mime = blob.get("mimeType")
    if not isinstance(mime, str) or not mime:
        raise invalid_argument(
            f"* GenerateContentRequest.{blob_at}.mime_type: mime_type is required\n",
            field_path=f"{blob_at}.mime_type",
        )
    data = decode_bytes(blob.get("data"), f"{blob_at}.data")
    data_key = "data"
    raw_blob[data_key] = _summary(data, str(raw_blob.get(data_key, "")))  # the log keeps no bytes
    if mime.lower() not in INPUT_MIME_TYPES:
        raise invalid_argument(f"Unsupported MIME type: {mime}", field_path=f"{blob_at}.mime_type")
    if mime.lower() in ("image/png", "image/jpeg", "image/webp"):
        try:
            dimensions(data)
        except ValueError as exc:
            raise invalid_argument(
                "Unable to process input image. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting"
            ) from exc
    return InlineImage(mime.lower(), data)


def _parse_generation_config(config: dict[str, Any], parsed: ParsedRequest) -> None:
    at = "generation_config"
    fields = _fields(config, GENERATION_FIELDS, at)
    modalities = fields.get("responseModalities")
    if modalities is not None:
        if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
            raise invalid_argument(f"Invalid value at '{at}.response_modalities'", field_path=at)
        upper = tuple(m.upper() for m in modalities)
        bad = [m for m, u in zip(modalities, upper, strict=True) if u not in MODALITIES]
        if bad:
            raise invalid_argument(
                f"Invalid value at '{at}.response_modalities[0]' "
                f'({_ENUM_TYPE}.Modality), "{bad[0]}"',
                field_path=f"{at}.response_modalities",
            )
        parsed.modalities = upper
    parsed.seed = _int(fields.get("seed"), f"{at}.seed")
    parsed.candidate_count = _int(fields.get("candidateCount"), f"{at}.candidate_count")
    image_config = fields.get("imageConfig")
    if image_config is not None:
        image = _fields(
            _obj(image_config, f"{at}.image_config"), IMAGE_CONFIG_FIELDS, f"{at}.image_config"
        )
        parsed.aspect_ratio = _str(image.get("aspectRatio"), f"{at}.image_config.aspect_ratio")
        parsed.image_size = _str(image.get("imageSize"), f"{at}.image_config.image_size")
    thinking = fields.get("thinkingConfig")
    if thinking is not None:
        think_at = f"{at}.thinking_config"
        think = _fields(_obj(thinking, think_at), THINKING_FIELDS, think_at)
        level = _str(think.get("thinkingLevel"), f"{think_at}.thinking_level")
        if level is not None and level.upper() not in THINKING_ENUM:
            raise invalid_argument(
                f"Invalid value at '{think_at}.thinking_level' "
                f'({_ENUM_TYPE}.ThinkingLevel), "{level}"',
                field_path=f"{think_at}.thinking_level",
            )
        parsed.thinking_level = level.upper() if level is not None else None
        parsed.include_thoughts = think.get("includeThoughts") is True


def _int(value: Any, at: str) -> int | None:
    """Proto-JSON int32: a number or a numeric string."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid_argument(f"Invalid value at '{at}' (TYPE_INT32), {value!r}", field_path=at)
    try:
        return int(value)
    except ValueError as exc:
        raise invalid_argument(
            f"Invalid value at '{at}' (TYPE_INT32), \"{value}\"", field_path=at
        ) from exc


def _str(value: Any, at: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise invalid_argument(f"Invalid value at '{at}' (TYPE_STRING), {value!r}", field_path=at)


# --------------------------------------------------------------------------------------------
# Per-model checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageJob:
    """A validated request: what to render and what to report."""

    model: str
    rules: ModelRules
    width: int
    height: int
    tier: str
    ratio: str
    wants_image: bool
    wants_text: bool
    thinks: bool
    prompt: str
    seed: int
    images: tuple[InlineImage, ...]


def plan_job(parsed: ParsedRequest, model: str, rules: ModelRules) -> ImageJob:
    """Per-model validation (§1, §10): imageSize with an uppercase K, ratio, thinking, n."""
    if parsed.candidate_count is not None and parsed.candidate_count > 1:
        raise invalid_argument(
            f"Multiple candidates is not enabled for models/{model}",
            field_path="generation_config.candidate_count",
        )
    tier = _tier(parsed.image_size, model, rules)
    ratio = _ratio(parsed, model, rules)
    level = parsed.thinking_level
    if level not in (None, "THINKING_LEVEL_UNSPECIFIED", *rules.thinking_levels):
        allowed = ", ".join(rules.thinking_levels) or "none (thinking is not configurable)"
        raise invalid_argument(
            f"Thinking level {level} is not supported for models/{model}. Supported: {allowed}.",
            field_path="generation_config.thinking_config.thinking_level",
        )
    modalities = parsed.modalities or ("TEXT", "IMAGE")
    if "AUDIO" in modalities:
        raise invalid_argument(
            "The requested combination of response modalities is not supported by the model.",
            field_path="generation_config.response_modalities",
        )
    width, height = rules.pixels(ratio, tier)
    return ImageJob(
        model=model,
        rules=rules,
        width=width,
        height=height,
        tier=tier,
        ratio=ratio,
        wants_image="IMAGE" in modalities,
        wants_text="TEXT" in modalities,
        thinks=rules.always_thinks or level == "HIGH",
        prompt=parsed.prompt,
        seed=parsed.seed or 0,
        images=tuple(parsed.images),
    )


def _tier(size: str | None, model: str, rules: ModelRules) -> str:
    at = "generation_config.image_config.image_size"
    if size is None:
        return "1K"
    if size not in IMAGE_SIZES:  # "2k" (lowercase) lands here: a 400, as widely reported
        raise invalid_argument(
            f"Invalid image size '{size}'. Supported values are: {', '.join(IMAGE_SIZES)} "
            "(uppercase K).",
            field_path=at,
        )
    if not rules.sizes:
        return "1K"  # 2.5 Flash Image: imageSize is not honoured
    if size not in rules.sizes:
        raise invalid_argument(
            f"Image size {size} is not supported for models/{model}. Supported values are: "
            f"{', '.join(rules.sizes)}.",
            field_path=at,
        )
    return size


def _ratio(parsed: ParsedRequest, model: str, rules: ModelRules) -> str:
    ratio = parsed.aspect_ratio
    if ratio is None:  # follows the first reference image, else square (§1)
        for image in parsed.images:
            try:
                width, height = dimensions(image.data)
            except ValueError:
                continue
            return nearest_ratio(width, height, rules.ratios)
        return "1:1"
    if ratio not in rules.ratios:
        raise invalid_argument(
            f"Unsupported aspect ratio: {ratio} for models/{model}. Supported values are: "
            f"{', '.join(rules.ratios)}.",
            field_path="generation_config.image_config.aspect_ratio",
        )
    return ratio
