"""BFL simulator, delivery side: unauthenticated signed result URLs that expire (bfl.md §5, §9)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.simulator.bfl_support import KEY, LiveBfl, decode, png_b64


@pytest.fixture(scope="module")
def live() -> Iterator[LiveBfl]:
    sim = LiveBfl()
    yield sim
    sim.close()


@pytest.fixture
def bfl(live: LiveBfl) -> LiveBfl:
    live.state.reset()
    return live


def test_sample_downloads_without_auth_from_another_host_alias_than_the_poll(
    bfl: LiveBfl,
) -> None:
    answer = bfl.task(width=1440, height=816)
    final = bfl.statuses_until_done(answer["polling_url"])[-1]
    sample = final["result"]["sample"]
    port = bfl.url.rsplit(":", 1)[1]
    assert answer["polling_url"].startswith(f"http://localhost:{port}/")  # polled there ...
    assert sample.startswith(f"http://127.0.0.1:{port}/delivery/results/")  # ... delivered here
    assert "se=" in sample and "sig=" in sample
    resp = bfl.http.get(sample)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert decode(resp.content).size == (1440, 816)


@pytest.mark.parametrize(
    ("model", "body", "fmt", "size"),
    [
        ("flux-2-pro", {"output_format": "png", "width": 512, "height": 768}, "PNG", (512, 768)),
        ("flux-2-klein-4b", {"output_format": "webp"}, "WEBP", (1024, 1024)),
        ("flux-2-max", {"input_image": png_b64(640, 480)}, "JPEG", (640, 480)),
        ("flux-kontext-pro", {"aspect_ratio": "16:9"}, "PNG", (1360, 768)),
        ("flux-kontext-max", {"input_image": png_b64(300, 600)}, "PNG", (720, 1456)),
        ("flux-pro-1.1", {}, "JPEG", (1024, 768)),
        (
            "flux-pro-1.1-ultra",
            {"output_format": "png", "aspect_ratio": "1:1"},
            "PNG",
            (2048, 2048),
        ),
    ],
)
def test_result_format_and_size_per_model(
    bfl: LiveBfl, model: str, body: dict[str, object], fmt: str, size: tuple[int, int]
) -> None:
    resp = bfl.http.get(bfl.ready(model, **body)["result"]["sample"])
    image = decode(resp.content)
    assert (image.format, image.size) == (fmt, size)


def test_ultra_defaults_to_16_9_at_about_4_megapixels(bfl: LiveBfl) -> None:
    image = decode(bfl.http.get(bfl.ready("flux-pro-1.1-ultra")["result"]["sample"]).content)
    assert abs(image.width / image.height - 16 / 9) < 0.01
    assert 3_900_000 < image.width * image.height < 4_400_000


def test_delivery_refuses_a_request_carrying_x_key(bfl: LiveBfl) -> None:
    sample = bfl.ready()["result"]["sample"]
    resp = bfl.http.get(sample, headers={"x-key": KEY})
    assert resp.status_code == 403 and "AuthenticationFailed" in resp.text
    assert bfl.http.get(sample).status_code == 200


def test_sample_expires_after_the_ttl(bfl: LiveBfl) -> None:
    bfl.state.bfl.update({"result_ttl_s": 0.3})
    sample = bfl.ready()["result"]["sample"]
    assert bfl.http.get(sample).status_code == 200
    time.sleep(0.4)
    resp = bfl.http.get(sample)
    assert resp.status_code == 403 and "expired" in resp.text


def test_a_forged_signature_is_refused(bfl: LiveBfl) -> None:
    sample = bfl.ready()["result"]["sample"]
    assert bfl.http.get(sample.split("&sig=")[0] + "&sig=00").status_code == 403


def test_downloads_are_logged_with_no_key(bfl: LiveBfl) -> None:
    sample = bfl.ready()["result"]["sample"]
    bfl.http.get(sample)
    last = bfl.state.log.entries[-1]
    assert last["method"] == "GET" and last["path"].startswith("/delivery/results/")
    assert "x-key" not in last["headers"] and last["status"] == 200
