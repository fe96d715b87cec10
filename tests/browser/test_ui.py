"""The playground, gallery, comparison, spend dashboard and key admin, driven as a person would.

The tests run in order on one page (a session: sign in, generate, then look at what it cost).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Route, expect

from tests.browser.conftest import Gateway, Ui

GPT = "openai/gpt-image-1.5"
FLUX = "black-forest-labs/flux.2-pro"
GEMINI = "google/gemini-2.5-flash-image"
made: list[str] = []  # generation ids made through the page, in order
keys: dict[str, str] = {}


@pytest.fixture(scope="module")
def admin_key(ui_gateway: Gateway) -> str:
    with ui_gateway.admin() as admin:
        resp = admin.post("/api/v1/keys", json={"name": "ui admin", "admin": True})
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def _sign_in(ui: Ui, key: str) -> None:
    ui.goto("#/playground")
    expect(ui.page.get_by_test_id("signin")).to_be_visible()
    ui.page.fill("#api-key", key)
    ui.page.click("[data-testid=signin] button[type=submit]")
    expect(ui.page.get_by_test_id("who")).to_be_visible()


def _sign_out(ui: Ui) -> None:
    ui.page.get_by_test_id("signout").click()
    expect(ui.page.get_by_test_id("signin")).to_be_visible()


def _record(gw: Gateway, gid: str) -> dict[str, object]:
    with gw.admin() as admin:
        resp = admin.get("/api/v1/generation", params={"id": gid})
    assert resp.status_code == 200, resp.text
    data: dict[str, object] = resp.json()["data"]
    return data


def _pick_model(ui: Ui, model: str) -> None:
    ui.page.get_by_test_id("model-select").select_option(model)
    expect(ui.page.locator("#endpoint")).to_be_visible()


def _result_id(ui: Ui) -> str:
    gid = ui.page.get_by_test_id("result-id").inner_text()
    assert gid.startswith("gen-")
    made.append(gid)
    return gid


def test_sign_in_keeps_the_key_in_the_tab(ui: Ui, admin_key: str) -> None:
    ui.goto("")
    expect(ui.page.get_by_test_id("signin")).to_be_visible()
    ui.shot("01-sign-in")
    _sign_in(ui, admin_key)
    expect(ui.page.get_by_test_id("who")).to_contain_text("(admin)")
    expect(ui.page.locator('#nav a[data-route="admin"]')).to_be_visible()
    stored = ui.page.evaluate("() => [sessionStorage.length, localStorage.length]")
    assert stored[1] == 0  # nothing outlives the tab


def test_buffered_model_shows_progress_then_the_result(
    ui: Ui, ui_gateway: Gateway, tmp_path: Path
) -> None:
    reference = tmp_path / "reference.png"
    Image.new("RGB", (96, 64), "teal").save(reference)
    _pick_model(ui, FLUX)
    page = ui.page
    # the form is the endpoint's descriptors: FLUX takes a seed and a resolution, no quality
    expect(page.locator("#param-resolution option")).to_have_count(3)  # default, 1K, 2K
    expect(page.locator("#param-seed")).to_be_visible()
    expect(page.locator("#param-quality")).to_have_count(0)
    expect(page.locator("#param-n")).to_have_attribute("max", "10")
    page.get_by_test_id("prompt").fill("[sim:sleep=1.5] a lighthouse at dusk")
    page.locator("#param-aspect_ratio").select_option("3:2")
    page.get_by_test_id("ref-input").set_input_files(str(reference))
    expect(page.locator("[data-testid=refs] img")).to_have_count(1)
    quote = page.get_by_test_id("quote-amount")
    expect(quote).to_be_visible()
    assert Decimal(quote.get_attribute("data-value") or "0") > 0
    page.get_by_test_id("generate").click()
    expect(page.locator("[data-testid=status-text]", has_text="Pending")).to_be_visible()
    ui.shot("02-playground-progress")
    expect(page.get_by_test_id("result-meta")).to_be_visible()
    gid = _result_id(ui)
    record = _record(ui_gateway, gid)
    expect(page.get_by_test_id("result-provider")).to_have_text("Black Forest Labs")
    shown = page.get_by_test_id("result-cost").get_attribute("data-value")
    assert Decimal(shown or "") == Decimal(str(record["cost_usd"])) > 0
    image = page.get_by_test_id("result-image").locator("img")
    assert (image.get_attribute("src") or "").startswith("blob:")
    assert image.evaluate("img => img.naturalWidth / img.naturalHeight") == pytest.approx(1.5, 0.02)
    download = page.get_by_test_id("download")
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == f"imagegate-{gid}-1.jpg"
    assert Path(info.value.path()).stat().st_size > 1000
    ui.shot("03-playground-buffered")


def test_streaming_model_shows_a_partial_before_the_final_image(
    ui: Ui, ui_gateway: Gateway
) -> None:
    ui_gateway.knobs("openai", partial_delay_s=0.6)
    try:
        _pick_model(ui, GPT)
        page = ui.page
        expect(page.locator("#param-quality")).to_be_visible()
        page.get_by_test_id("prompt").fill("a red fox in the snow")
        page.locator("#param-n").fill("2")
        quote = page.get_by_test_id("quote-amount")
        expect(page.get_by_test_id("quote")).to_contain_text("for 2 images")
        # the quote shown is the streamed request's, partial images included (as it is sent)
        with ui_gateway.admin() as admin:
            streamed = admin.post(
                "/api/v1/images/quote",
                json={
                    "model": GPT,
                    "prompt": "a red fox in the snow",
                    "n": 2,
                    "stream": True,
                    "provider": {"only": ["openai"], "allow_fallbacks": False},
                },
            )
        assert streamed.status_code == 200, streamed.text
        quoted = streamed.json()["data"]["endpoints"][0]["quote_usd"]
        expect(quote).to_have_attribute("data-value", quoted)
        page.get_by_test_id("generate").click()
        partial = page.get_by_test_id("partial-preview")
        expect(partial).to_be_visible()
        # the preview is on screen while the final image has not arrived yet
        assert page.get_by_test_id("result-image").count() == 0
        assert (partial.locator("img").get_attribute("src") or "").startswith("blob:")
        ui.shot("04-playground-partial")
        expect(page.get_by_test_id("result-meta")).to_be_visible()
    finally:
        ui_gateway.knobs("openai", partial_delay_s=0.0)
    expect(page.get_by_test_id("partial-preview")).to_have_count(0)
    expect(page.get_by_test_id("result-meta")).to_contain_text("after 4 partial previews")
    expect(page.get_by_test_id("result-provider")).to_have_text("OpenAI")
    gid = _result_id(ui)
    shown = page.get_by_test_id("result-cost").get_attribute("data-value")
    assert (
        Decimal(quoted)
        >= Decimal(shown or "")
        == Decimal(str(_record(ui_gateway, gid)["cost_usd"]))
        > 0
    )
    ui.shot("05-playground-streamed")


def test_a_model_picked_while_another_loads_keeps_its_own_form(ui: Ui) -> None:
    """The endpoints of a model picked first answer late, after a second pick: the form, the
    endpoint and the quote stay the second model's."""
    page = ui.page
    ui.goto("#/playground")
    expect(page.locator("#endpoint")).to_be_visible()
    held: list[Route] = []
    pattern = f"**/api/v1/images/models/{GEMINI}/endpoints"

    def hold(route: Route) -> None:
        held.append(route)

    page.route(pattern, hold)
    try:
        page.get_by_test_id("model-select").select_option(GEMINI)
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(50)  # Playwright holds the request (the handler does not answer)
        assert len(held) == 1
        _pick_model(ui, FLUX)
        expect(page.locator("#endpoint")).to_contain_text("Black Forest Labs")
        held[0].continue_()
        page.wait_for_timeout(500)  # the late answer arrives
    finally:
        page.unroute(pattern)
    assert page.get_by_test_id("model-select").input_value() == FLUX
    expect(page.locator("#endpoint")).to_contain_text("Black Forest Labs")
    expect(page.locator("#param-resolution")).to_be_visible()  # FLUX's form, not Gemini's
    expect(page.get_by_test_id("quote")).to_contain_text("on Black Forest Labs")


