"""Where each model takes what: the field names of passthrough options, background and quality.

Runware's ``imageInference`` task is shared by every hosted model, but model-specific settings
live in different places. For Sourceful's Riverflow the reference (§3.2) gives two families:

* **Riverflow 2.0** (``sourceful:riverflow-2.0@fast|pro`` and the previews ``sourceful:2@1..3``):
  ``providerSettings.sourceful.{fontInputs: [{fontUrl, text}], transparency, enhancePrompt}`` and
  ``inputs.superResolutionReferences``;
* **Riverflow 2.5** (``sourceful:riverflow-2.5@fast|pro``): ``inputs.fonts: [{url, text}]`` and
  ``settings.{thinkingLevel, backgroundMode, backgroundColor, scoringPrompt, scoringRubric,
  enhancePrompt}``.

The passthrough keys are OpenRouter's names for the same options (``font_inputs``,
``super_resolution_references``, ``scoring_prompt``, ``scoring_rubric`` with snake_case entries,
``background_mode``, ``background_hex_color``) plus ``enhance_prompt``; the public ``background``
maps to 2.0's ``transparency`` / 2.5's ``backgroundMode``, and the public ``quality`` to 2.5's
``thinkingLevel`` (the effort knob that sets its price). OpenRouter's rule for
``background_hex_color`` is kept: alone it implies ``solid``; with another mode it is dropped
(with a warning); malformed it is a 400.

Any other AIR (an operator's ``[[endpoints]]`` entry) gets no renaming: each passthrough option
is sent under its own name, a dotted name (``settings.steps``) as a nested field. The dialect is
chosen by exact AIR, never by pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from providers._reframe import Needs
from providers.errors import InvalidRequest
from providers.spec import GenerateCall

RIVERFLOW_2_0 = frozenset(
    {
        "sourceful:riverflow-2.0@fast",
        "sourceful:riverflow-2.0@pro",
        "sourceful:2@1",
        "sourceful:2@2",
        "sourceful:2@3",
    }
)
RIVERFLOW_2_5 = frozenset({"sourceful:riverflow-2.5@fast", "sourceful:riverflow-2.5@pro"})
# §3.1: "Input images for 2.0 must be 300–2048 px per side"; the adapter scales the others.
RIVERFLOW_2_0_REFERENCES = Needs(min_side=300, max_side=2048)
# Task fields the adapter owns: an option may not set them, by plain or dotted name.
RESERVED = frozenset(
    {
        "taskType",
        "taskUUID",
        "model",
        "positivePrompt",
        "width",
        "height",
        "numberResults",
        "outputType",
        "outputFormat",
        "includeCost",
        "deliveryMethod",
        "webhookURL",
        "inputs.referenceImages",
    }
)
MAX_FONTS = 2
MAX_REFSR = 4
MAX_RUBRIC = 8
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_RUBRIC_KEYS = {"passing_score": "passingScore", "score_guidance": "scoreGuidance"}

Task = dict[str, Any]
Mapper = Callable[[Task, Any, GenerateCall], None]


def apply(task: Task, call: GenerateCall) -> tuple[str, ...]:
    """Put the call's options, background and quality into ``task``; return warnings."""
    air = call.endpoint.upstream_model
    options = {k: v for k, v in call.options.items() if v is not None}
    if air in RIVERFLOW_2_5:
        return _riverflow_25(task, options, call)
    mappers = _RIVERFLOW_20 if air in RIVERFLOW_2_0 else {}
    for key, value in options.items():
        mapper = mappers.get(key)
        if mapper is not None:
            mapper(task, value, call)
        else:
            put(task, key, value)
    if air in RIVERFLOW_2_0:
        if call.background in ("transparent", "opaque"):
            put(task, "providerSettings.sourceful.transparency", call.background == "transparent")
    else:
        _unmapped(call)
    if call.quality is not None and air in RIVERFLOW_2_0:
        _unsupported("quality", call.quality, air)
    return ()


def put(task: Task, path: str, value: Any) -> None:
    """Set ``a.b.c`` in nested dicts; reserved fields cannot be set by an option."""
    if path in RESERVED or path.split(".")[0] in RESERVED:
        raise InvalidRequest(
            f"option '{path}' cannot be passed: the gateway sets it", code="unsupportedParameter"
        )
    *parents, leaf = path.split(".")
    node = task
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise InvalidRequest(
                f"option '{path}' conflicts with '{part}'", code="invalidParameter"
            )
        node = child
    node[leaf] = value


def _unsupported(param: str, value: object, air: str) -> None:
    raise InvalidRequest(
        f"{param} '{value}' has no known Runware field for model {air}", code="unsupportedParameter"
    )


def _unmapped(call: GenerateCall) -> None:
    """Other AIRs: a public background or quality the adapter cannot place is a 400."""
    air = call.endpoint.upstream_model
    if call.background in ("transparent", "opaque"):
        _unsupported("background", call.background, air)
    if call.quality is not None:
        _unsupported("quality", call.quality, air)


# -- shared checks --------------------------------------------------------------------------------


