"""Strict validation of one ``imageInference`` task (reference ``providers/sourceful.md`` §3, §9).

Pure apart from the image-store lookup passed in: a task dict goes in, an :class:`InferenceJob`
comes out, or a :class:`TaskError` (400, ``parameter`` set) is raised. One error per bad task:
the first problem found. Unknown keys are ignored unless ``strict`` (then
``unsupportedParameter``); both refSR spellings are accepted (§3.2 name conflict).

Codes marked [INF] in the reference's checklist (``invalidTaskUUID``, ``unsupportedDimensions``)
are used as given there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.render import ImageFormat
from simulator.runware_errors import TaskError
from simulator.runware_images import DecodedImage, decode_image
from simulator.runware_models import MODELS, RunwareModel

OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
OUTPUT_FORMATS: dict[str, ImageFormat] = {"JPG": "jpeg", "PNG": "png", "WEBP": "webp"}
BACKGROUND_MODES = ("original", "transparent", "solid")
MAX_NUMBER_RESULTS = 20  # [INF] the reference leaves the maximum open
MAX_FONT_TEXT = 300  # [3P Replicate]
MAX_INPUT_BYTES = 20 * 1024 * 1024  # 2.0 inputs (§3.1)
INPUT_EDGE_2_0 = (300, 2048)
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
REFSR_KEYS = ("superResolutionReferences", "superResolutionReferenceImages")

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
INPUT_KEYS = {
    "2.0": {"referenceImages", *REFSR_KEYS},
    "preview": {"referenceImages", *REFSR_KEYS},
    "2.5": {"referenceImages", "fonts"},
}
SETTINGS_KEYS = frozenset(
    {
        "thinkingLevel",
        "backgroundMode",
        "backgroundColor",
        "scoringPrompt",
        "scoringRubric",
        "enhancePrompt",
    }
)
SOURCEFUL_KEYS = frozenset({"fontInputs", "transparency", "enhancePrompt"})

ImageLookup = Callable[[str], bytes | None]


@dataclass
class InferenceJob:
    """A valid task, ready to render."""

    task_uuid: str
    model: RunwareModel
    prompt: str
    width: int
    height: int
    tier: str
    number_results: int = 1
    output_types: tuple[str, ...] = ("URL",)
    output_format: ImageFormat = "jpeg"
    output_quality: int = 95
    include_cost: bool = False
    asynchronous: bool = False
    thinking: str | None = None
    transparent: bool = False
    check_content: bool = False
    references: list[DecodedImage] = field(default_factory=list)

    @property
    def unit_cost(self) -> Decimal:
        """USD for one image of this task (§8)."""
        return self.model.price(self.tier, self.thinking)


class _Checker:
    """Raises the first problem of one task as a TaskError carrying its taskUUID."""

    def __init__(self, task: Mapping[str, Any], strict: bool, lookup: ImageLookup) -> None:
        self.task = task
        self.strict = strict
        self.lookup = lookup
        raw = task.get("taskUUID")
        self.uuid = raw if isinstance(raw, str) else None

    def fail(self, code: str, message: str, parameter: str) -> TaskError:
        return TaskError(code, message, parameter=parameter, task_uuid=self.uuid)

    def invalid(self, parameter: str, message: str) -> TaskError:
        return self.fail("invalidParameter", message, parameter)

    def unknown_keys(
        self, obj: Mapping[str, Any], known: frozenset[str] | set[str], where: str
    ) -> None:
        if not self.strict:
            return
        for key in obj:
            if key not in known:
                name = f"{where}.{key}" if where else key
                raise self.fail("unsupportedParameter", f"Unsupported parameter: '{name}'.", name)

    def enum(self, parameter: str, value: object, allowed: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise self.invalid(
                parameter, f"Invalid value for '{parameter}'. Allowed: {', '.join(allowed)}."
            )
        return value

    def boolean(self, parameter: str, value: object) -> bool:
        if not isinstance(value, bool):
            raise self.invalid(parameter, f"'{parameter}' must be a boolean.")
        return value

    def integer(self, parameter: str, value: object, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.invalid(parameter, f"'{parameter}' must be an integer from {low} to {high}.")
        return value

    def obj(self, parameter: str, value: object) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.invalid(parameter, f"'{parameter}' must be an object.")
        return value

    def items(self, parameter: str, value: object, low: int, high: int) -> list[Any]:
        if not isinstance(value, list):
            raise self.invalid(parameter, f"'{parameter}' must be an array.")
        if not low <= len(value) <= high:
            raise self.invalid(
                parameter, f"'{parameter}' must have {low} to {high} items, got {len(value)}."
            )
        return value

    def string(self, parameter: str, value: object) -> str:
        if not isinstance(value, str) or not value:
            raise self.invalid(parameter, f"'{parameter}' must be a non-empty string.")
        return value


def validate_inference(
    task: Mapping[str, Any], *, strict: bool, lookup: ImageLookup
) -> InferenceJob:
    """The job described by ``task``, or the TaskError for its first problem."""
    c = _Checker(task, strict, lookup)
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
    _inputs(c, job)
    if model.family == "2.5":
        _settings(c, job)
    else:
        _provider_settings(c, job)
    return job


def _task_uuid(c: _Checker) -> str:
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


def _model(c: _Checker) -> RunwareModel:
    air = c.task.get("model")
    model = MODELS.get(air) if isinstance(air, str) else None
    if model is None:
        raise c.fail("invalidModel", f"Invalid model: '{air}' is not a known model AIR.", "model")
    return model


def _dimensions(c: _Checker, model: RunwareModel) -> tuple[int, int, str]:
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


def _output(c: _Checker, job: InferenceJob) -> None:
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


def _inputs(c: _Checker, job: InferenceJob) -> None:
    if "inputs" not in c.task:
        return
    inputs = c.obj("inputs", c.task["inputs"])
    family = job.model.family
    c.unknown_keys(inputs, INPUT_KEYS[family], "inputs")
    refs = inputs.get("referenceImages")
    if refs is not None:
        items = c.items("inputs.referenceImages", refs, 1, job.model.max_references)
        job.references = [_image(c, "inputs.referenceImages", item, family) for item in items]
    if family != "2.5":
        for key in REFSR_KEYS:
            if key in inputs:
                items = c.items(f"inputs.{key}", inputs[key], 1, 4)
                for item in items:
                    _image(c, f"inputs.{key}", item, family)
                if not job.references:  # [INF] refSR is image-to-image only (§3.2)
                    raise c.fail(
                        "missingParameter",
                        f"'inputs.{key}' needs 'inputs.referenceImages'.",
                        "inputs.referenceImages",
                    )
    elif "fonts" in inputs:
        _fonts(c, "inputs.fonts", inputs["fonts"], url_key="url")


def _image(c: _Checker, parameter: str, value: object, family: str) -> DecodedImage:
    if not isinstance(value, str) or not value:
        raise c.invalid(parameter, f"'{parameter}' items must be strings.")
    try:
        image = decode_image(value, c.lookup)
    except ValueError as exc:
        raise c.invalid(parameter, f"Invalid image in '{parameter}': {exc}.") from exc
    if family == "2.0" and image.size is not None:
        low, high = INPUT_EDGE_2_0
        if not all(low <= edge <= high for edge in image.size) or image.nbytes > MAX_INPUT_BYTES:
            raise c.invalid(
                parameter,
                f"Input images must be {low}-{high} px per side and at most 20 MB; "
                f"got {image.size[0]}x{image.size[1]}.",
            )
    return image


def _fonts(c: _Checker, parameter: str, value: object, *, url_key: str) -> None:
    for i, item in enumerate(c.items(parameter, value, 1, 2)):
        font = c.obj(f"{parameter}.{i}", item)
        c.string(f"{parameter}.{i}.{url_key}", font.get(url_key))
        text = c.string(f"{parameter}.{i}.text", font.get("text"))
        if len(text) > MAX_FONT_TEXT:
            raise c.invalid(
                f"{parameter}.{i}.text", f"Font text is limited to {MAX_FONT_TEXT} characters."
            )


def _settings(c: _Checker, job: InferenceJob) -> None:
    if "settings" not in c.task:
        return
    settings = c.obj("settings", c.task["settings"])
    c.unknown_keys(settings, SETTINGS_KEYS, "settings")
    if "thinkingLevel" in settings:
        job.thinking = c.enum(
            "settings.thinkingLevel", settings["thinkingLevel"], job.model.thinking_levels
        )
    mode = "original"
    if "backgroundMode" in settings:
        mode = c.enum("settings.backgroundMode", settings["backgroundMode"], BACKGROUND_MODES)
    color = settings.get("backgroundColor")
    if color is not None and (not isinstance(color, str) or not _HEX.match(color)):
        raise c.invalid(
            "settings.backgroundColor",
            "'settings.backgroundColor' must be a hex colour such as #F6F1E8.",
        )
    if mode == "solid" and color is None:
        raise c.fail(
            "missingParameter",
            "When 'settings.backgroundMode' is 'solid', 'settings.backgroundColor' is required.",
            "settings.backgroundColor",
        )
    job.transparent = mode == "transparent"
    if "scoringPrompt" in settings:
        c.string("settings.scoringPrompt", settings["scoringPrompt"])
    if "scoringRubric" in settings:
        _rubric(c, settings["scoringRubric"])
    if "enhancePrompt" in settings:
        c.boolean("settings.enhancePrompt", settings["enhancePrompt"])


def _rubric(c: _Checker, value: object) -> None:
    for i, raw in enumerate(c.items("settings.scoringRubric", value, 1, 8)):
        where = f"settings.scoringRubric.{i}"
        entry = c.obj(where, raw)
        for key in ("key", "label", "description"):
            c.string(f"{where}.{key}", entry.get(key))
        for key in ("weight", "passingScore"):
            number = entry.get(key)
            if (key == "weight" or number is not None) and (
                isinstance(number, bool) or not isinstance(number, int | float)
            ):
                raise c.invalid(f"{where}.{key}", f"'{where}.{key}' must be a number.")
        if "scoreGuidance" in entry:
            for j, guide in enumerate(
                c.items(f"{where}.scoreGuidance", entry["scoreGuidance"], 1, 20)
            ):
                g = c.obj(f"{where}.scoreGuidance.{j}", guide)
                score = g.get("score")
                if isinstance(score, bool) or not isinstance(score, int | float):
                    raise c.invalid(f"{where}.scoreGuidance.{j}.score", "'score' must be a number.")
                c.string(f"{where}.scoreGuidance.{j}.description", g.get("description"))


def _provider_settings(c: _Checker, job: InferenceJob) -> None:
    if "providerSettings" not in c.task:
        return
    settings = c.obj("providerSettings", c.task["providerSettings"])
    if "sourceful" not in settings:
        return
    sourceful = c.obj("providerSettings.sourceful", settings["sourceful"])
    c.unknown_keys(sourceful, SOURCEFUL_KEYS, "providerSettings.sourceful")
    if "fontInputs" in sourceful:
        _fonts(
            c, "providerSettings.sourceful.fontInputs", sourceful["fontInputs"], url_key="fontUrl"
        )
    if "transparency" in sourceful:
        job.transparent = c.boolean(
            "providerSettings.sourceful.transparency", sourceful["transparency"]
        )
    if "enhancePrompt" in sourceful:
        c.boolean("providerSettings.sourceful.enhancePrompt", sourceful["enhancePrompt"])
