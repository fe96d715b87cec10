"""BFL simulator, submit side: x-key, the AsyncResponse, 422/402/429, cost in credits (bfl.md §2-§3, §6-§7, §9)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.simulator.bfl_support import KEY, LiveBfl, png_b64


@pytest.fixture(scope="module")
def live() -> Iterator[LiveBfl]:
    sim = LiveBfl()
    yield sim
    sim.close()


@pytest.fixture
def bfl(live: LiveBfl) -> LiveBfl:
    live.state.reset()
    return live


# -- auth and the answer ---------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_submit_without_the_right_x_key_is_401_not_authenticated(
    bfl: LiveBfl, key: str | None
) -> None:
    resp = bfl.submit(key=key)
    assert resp.status_code == 401
    assert resp.json() == {"detail": "Not authenticated"}
    assert bfl.state.tasks.active(KEY) == 0


def test_a_bearer_token_is_not_bfl_auth(bfl: LiveBfl) -> None:
    resp = bfl.http.post(
        f"{bfl.url}/v1/flux-2-pro",
        json={"prompt": "x"},
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert resp.status_code == 401


def test_submit_answers_the_async_response(bfl: LiveBfl) -> None:
    answer = bfl.task(width=1024, height=1024)
    assert set(answer) == {"id", "polling_url", "cost", "input_mp", "output_mp"}
    assert answer["cost"] == 3.0 and answer["input_mp"] == 0 and answer["output_mp"] == 1.05


def test_polling_url_names_another_host_alias_and_the_cluster_path(bfl: LiveBfl) -> None:
    answer = bfl.task()
    port = bfl.url.rsplit(":", 1)[1]
    assert answer["polling_url"] == (
        f"http://localhost:{port}/cluster2/v1/get_result?id={answer['id']}"
    )
    assert bfl.poll(answer["polling_url"]).json()["status"] in ("Pending", "Generating", "Ready")


def test_a_rebuilt_polling_url_finds_no_task(bfl: LiveBfl) -> None:
    answer = bfl.task()
    rebuilt = bfl.poll(f"{bfl.url}/v1/get_result?id={answer['id']}")
    assert rebuilt.status_code == 200
    assert rebuilt.json()["status"] == "Task not found"


def test_alias_and_cluster_are_knobs(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"host_alias": False, "polling_cluster": ""})
    answer = bfl.task()
    assert answer["polling_url"] == f"{bfl.url}/v1/get_result?id={answer['id']}"
    assert bfl.poll(answer["polling_url"]).json()["id"] == answer["id"]


def test_unknown_model_is_fastapi_404(bfl: LiveBfl) -> None:
    resp = bfl.submit("flux-9-ultra")
    assert resp.status_code == 404 and resp.json() == {"detail": "Not Found"}


def test_request_log_summarises_images_and_redacts_the_key(bfl: LiveBfl) -> None:
    bfl.task(input_image=png_b64(96, 64))
    (entry,) = bfl.state.log.entries
    assert entry["method"] == "POST" and entry["path"] == "/v1/flux-2-pro"
    assert entry["headers"]["x-key"] == "<redacted>"
    assert entry["body"]["input_image"] == {
        "base64_bytes": entry["body"]["input_image"]["base64_bytes"],
        "format": "png",
        "size": [96, 64],
    }
    assert KEY not in str(entry)


# -- 422 validation --------------------------------------------------------------------------


def _problems(resp: httpx.Response) -> list[tuple[str, tuple[Any, ...]]]:
    assert resp.status_code == 422, resp.text
    return [(p["type"], tuple(p["loc"])) for p in resp.json()["detail"]]


@pytest.mark.parametrize(
    ("model", "body", "expected"),
    [
        ("flux-2-pro", {"width": 1000, "height": 1024}, ("multiple_of", ("body", "width"))),
        ("flux-2-pro", {"width": 48, "height": 1024}, ("greater_than_equal", ("body", "width"))),
        ("flux-2-pro", {"width": 2048, "height": 2064}, ("value_error", ("body",))),
        # "product <= 4 MP" in decimal megapixels (bfl.md §2.1, §3): 4,194,304 px is over
        ("flux-2-pro", {"width": 2048, "height": 2048}, ("value_error", ("body",))),
        ("flux-2-klein-4b", {"width": 2016, "height": 2000}, ("value_error", ("body",))),
        # "W:H" in whole numbers (bfl.md §2.4)
        ("flux-kontext-pro", {"aspect_ratio": "9:19.5"}, ("value_error", ("body", "aspect_ratio"))),
        (
            "flux-pro-1.1-ultra",
            {"aspect_ratio": "2.35:1"},
            ("value_error", ("body", "aspect_ratio")),
        ),
        ("flux-2-pro", {"safety_tolerance": 6}, ("less_than_equal", ("body", "safety_tolerance"))),
        (
            "flux-2-pro",
            {"safety_tolerance": -1},
            ("greater_than_equal", ("body", "safety_tolerance")),
        ),
        ("flux-2-pro", {"seed": "42"}, ("int_type", ("body", "seed"))),
        ("flux-2-pro", {"output_format": "gif"}, ("enum", ("body", "output_format"))),
        ("flux-2-pro", {"steps": 20}, ("extra_forbidden", ("body", "steps"))),
        ("flux-2-pro", {"aspect_ratio": "1:1"}, ("extra_forbidden", ("body", "aspect_ratio"))),
        ("flux-2-klein-4b", {"disable_pup": True}, ("extra_forbidden", ("body", "disable_pup"))),
        ("flux-2-flex", {"steps": 51}, ("less_than_equal", ("body", "steps"))),
        ("flux-2-flex", {"guidance": 1.0}, ("greater_than_equal", ("body", "guidance"))),
        ("flux-2-flex", {"disable_pup": True}, ("extra_forbidden", ("body", "disable_pup"))),
        ("flux-kontext-pro", {"width": 1024}, ("extra_forbidden", ("body", "width"))),
        ("flux-kontext-pro", {"aspect_ratio": "4:1"}, ("value_error", ("body", "aspect_ratio"))),
        ("flux-kontext-pro", {"output_format": "webp"}, ("enum", ("body", "output_format"))),
        ("flux-pro-1.1", {"width": 1040, "height": 768}, ("multiple_of", ("body", "width"))),
        ("flux-pro-1.1", {"width": 1472, "height": 768}, ("less_than_equal", ("body", "width"))),
        ("flux-pro-1.1-ultra", {"raw": "yes"}, ("bool_type", ("body", "raw"))),
        (
            "flux-pro-1.1",
            {"input_image": png_b64(8, 8)},
            ("extra_forbidden", ("body", "input_image")),
        ),
    ],
)
def test_invalid_bodies_are_422_in_fastapi_shape(
    bfl: LiveBfl, model: str, body: dict[str, Any], expected: tuple[str, tuple[Any, ...]]
) -> None:
    assert expected in _problems(bfl.submit(model, **body))
    assert bfl.state.tasks.active(KEY) == 0


@pytest.mark.parametrize(
    ("width", "height"), [(2000, 2000), (2560, 1440), (4000, 992), (6400, 624), (64, 62496)]
)
def test_flux2_takes_any_size_up_to_4_mp_without_an_edge_cap(
    bfl: LiveBfl, width: int, height: int
) -> None:
    """bfl.md §2.1: >= 64, multiples of 16, product <= 4 MP, and no other bound."""
    assert bfl.submit("flux-2-klein-4b", width=width, height=height).status_code == 200


def test_kontext_takes_whole_number_ratios_between_21_9_and_9_21(bfl: LiveBfl) -> None:
    for ratio in ("6:13", "13:6", "9:21", "21:9"):
        assert bfl.submit("flux-kontext-pro", aspect_ratio=ratio).status_code == 200, ratio
    for ratio in ("9:22", "0:1", "1:0", "6.0:13", " 6:13"):
        resp = bfl.submit("flux-kontext-pro", aspect_ratio=ratio)
        assert ("value_error", ("body", "aspect_ratio")) in _problems(resp), ratio


def test_legacy_models_allow_safety_tolerance_6(bfl: LiveBfl) -> None:
    assert bfl.submit("flux-kontext-pro", safety_tolerance=6).status_code == 200


def test_klein_takes_four_references_and_not_five(bfl: LiveBfl) -> None:
    refs = {f"input_image_{i}": png_b64(16, 16) for i in range(2, 5)}
    assert bfl.submit("flux-2-klein-9b", input_image=png_b64(16, 16), **refs).status_code == 200
    resp = bfl.submit("flux-2-klein-9b", input_image_5=png_b64(16, 16))
    assert ("extra_forbidden", ("body", "input_image_5")) in _problems(resp)


def test_missing_prompt_bad_reference_and_bad_json(bfl: LiveBfl) -> None:
    resp = bfl.http.post(f"{bfl.url}/v1/flux-2-pro", json={"width": 1024}, headers={"x-key": KEY})
    assert ("missing", ("body", "prompt")) in _problems(resp)
    assert ("value_error", ("body", "input_image")) in _problems(
        bfl.submit(input_image="not-an-image")
    )
    resp = bfl.http.post(
        f"{bfl.url}/v1/flux-2-pro",
        content=b"{oops",
        headers={"x-key": KEY, "content-type": "application/json"},
    )
    assert _problems(resp)[0][0] == "json_invalid"


def test_pro_refuses_more_than_9_megapixels_in_and_out(bfl: LiveBfl) -> None:
    refs = {f"input_image_{i}": png_b64(1024, 1024) for i in range(2, 9)}
    body = {"input_image": png_b64(1024, 1024), **refs}  # 8 MP in
    assert bfl.submit(width=1024, height=1024, **body).status_code == 200  # 9 MP: fits
    assert ("value_error", ("body",)) in _problems(bfl.submit(width=1024, height=1040, **body))


# -- credits, cost and the active-task cap ---------------------------------------------------


@pytest.mark.parametrize(
    ("model", "body", "cost", "input_mp", "output_mp"),
    [
        ("flux-2-pro", {"width": 1024, "height": 1024}, 3.0, 0, 1.05),  # bfl.md §8
        ("flux-2-pro", {"width": 1440, "height": 1376}, 4.5, 0, 1.98),  # bfl.md §3: 1.98 MP
        ("flux-2-pro", {"width": 2000, "height": 2000}, 7.5, 0, 4.0),  # the 4 MP cap: 4 billed
        (
            "flux-2-pro",
            {"width": 1024, "height": 1024, "input_image": png_b64(1024, 1024)},
            4.5,
            1.05,
            1.05,
        ),
        (
            "flux-2-max",
            {"width": 1024, "height": 1024, "input_image": png_b64(96, 96)},
            10.0,
            0.01,
            1.05,
        ),
        ("flux-2-flex", {"width": 1024, "height": 1024}, 5.0, 0, 1.05),
        ("flux-2-klein-4b", {"width": 1024, "height": 1024}, 1.4, 0, 1.05),
        (
            "flux-2-klein-9b",
            {"width": 1024, "height": 1024, "input_image": png_b64(64, 64)},
            1.7,
            0.0,
            1.05,
        ),
        ("flux-kontext-max", {"aspect_ratio": "1:1"}, 8.0, 0, 1.05),
        ("flux-kontext-pro", {}, 4.0, 0, 1.05),
        ("flux-pro-1.1", {"width": 1024, "height": 768}, 4.0, 0, 0.79),
        ("flux-pro-1.1-ultra", {"raw": True}, 6.0, 0, 4.2),  # 2736x1536
    ],
)
def test_cost_in_credits_and_megapixels(
    bfl: LiveBfl, model: str, body: dict[str, Any], cost: float, input_mp: float, output_mp: float
) -> None:
    answer = bfl.task(model, **body)
    assert (answer["cost"], answer["input_mp"], answer["output_mp"]) == (cost, input_mp, output_mp)


def test_cost_fields_can_be_left_out(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"report_cost": False})
    answer = bfl.task()
    assert answer["cost"] is None and answer["input_mp"] is None and answer["output_mp"] is None


def test_402_when_credits_would_go_negative(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"credits": 5})
    assert bfl.submit(width=1024, height=1024).status_code == 200  # 3 credits, 2 left
    resp = bfl.submit(width=1024, height=1024)
    assert resp.status_code == 402
    assert "Insufficient credits" in resp.json()["detail"]
    assert bfl.state.bfl.credits == 2


def test_quota_directive_is_402(bfl: LiveBfl) -> None:
    resp = bfl.submit(prompt="a cat [sim:quota]")
    assert resp.status_code == 402 and isinstance(resp.json()["detail"], str)


def test_active_task_cap_per_key_is_429_until_a_task_finishes(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"max_active_tasks": 2})
    for _ in range(2):
        bfl.task(prompt="slow [sim:sleep=0.4]")
    resp = bfl.submit()
    assert resp.status_code == 429
    assert int(resp.headers["retry-after"]) >= 1
    assert "active tasks" in resp.json()["detail"]
    time.sleep(0.6)
    assert bfl.submit().status_code == 200


def test_kontext_max_has_its_own_smaller_cap(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"kontext_max_active_tasks": 1})
    bfl.task("flux-kontext-max", prompt="slow [sim:sleep=0.5]")
    assert bfl.submit("flux-kontext-max").status_code == 429
    assert bfl.submit("flux-kontext-pro").status_code == 200  # the account cap is not reached


def test_the_default_caps_are_24_and_6(bfl: LiveBfl) -> None:
    assert (bfl.state.bfl.max_active_tasks, bfl.state.bfl.kontext_max_active_tasks) == (24, 6)
    for _ in range(6):
        bfl.task("flux-kontext-max", prompt="slow [sim:sleep=2]")
    assert bfl.submit("flux-kontext-max").status_code == 429
    for _ in range(18):
        bfl.task(prompt="slow [sim:sleep=2]")
    assert bfl.submit().status_code == 429
