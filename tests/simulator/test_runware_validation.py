"""Runware simulator: strict per-task validation (reference sourceful.md §3, checklist §9)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulator.runware_support import (
    FAST_20,
    PRO_20,
    PRO_25,
    LiveRunware,
    data_uri,
    live_runware,
    only_error,
    png,
    rw,
    task,
)

__all__ = ["live_runware", "rw"]

REF = data_uri(png(320, 320))
FONT_20 = {"fontUrl": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}
FONT_25 = {"url": "https://cdn.example.com/agu.woff2", "text": "LIMITED EDITION"}
RUBRIC = {"key": "legible", "label": "Legible", "description": "Text is readable", "weight": 1}

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("task uuid not a uuid", {"taskUUID": "u1"}, "invalidTaskUUID", "taskUUID"),
    (
        "task uuid not v4",
        {"taskUUID": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
        "invalidTaskUUID",
        "taskUUID",
    ),
    ("unknown model", {"model": "sourceful:riverflow-9@fast"}, "invalidModel", "model"),
    ("one-char prompt", {"positivePrompt": "a"}, "invalidPositivePrompt", "positivePrompt"),
    ("width without height", {"height": None}, "missingParameter", "height"),
    ("height without width", {"width": None}, "missingParameter", "width"),
    ("size not listed", {"width": 1000, "height": 1000}, "unsupportedDimensions", "width"),
    ("2.0 size on 2.5", {"width": 1280, "height": 720}, "unsupportedDimensions", "width"),
    (
        "4K on fast",
        {"model": FAST_20, "width": 4096, "height": 4096},
        "unsupportedDimensions",
        "width",
    ),
    (
        "2.5: resolution with width/height",
        {"resolution": "1K"},
        "incompatibleParameters",
        "resolution",
    ),
    (
        "4K resolution on fast",
        {"width": None, "height": None, "resolution": "4K"},
        "invalidParameter",
        "resolution",
    ),
    (
        "preview without size",
        {"model": "sourceful:2@1", "width": None, "height": None},
        "missingParameter",
        "width",
    ),
    (
        "5:4 on a preview",
        {"model": "sourceful:2@1", "width": 1120, "height": 896},
        "unsupportedDimensions",
        "width",
    ),
    (
        "solid without colour",
        {"settings": {"backgroundMode": "solid"}},
        "missingParameter",
        "settings.backgroundColor",
    ),
    (
        "bad hex colour",
        {"settings": {"backgroundMode": "solid", "backgroundColor": "red"}},
        "invalidParameter",
        "settings.backgroundColor",
    ),
    (
        "5 references on fast",
        {"inputs": {"referenceImages": [REF] * 5}},
        "invalidParameter",
        "inputs.referenceImages",
    ),
    (
        "11 references on pro",
        {"model": PRO_25, "inputs": {"referenceImages": [REF] * 11}},
        "invalidParameter",
        "inputs.referenceImages",
    ),
    (
        "3 fonts on 2.5",
        {"inputs": {"fonts": [FONT_25] * 3}},
        "invalidParameter",
        "inputs.fonts",
    ),
    (
        "2.5 font with fontUrl",
        {"inputs": {"fonts": [FONT_20]}},
        "invalidParameter",
        "inputs.fonts.0.url",
    ),
    (
        "3 fonts on 2.0",
        {"model": FAST_20, "providerSettings": {"sourceful": {"fontInputs": [FONT_20] * 3}}},
        "invalidParameter",
        "providerSettings.sourceful.fontInputs",
    ),
    (
        "font text over 300",
        {
            "model": FAST_20,
            "providerSettings": {"sourceful": {"fontInputs": [{**FONT_20, "text": "x" * 301}]}},
        },
        "invalidParameter",
        "providerSettings.sourceful.fontInputs.0.text",
    ),
    (
        "5 refSR references",
        {
            "model": PRO_20,
            "inputs": {"referenceImages": [REF], "superResolutionReferences": [REF] * 5},
        },
        "invalidParameter",
        "inputs.superResolutionReferences",
    ),
    (
        "refSR without references",
        {"model": PRO_20, "inputs": {"superResolutionReferences": [REF]}},
        "missingParameter",
        "inputs.referenceImages",
    ),
    (
        "2.0 input below 300 px",
        {"model": FAST_20, "inputs": {"referenceImages": [data_uri(png(96, 96))]}},
        "invalidParameter",
        "inputs.referenceImages",
    ),
    (
        "not an image",
        {"inputs": {"referenceImages": ["%%%"]}},
        "invalidParameter",
        "inputs.referenceImages",
    ),
    ("quality 19", {"outputQuality": 19}, "invalidParameter", "outputQuality"),
    ("quality 100", {"outputQuality": 100}, "invalidParameter", "outputQuality"),
    ("output type", {"outputType": "base64"}, "invalidParameter", "outputType"),
    ("output format", {"outputFormat": "GIF"}, "invalidParameter", "outputFormat"),
    ("lower-case format", {"outputFormat": "png"}, "invalidParameter", "outputFormat"),
    (
        "xhigh on fast",
        {"settings": {"thinkingLevel": "xhigh"}},
        "invalidParameter",
        "settings.thinkingLevel",
    ),
    (
        "thinking level",
        {"settings": {"thinkingLevel": "max"}},
        "invalidParameter",
        "settings.thinkingLevel",
    ),
    (
        "background mode",
        {"settings": {"backgroundMode": "blurred"}},
        "invalidParameter",
        "settings.backgroundMode",
    ),
    (
        "9 rubric entries",
        {"settings": {"scoringRubric": [RUBRIC] * 9}},
        "invalidParameter",
        "settings.scoringRubric",
    ),
    (
        "rubric weight missing",
        {"settings": {"scoringRubric": [{**RUBRIC, "weight": None}]}},
        "invalidParameter",
        "settings.scoringRubric.0.weight",
    ),
    ("delivery method", {"deliveryMethod": "webhook"}, "invalidParameter", "deliveryMethod"),
    ("number results 0", {"numberResults": 0}, "invalidParameter", "numberResults"),
    (
        "resolution on a preview",
        {"model": "sourceful:2@1", "resolution": "1K"},
        "unsupportedParameter",
        "resolution",
    ),
]


@pytest.mark.parametrize(
    ("fields", "code", "parameter"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_each_bad_task_is_one_400_naming_the_parameter(
    rw: LiveRunware, fields: dict[str, Any], code: str, parameter: str
) -> None:
    body = task(**fields)
    resp = rw.run(body)
    assert resp.status_code == 400, resp.text
    error = only_error(resp)
    assert (error["code"], error["parameter"]) == (code, parameter), error
    assert error["taskType"] == "imageInference"
    if code != "invalidTaskUUID":
        assert error["taskUUID"] == body["taskUUID"]
    assert error["message"]


GOOD: list[tuple[str, dict[str, Any]]] = [
    (
        "2.5 with fonts, rubric and solid colour",
        {
            "width": 1024,
            "height": 768,
            "inputs": {"referenceImages": [REF], "fonts": [FONT_25, FONT_25]},
            "settings": {
                "thinkingLevel": "low",
                "backgroundMode": "solid",
                "backgroundColor": "#F6F1E8",
                "scoringPrompt": "Is the label legible?",
                "scoringRubric": [
                    {
                        **RUBRIC,
                        "passingScore": 3,
                        "scoreGuidance": [{"score": 5, "description": "crisp"}],
                    }
                ],
                "enhancePrompt": True,
            },
        },
    ),
    (
        "2.0 with refSR (SDK name) and fonts",
        {
            "model": PRO_20,
            "inputs": {"referenceImages": [REF], "superResolutionReferences": [REF] * 4},
            "providerSettings": {"sourceful": {"fontInputs": [FONT_20], "enhancePrompt": True}},
        },
    ),
    (
        "2.0 with refSR (skill name)",
        {
            "model": PRO_20,
            "inputs": {"referenceImages": [REF], "superResolutionReferenceImages": [REF]},
        },
    ),
    ("xhigh on pro", {"model": PRO_25, "settings": {"thinkingLevel": "xhigh"}}),
    ("2.0 resolution alone", {"model": FAST_20, "width": None, "height": None, "resolution": "2K"}),
    ("4 references on fast", {"inputs": {"referenceImages": [REF] * 4}}),
    ("10 references on pro", {"model": PRO_25, "inputs": {"referenceImages": [REF] * 10}}),
    ("quality bounds", {"outputFormat": "JPG", "outputQuality": 20}),
    ("preview 7:3", {"model": "sourceful:2@2", "width": 1512, "height": 648}),
    ("unknown keys are ignored", {"negativePrompt": "blurry", "seed": 4}),
    ("2.0 fields on 2.5 are unknown keys", {"providerSettings": {"sourceful": {"x": 1}}}),
]


@pytest.mark.parametrize("fields", [g[1] for g in GOOD], ids=[g[0] for g in GOOD])
def test_valid_tasks_pass(rw: LiveRunware, fields: dict[str, Any]) -> None:
    resp = rw.run(task(outputType="URL", **fields))
    assert resp.status_code == 200, resp.text
    assert "errors" not in resp.json()


def test_strict_mode_rejects_unknown_keys(rw: LiveRunware) -> None:
    rw.state.config.strict = True
    error = only_error(rw.run(task(negativePrompt="blurry")))
    assert (error["code"], error["parameter"]) == ("unsupportedParameter", "negativePrompt")
    error = only_error(rw.run(task(settings={"thinking": "low"})))
    assert error["parameter"] == "settings.thinking"
    error = only_error(rw.run(task(inputs={"superResolutionReferences": [REF]})))
    assert error["parameter"] == "inputs.superResolutionReferences"  # not a 2.5 field
    rw.state.config.strict = False
    assert rw.run(task(negativePrompt="blurry")).status_code == 200


def test_strict_by_directive(rw: LiveRunware) -> None:
    resp = rw.run(task(prompt="a cat [sim:strict]", seed=3))
    assert only_error(resp)["code"] == "unsupportedParameter"


def test_strict_switch_over_the_admin_route(rw: LiveRunware) -> None:
    resp = rw.http.post("/_sim/runware", json={"strict": True, "async_polls": 1})
    assert resp.json() == {"strict": True, "balance_usd": None, "async_polls": 1}
    assert rw.http.post("/_sim/runware", json={"strict": "yes"}).status_code == 400
    assert rw.state.config.strict is True
    rw.http.post("/_sim/reset")
    assert rw.http.get("/_sim/runware").json()["strict"] is False


def test_one_error_per_bad_task(rw: LiveRunware) -> None:
    a, b = task(positivePrompt="x"), task(width=1000, height=1000)
    resp = rw.run(a, b)
    assert resp.status_code == 400
    errors = resp.json()["errors"]
    assert [(e["taskUUID"], e["code"]) for e in errors] == [
        (a["taskUUID"], "invalidPositivePrompt"),
        (b["taskUUID"], "unsupportedDimensions"),
    ]


def test_unknown_task_type(rw: LiveRunware) -> None:
    error = only_error(rw.run({"taskType": "videoInference", "taskUUID": task()["taskUUID"]}))
    assert (error["code"], error["parameter"]) == ("invalidParameter", "taskType")


def test_unknown_directive_is_a_prompt_error(rw: LiveRunware) -> None:
    error = only_error(rw.run(task(prompt="a cat [sim:nope]")))
    assert error["code"] == "invalidPositivePrompt"