def _items(name: str, value: Any, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise InvalidRequest(
            f"option '{name}' must be a list of {low} to {high} items", code="invalidParameter"
        )
    return value


def _fonts(value: Any, url_key: str) -> list[dict[str, str]]:
    """OpenRouter's ``[{font_url, text}]`` (``fontUrl``/``url`` accepted too) → Runware's."""
    fonts = []
    for item in _items("font_inputs", value, 1, MAX_FONTS):
        if not isinstance(item, Mapping):
            raise InvalidRequest("font_inputs items must be objects", code="invalidParameter")
        url = item.get("font_url", item.get("fontUrl", item.get("url")))
        text = item.get("text")
        if not isinstance(url, str) or not url or not isinstance(text, str) or not text:
            raise InvalidRequest(
                "each font_inputs item needs a font_url and a text", code="invalidParameter"
            )
        fonts.append({url_key: url, "text": text})
    return fonts


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidRequest(f"option '{name}' must be a boolean", code="invalidParameter")
    return value


# -- Riverflow 2.0 --------------------------------------------------------------------------------


def _refsr(task: Task, value: Any, call: GenerateCall) -> None:
    refs = _items("super_resolution_references", value, 1, MAX_REFSR)
    if not all(isinstance(r, str) and r for r in refs):
        raise InvalidRequest(
            "super_resolution_references must be image URLs", code="invalidParameter"
        )
    if not call.input_images:
        raise InvalidRequest(
            "super_resolution_references needs input_references (reference-based "
            "super-resolution is image-to-image only)",
            code="invalidParameter",
        )
    put(task, "inputs.superResolutionReferences", refs)


_RIVERFLOW_20: dict[str, Mapper] = {
    "font_inputs": lambda task, value, _: put(
        task, "providerSettings.sourceful.fontInputs", _fonts(value, "fontUrl")
    ),
    "super_resolution_references": _refsr,
    "enhance_prompt": lambda task, value, _: put(
        task, "providerSettings.sourceful.enhancePrompt", _boolean("enhance_prompt", value)
    ),
}


# -- Riverflow 2.5 --------------------------------------------------------------------------------


def _riverflow_25(task: Task, options: dict[str, Any], call: GenerateCall) -> tuple[str, ...]:
    warnings: tuple[str, ...] = ()
    rest = dict(options)
    if "font_inputs" in rest:
        put(task, "inputs.fonts", _fonts(rest.pop("font_inputs"), "url"))
    if "scoring_prompt" in rest:
        prompt = rest.pop("scoring_prompt")
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequest("scoring_prompt must be a string", code="invalidParameter")
        put(task, "settings.scoringPrompt", prompt)
    if "scoring_rubric" in rest:
        put(task, "settings.scoringRubric", _rubric(rest.pop("scoring_rubric")))
    if "enhance_prompt" in rest:
        put(task, "settings.enhancePrompt", _boolean("enhance_prompt", rest.pop("enhance_prompt")))
    mode, color = rest.pop("background_mode", None), rest.pop("background_hex_color", None)
    if mode == "transparent" and call.output_format == "jpeg":
        # as the public background: JPEG has no alpha (§3.1: "Use PNG/WEBP for transparency")
        raise InvalidRequest(
            "background_mode 'transparent' needs output_format png or webp (JPEG has no alpha)",
            code="incompatibleParameters",
        )
    warnings += _background(task, call.background, mode, color)
    if call.quality is not None:
        put(task, "settings.thinkingLevel", call.quality)
    for key, value in rest.items():
        put(task, key, value)
    return warnings


def _rubric(value: Any) -> list[dict[str, Any]]:
    """OpenRouter's snake_case rubric entries → Runware's camelCase ones."""
    entries = []
    for item in _items("scoring_rubric", value, 1, MAX_RUBRIC):
        if not isinstance(item, Mapping):
            raise InvalidRequest("scoring_rubric entries must be objects", code="invalidParameter")
        entries.append({_RUBRIC_KEYS.get(str(k), str(k)): v for k, v in item.items()})
    return entries


def _background(task: Task, background: str | None, mode: Any, color: Any) -> tuple[str, ...]:
    """``settings.backgroundMode``/``backgroundColor`` from the public field and the options."""
    if mode is not None and mode not in ("original", "transparent", "solid"):
        raise InvalidRequest(
            f"background_mode '{mode}' is not one of original, transparent, solid",
            code="invalidParameter",
        )
    if color is not None and (not isinstance(color, str) or not _HEX.match(color)):
        raise InvalidRequest(
            f"background_hex_color '{color}' is not a #RRGGBB colour", code="invalidParameter"
        )
    if mode is None and color is not None:
        mode = "solid"  # OpenRouter: a colour alone implies a solid background
    wanted = {"transparent": ("transparent",), "opaque": ("original", "solid")}.get(
        background or "", ()
    )
    if wanted and mode is not None and mode not in wanted:
        raise InvalidRequest(
            f"background '{background}' conflicts with background_mode '{mode}'",
            code="incompatibleParameters",
        )
    mode = mode or (wanted[0] if wanted else None)
    if mode is None:
        return ()
    put(task, "settings.backgroundMode", mode)
    if mode == "solid":
        if color is None:
            raise InvalidRequest(
                "background_mode 'solid' needs background_hex_color", code="missingParameter"
            )
        put(task, "settings.backgroundColor", color)
    elif color is not None:
        return (f"background_hex_color ignored: background_mode is '{mode}', not 'solid'",)
    return ()


def reference_needs(air: str) -> Needs | None:
    """What the model takes as reference images, when narrower than what the gateway takes."""
    return RIVERFLOW_2_0_REFERENCES if air in RIVERFLOW_2_0 else None
