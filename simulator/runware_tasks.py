"""Strict validation of one ``imageInference`` task.

Pure apart from the image-store lookup passed in: a task dict goes in, an :class:`InferenceJob`
comes out, or a :class:`TaskError` (400, ``parameter`` set) is raised. One error per bad task:
the first problem found. Unknown keys are ignored unless ``strict`` (then
``unsupportedParameter``); both refSR spellings are accepted (§3.2 name conflict).

Codes marked [INF] in the reference's checklist (``invalidTaskUUID``, ``unsupportedDimensions``)
are used as given there.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from simulator.render import ImageFormat
from simulator.runware_checker import Checker, ImageLookup, InferenceJob
from simulator.runware_fields import check_inputs, check_provider_settings, check_settings
from simulator.runware_models import MODELS, RunwareModel

OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
OUTPUT_FORMATS: dict[str, ImageFormat] = {"JPG": "jpeg", "PNG": "png", "WEBP": "webp"}
MAX_NUMBER_RESULTS = 20  # [INF] the reference leaves the maximum open

COMMON_KEYS = frozenset(
    {
        "taskType",
        "taskUUID",
        "model",
        "positivePrompt",
        "width",
        "height",
        "resolution",
        "numberResults",
        "outputType",
        "outputFormat",
        "outputQuality",
        "includeCost",
        "deliveryMethod",
        "webhookURL",
        "ttl",
        "safety",
        "inputs",
    }
)
FAMILY_KEYS = {"2.0": {"providerSettings"}, "preview": {"providerSettings"}, "2.5": {"settings"}}

__all__ = ["InferenceJob", "validate_inference"]


def validate_inference(
    task: Mapping[str, Any], *, strict: bool, lookup: ImageLookup
) -> InferenceJob:
    """The job described by ``task``, or the TaskError for its first problem."""
    c = Checker(task, strict, lookup)
    task_uuid = _task_uuid(c)
    model = _model(c)
    prompt = task.get("positivePrompt")
    if not isinstance(prompt, str) or len(prompt.strip()) < 2:
        raise c.fail(
            "invalidPositivePrompt",
            "Invalid value for 'positivePrompt': it must be a string of at least 2 characters.",
            "positivePrompt",
        )
    c.unknown_keys(task, COMMON_KEYS | FAMILY_KEYS[model.family], "")
    width, height, tier = _dimensions(c, model)
    job = InferenceJob(task_uuid, model, prompt, width, height, tier)
    _output(c, job)
    check_inputs(c, job)
    if model.family == "2.5":
        check_settings(c, job)
    else:
        check_provider_settings(c, job)
    return job


def _task_uuid(c: Checker) -> str:
    raw = c.task.get("taskUUID")
    try:
        parsed = uuid.UUID(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.version != 4 or str(parsed) != raw.lower():  # type: ignore[union-attr]
        raise c.fail(
            "invalidTaskUUID", "Invalid value for 'taskUUID': expected a UUID v4.", "taskUUID"
        )
    return str(raw)


def _model(c: Checker) -> RunwareModel:
    air = c.task.get("model")
    model = MODELS.get(air) if isinstance(air, str) else None
    if model is None:
        raise c.fail("invalidModel", f"Invalid model: '{air}' is not a known model AIR.", "model")
    return model


def _dimensions(c: Checker, model: RunwareModel) -> tuple[int, int, str]:
    task = c.task
    width, height = task.get("width"), task.get("height")
    resolution = task.get("resolution")
    if resolution is not None:
        if not model.takes_resolution:
            raise c.fail(
                "unsupportedParameter", "This model does not take 'resolution'.", "resolution"
            )
        c.enum("resolution", resolution, tuple(model.sizes))
    if (width is None) != (height is None):
        missing = "height" if height is None else "width"
        raise c.fail(
            "missingParameter",
            f"'width' and 'height' must be used together: '{missing}' is missing.",
            missing,
        )
    if width is None:
        if model.needs_size:
            raise c.fail("missingParameter", "Missing required parameter: 'width'.", "width")
        tier = resolution or "1K"
        edge = 1024 * {"1K": 1, "2K": 2, "4K": 4}[tier]
        return edge, edge, tier
    if resolution is not None and model.family == "2.5":
        raise c.fail(
            "incompatibleParameters",
            "'resolution' cannot be used with 'width'/'height'.",
            "resolution",
        )
    width = c.integer("width", width, 1, 100_000)
    height = c.integer("height", height, 1, 100_000)
    tier_of = model.tier_of(width, height)
    if tier_of is None:
        raise c.fail(
            "unsupportedDimensions",
            f"Unsupported dimensions {width}x{height} for {model.air}. "
            f"Supported: {', '.join(model.all_sizes())}.",
            "width",
        )
    return width, height, tier_of


def _output(c: Checker, job: InferenceJob) -> None:
    task = c.task
    if "numberResults" in task:
        job.number_results = c.integer(
            "numberResults", task["numberResults"], 1, MAX_NUMBER_RESULTS
        )
    if "outputType" in task:
        raw = task["outputType"]
        values = raw if isinstance(raw, list) and raw else [raw]
        job.output_types = tuple(
            dict.fromkeys(c.enum("outputType", v, OUTPUT_TYPES) for v in values)
        )
    if "outputFormat" in task:
        job.output_format = OUTPUT_FORMATS[
            c.enum("outputFormat", task["outputFormat"], tuple(OUTPUT_FORMATS))
        ]
    if "outputQuality" in task:
        job.output_quality = c.integer("outputQuality", task["outputQuality"], 20, 99)
    if "includeCost" in task:
        job.include_cost = c.boolean("includeCost", task["includeCost"])
    if "deliveryMethod" in task:
        job.asynchronous = (
            c.enum("deliveryMethod", task["deliveryMethod"], ("sync", "async")) == "async"
        )
    if "webhookURL" in task:
        c.string("webhookURL", task["webhookURL"])
    if "ttl" in task:
        c.integer("ttl", task["ttl"], 1, 10**9)
    if "safety" in task:
        safety = c.obj("safety", task["safety"])
        if "checkContent" in safety:
            job.check_content = c.boolean("safety.checkContent", safety["checkContent"])