def test_compare_three_models_side_by_side(ui: Ui) -> None:
    ui.goto("#/compare")
    page = ui.page
    page.get_by_test_id("compare-model-0").select_option(GPT)
    page.get_by_test_id("compare-model-1").select_option(FLUX)
    page.get_by_test_id("compare-model-2").select_option(GEMINI)
    page.get_by_test_id("compare-prompt").fill("a bowl of ramen, studio light")
    page.get_by_test_id("compare-run").click()
    columns = page.get_by_test_id("compare-col")
    expect(columns).to_have_count(3)
    for i, provider in enumerate(("OpenAI", "Black Forest Labs", "Google AI Studio")):
        column = columns.nth(i)
        expect(column.get_by_test_id("result-meta")).to_be_visible()
        expect(column.get_by_test_id("result-provider")).to_have_text(provider)
        expect(column.get_by_test_id("quote-amount")).to_be_visible()
        made.append(column.get_by_test_id("result-id").inner_text())
    ui.shot("06-compare")


def test_gallery_lists_this_sessions_generations_as_thumbnails(ui: Ui) -> None:
    ui.goto("#/gallery")
    page = ui.page
    items = page.get_by_test_id("gallery-item")
    expect(items).to_have_count(len(made))
    assert sorted(items.evaluate_all("els => els.map(e => e.dataset.id)")) == sorted(made)
    expect(page.get_by_test_id("gallery-prompt").first).to_have_text(
        "a bowl of ramen, studio light"
    )
    # thumbnails are object URLs of small copies; no image is base64 in the DOM
    assert page.locator("img[src^='data:']").count() == 0
    widths = page.locator("[data-testid=gallery-item] img").evaluate_all(
        "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))"
    )
    assert widths and max(widths) <= 320
    ui.shot("07-gallery")
    items.first.click()
    viewer = page.get_by_test_id("viewer")
    expect(viewer).to_be_visible()
    full = viewer.locator("img").first
    assert full.evaluate("i => i.decode().then(() => i.naturalWidth)") >= 1024
    ui.shot("08-gallery-viewer")
    viewer.get_by_role("button", name="Close").click()
    expect(viewer).to_have_count(0)


