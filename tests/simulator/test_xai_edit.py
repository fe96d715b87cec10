"""xAI simulator, edits route: JSON ``image``/``images`` references (xai.md §2.2, §4, §6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.xai_rules import output_size
from tests.simulator.xai_helpers import AUTH, EDITS, XaiLive, decode, live, ref


@pytest.fixture(scope="module")
def live_sim() -> Iterator[XaiLive]:
    with live() as sim:
        yield sim


@pytest.fixture
def sim(live_sim: XaiLive) -> XaiLive:
    live_sim.state.reset()
    return live_sim


def test_one_reference_as_image(sim: XaiLive) -> None:
    resp = sim.edit(image=ref(), response_format="b64_json", aspect_ratio="1:1")
    assert resp.status_code == 200, resp.text
    (item,) = resp.json()["data"]
    assert decode(item["b64_json"]).size == (1024, 1024)
    # one output and one input image, both at grok-imagine-image's $0.02
    assert resp.json()["usage"] == {"cost_in_usd_ticks": 2 * 200_000_000}


def test_several_references_as_images(sim: XaiLive) -> None:
    refs = [ref(), ref(32, 32, "JPEG"), ref(20, 40, "WEBP")]
    resp = sim.edit(images=refs, n=2, response_format="b64_json", model="grok-imagine-image-2.0")
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["data"]) == 2
    # 2.0 default medium 1k: 2 x $0.048 out + 3 x $0.02 in
    assert resp.json()["usage"] == {"cost_in_usd_ticks": 2 * 480_000_000 + 3 * 200_000_000}


def test_type_may_be_left_out(sim: XaiLive) -> None:
    reference = ref()
    del reference["type"]
    assert sim.edit(image=reference).status_code == 200


def test_type_must_be_image_url(sim: XaiLive) -> None:
    resp = sim.edit(image=ref(type="file"))
    assert resp.status_code == 422
    assert "unknown variant `file`, expected `image_url`" in resp.text


def test_unknown_field_in_a_reference_is_422(sim: XaiLive) -> None:
    resp = sim.edit(image=ref(image_url="x"))
    assert resp.status_code == 422 and "unknown field `image_url`" in resp.text


def test_auto_ratio_follows_the_first_reference(sim: XaiLive) -> None:
    resp = sim.edit(image=ref(300, 200), response_format="b64_json")
    assert decode(resp.json()["data"][0]["b64_json"]).size == output_size("3:2", "1k")


def test_url_answer_for_an_edit(sim: XaiLive) -> None:
    resp = sim.edit(image=ref())
    assert resp.json()["data"][0]["url"].startswith(sim.url)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "set image or images"),
        ({"image": ref(), "images": [ref()]}, "either image or images"),
        ({"images": []}, "Between 1 and 3"),
        ({"images": [ref()] * 4}, "Between 1 and 3"),
        ({"image": {"file_id": "file-123"}}, "file_id"),
        ({"image": {"type": "image_url"}}, "set url or file_id"),
        ({"image": {"url": "https://example.com/cat.png"}}, "failed to fetch"),
        ({"image": {"url": "data:image/png;base64,@@@"}}, "not valid base64"),
        ({"image": {"url": "data:image/png;base64,aGVsbG8="}}, "unsupported or corrupt"),
    ],
)
def test_bad_references_are_400(sim: XaiLive, body: dict[str, object], fragment: str) -> None:
    resp = sim.edit(**body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid-argument"
    assert fragment in resp.json()["error"]


def test_edits_are_json_only(sim: XaiLive) -> None:
    resp = sim.http.post(
        EDITS, data={"prompt": "x"}, files={"image": ("a.png", b"\x89PNG")}, headers=AUTH
    )
    assert resp.status_code == 415 and resp.headers["content-type"].startswith("text/plain")


def test_edits_also_refuse_size(sim: XaiLive) -> None:
    resp = sim.edit(image=ref(), size="1024x1024")
    assert resp.status_code == 400 and resp.json()["error"] == "Argument not supported: size"


def test_log_summarises_the_data_urls(sim: XaiLive) -> None:
    sim.edit(images=[ref(), ref(32, 32, "JPEG")], response_format="b64_json")
    body = sim.last()["body"]
    assert body["prompt"] == "make it blue"
    assert [r["type"] for r in body["images"]] == ["image_url", "image_url"]
    assert [r["url"]["data_url"] for r in body["images"]] == [
        "image/png;base64",
        "image/jpeg;base64",
    ]
    assert all(r["url"]["base64_chars"] > 0 for r in body["images"])
    assert "base64," not in str(body)
