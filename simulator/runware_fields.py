"""Validation of the model-specific parts of an ``imageInference`` task (reference §3.2):
``inputs`` (references, refSR, 2.5 fonts), 2.5 ``settings`` and 2.0 ``providerSettings.sourceful``.
"""

from __future__ import annotations

import re

from simulator.runware_checker import Checker, InferenceJob
from simulator.runware_images import DecodedImage, decode_image

BACKGROUND_MODES = ("original", "transparent", "solid")
MAX_FONT_TEXT = 300  # [3P Replicate]
MAX_INPUT_BYTES = 20 * 1024 * 1024  # 2.0 inputs (§3.1)
INPUT_EDGE_2_0 = (300, 2048)
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
REFSR_KEYS = ("superResolutionReferences", "superResolutionReferenceImages")
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


def check_inputs(c: Checker, job: InferenceJob) -> None:
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


def _image(c: Checker, parameter: str, value: object, family: str) -> DecodedImage:
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


def _fonts(c: Checker, parameter: str, value: object, *, url_key: str) -> None:
    for i, item in enumerate(c.items(parameter, value, 1, 2)):
        font = c.obj(f"{parameter}.{i}", item)
        c.string(f"{parameter}.{i}.{url_key}", font.get(url_key))
        text = c.string(f"{parameter}.{i}.text", font.get("text"))
        if len(text) > MAX_FONT_TEXT:
            raise c.invalid(
                f"{parameter}.{i}.text", f"Font text is limited to {MAX_FONT_TEXT} characters."
            )


def check_settings(c: Checker, job: InferenceJob) -> None:
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


def _rubric(c: Checker, value: object) -> None:
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


def check_provider_settings(c: Checker, job: InferenceJob) -> None:
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