def test_dashboard_totals_equal_the_api(ui: Ui, ui_gateway: Gateway, admin_key: str) -> None:
    ui.goto("#/dashboard")
    page = ui.page
    expect(page.get_by_test_id("total-spend")).to_be_visible()
    resp = httpx.get(
        f"{ui_gateway.url}/api/v1/activity/summary",
        params={"days": 30},
        headers={"authorization": f"Bearer {admin_key}"},
    )
    totals = resp.json()["data"]["totals"]
    shown = {
        name: page.get_by_test_id(f"total-{name}").get_attribute("data-value")
        for name in ("spend", "requests", "images", "failures")
    }
    assert shown == {
        "spend": totals["spend_usd"],
        "requests": str(totals["requests"]),
        "images": str(totals["images"]),
        "failures": str(totals["failures"]),
    }
    # and the API's total is the sum of what each generation made here cost
    costs = sum(Decimal(str(_record(ui_gateway, gid)["cost_usd"])) for gid in made)
    assert Decimal(totals["spend_usd"]) == costs and totals["requests"] == len(made)
    expect(page.get_by_test_id("by-model").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("by-key")).to_contain_text("ui admin")
    links = page.get_by_test_id("recent-link")
    expect(links).to_have_count(len(made))
    ui.shot("09-dashboard")
    newest = page.locator("[data-testid=recent] tbody tr").first.get_attribute("data-id")
    assert newest in made
    links.first.click()
    expect(page.get_by_test_id("record-id")).to_have_text(str(newest))
    expect(page.get_by_test_id("record")).to_contain_text("GET /api/v1/generation")
    ui.shot("10-generation-record")


def test_admin_creates_limits_and_revokes_a_key(
    ui: Ui, ui_gateway: Gateway, admin_key: str
) -> None:
    ui.goto("#/admin")
    page = ui.page
    page.get_by_test_id("new-key-name").fill("ui reviewer")
    page.get_by_test_id("new-key-limit").fill("2")
    page.get_by_test_id("new-key-create").click()
    raw = page.get_by_test_id("new-key-value").inner_text()
    assert raw.startswith("sk-ig-v1-")
    keys["reviewer"] = raw
    row = page.get_by_test_id("key-row").filter(has_text="ui reviewer")
    expect(row.get_by_test_id("key-limit")).to_have_text("$2.00")
    ui.shot("11-admin-created")
    row.get_by_test_id("limit-edit").click()
    row.get_by_test_id("limit-input").fill("3.5")
    row.get_by_test_id("limit-save").click()
    expect(row.get_by_test_id("key-limit")).to_have_text("$3.50")
    me = httpx.get(f"{ui_gateway.url}/api/v1/key", headers={"authorization": f"Bearer {raw}"})
    assert me.json()["data"]["limit"] == 3.5

    # an ordinary key sees only its own spend, and no key management
    _sign_out(ui)
    _sign_in(ui, raw)
    expect(page.locator('#nav a[data-route="admin"]')).to_be_hidden()
    ui.goto("#/dashboard")
    expect(page.get_by_test_id("total-spend")).to_have_attribute("data-value", "0")
    expect(page.get_by_test_id("total-requests")).to_have_attribute("data-value", "0")
    ui.shot("12-dashboard-ordinary-key")
    _sign_out(ui)
    _sign_in(ui, admin_key)

    ui.goto("#/admin")
    row = page.get_by_test_id("key-row").filter(has_text="ui reviewer")
    revoke = row.get_by_test_id("revoke")
    revoke.click()
    expect(revoke).to_have_text("Click again to revoke")
    revoke.click()
    expect(
        page.get_by_test_id("key-row").filter(has_text="ui reviewer").get_by_test_id("key-status")
    ).to_have_text("disabled")
    gone = httpx.get(f"{ui_gateway.url}/api/v1/key", headers={"authorization": f"Bearer {raw}"})
    assert gone.status_code == 401
    ui.shot("13-admin-revoked")


def test_api_docs_render_offline(ui: Ui) -> None:
    page = ui.page
    ui.goto("docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("imagegate")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/activity").first).to_be_visible()
    ui.shot("14-docs")
    ui.goto("redoc")
    expect(page.locator("h1", has_text="imagegate")).to_be_visible()
    ui.shot("15-redoc")
