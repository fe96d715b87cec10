"""Pure Recraft mapping against the reference's payloads (recraft.md §2, §3, §2.5, §4)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import orjson
import pytest

from providers._media import parse_data_url
from providers.errors import (
    AuthError,
    ContentModerated,
    InsufficientCredit,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
)
from providers.recraft.adapter import url_policy
from providers.recraft.errors import error_from_response
from providers.recraft.translate import (
    Answer,
    ResultItem,
    build_request,
    completed,
    is_vector,
    make_image,
    parse_answer,
    svg_dimensions,
)
from providers.spec import GeneratedImage
from tests.providers.recraft.calls import (
    SVG_SIZED,
    SVG_UNSIZED,
    SVG_VIEWBOX,
    call,
    endpoint,
    raster,
    reference,
)

# The reference's example controls (§2.2 / §2.5 example request).
CONTROLS = {
    "colors": [{"rgb": [230, 80, 20]}],
    "background_color": {"rgb": [255, 255, 255]},
    "no_text": True,
}

# --- requests ---------------------------------------------------------------------------------


def test_the_reference_example_request() -> None:
    """§2.5's example, built from a call to the V3 vector model with two options."""
    request = build_request(
        call(
            "recraft/recraft-v3-vector",
            prompt="a red fox in a snowy forest, flat vector",
            n=2,
            width=1820,
            height=1024,
            size_wire="16:9",
            output_format="svg",
            options={"style": "vector_illustration", "substyle": "line_art", "controls": CONTROLS},
        )
    )
    assert request.path == "/images/generations"
    assert request.json == {
        "prompt": "a red fox in a snowy forest, flat vector",
        "model": "recraftv3_vector",
        "style": "vector_illustration",
        "substyle": "line_art",
        "size": "16:9",
        "n": 2,
        "response_format": "url",
        "controls": CONTROLS,
    }


def test_raster_generation_sends_only_what_the_api_takes() -> None:
    body = build_request(
        call(
            size_wire="3:2",
            width=1280,
            height=832,
            output_format="webp",
            seed=42,
            quality="high",
            background="opaque",
            user="hashed-user",
            aspect_ratio="3:2",
        )
    ).json
    assert body == {
        "prompt": "a red fox",
        "model": "recraftv4",
        "n": 1,
        "response_format": "url",
        "image_format": "webp",
        "random_seed": 42,
        "size": "3:2",
    }


def test_no_shape_means_no_size_and_wxh_without_a_wire_spelling() -> None:
    assert "size" not in build_request(call()).json
    assert build_request(call("recraft/recraft-v3", width=1707, height=1024)).json["size"] == (
        "1707x1024"
    )


def test_svg_output_sends_no_image_format() -> None:
    body = build_request(call("recraft/recraft-v4-vector", output_format="svg")).json
    assert "image_format" not in body and body["model"] == "recraftv4_vector"


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_outside_uint32_is_refused(seed: int) -> None:
    with pytest.raises(InvalidRequest, match="seed"):
        build_request(call(seed=seed))


def test_uint32_bounds_pass() -> None:
    assert build_request(call(seed=0)).json["random_seed"] == 0
    assert build_request(call(seed=2**32 - 1)).json["random_seed"] == 2**32 - 1


@pytest.mark.parametrize("option", ["size", "model", "n", "response_format", "image_url"])
def test_options_cannot_override_what_the_gateway_sets(option: str) -> None:
    with pytest.raises(InvalidRequest, match=option):
        build_request(call(options={option: "x"}))


def test_strength_without_a_reference_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="strength"):
        build_request(call("recraft/recraft-v3", options={"strength": 0.3}))


@pytest.mark.parametrize("style", ["vector_illustration", "icon"])
def test_a_vector_style_on_a_raster_model_is_refused(style: str) -> None:
    with pytest.raises(InvalidRequest, match="vector"):
        build_request(call("recraft/recraft-v3", options={"style": style}))
    assert build_request(call("recraft/recraft-v3-vector", options={"style": style})).json


def test_is_vector_reads_the_catalog() -> None:
    assert is_vector(endpoint("recraft/recraft-v4-pro-vector"))
    assert not is_vector(endpoint("recraft/recraft-v4-pro"))


def test_image_to_image_request() -> None:
    ref = reference()
    request = build_request(
        call(
            "recraft/recraft-v3",
            prompt="recolour",
            size_wire="1:1",
            width=1024,
            height=1024,
            input_images=(ref,),
            output_format="png",
            options={"style": "digital_illustration", "negative_prompt": "text"},
        )
    )
    assert request.path == "/images/imageToImage"
    body = dict(request.json)
    assert parse_data_url(body.pop("image_url")) == ("image/png", ref.data)
    assert body == {
        "prompt": "recolour",
        "model": "recraftv3",
        "n": 1,
        "response_format": "url",
        "style": "digital_illustration",
        "negative_prompt": "text",
        "image_format": "png",
        "strength": 0.5,
    }


def test_image_to_image_keeps_the_callers_strength_and_refuses_two_references() -> None:
    request = build_request(
        call("recraft/recraft-v3", input_images=(reference(),), options={"strength": 0.2})
    )
    assert request.json["strength"] == 0.2
    with pytest.raises(InvalidRequest, match="one reference"):
        build_request(call("recraft/recraft-v3", input_images=(reference(), reference())))


def test_operator_fixed_parameters_win() -> None:
    fixed = call().__class__(
        endpoint=endpoint(fixed={"response_format": "b64_json", "expire": False}), prompt="x"
    )
    body = build_request(fixed).json
    assert body["response_format"] == "b64_json" and body["expire"] is False


# --- responses --------------------------------------------------------------------------------

EXAMPLE = {
    "created": 1764000000,
    "credits": 80,
    "data": [{"image_id": "0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11", "url": "https://img.recraft.ai/a.svg"}],
}  # fmt: skip


def test_the_reference_example_response() -> None:
    answer = parse_answer(orjson.dumps(EXAMPLE))
    assert answer == Answer(
        items=(ResultItem("0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11", url="https://img.recraft.ai/a.svg"),),
        credits=Decimal(80),
        upstream_id="0b0d6a8e-6a2b-4a37-9a3e-4c7f6d9f3c11",
    )  # fmt: skip


def test_b64_items_and_extra_fields() -> None:
    body = {
        "created": 1,
        "credits": 35,
        "style_id": "5f1c7c5e-3b1f-4a8e-9d0e-5c2a7b9e4d10",
        "data": [
            {"image_id": "x", "b64_json": "AAAA", "revised_prompt": "p", "features": {"nsfw_score": 0.1}}
        ],
    }  # fmt: skip
    assert parse_answer(orjson.dumps(body)).items == (ResultItem("x", b64="AAAA"),)


@pytest.mark.parametrize(
    ("fields", "credits"),
    [
        ({"created": "2026-11-02", "credits": "80"}, Decimal(80)),
        ({"created": 1.7e9, "credits": 80.0, "style_id": {"id": 1}}, Decimal(80)),
        ({"created": [1], "credits": "eighty"}, None),
        ({"created": None, "credits": -80}, None),
        ({"credits": {"units": 80}}, None),
        ({"credits": True}, None),
    ],
)
def test_secondary_fields_of_another_type_keep_the_images(
    fields: dict[str, Any], credits: Decimal | None
) -> None:
    data = [
        {"image_id": "a", "url": "https://img.recraft.ai/a.png", "revised_prompt": {"p": 1}},
        {"image_id": 7, "b64_json": "AAAA", "revised_prompt": ["p"]},
    ]
    answer = parse_answer(orjson.dumps({"data": data, **fields}))
    assert answer.items == (
        ResultItem("a", url="https://img.recraft.ai/a.png"),
        ResultItem("7", b64="AAAA"),
    )
    assert answer.credits == credits  # unreadable credits: the catalog prices the call


@pytest.mark.parametrize(
    "item", [{"image_id": "x", "url": 5}, {"image_id": "x", "b64_json": ["AAAA"]}, "x"]
)
def test_the_image_data_itself_stays_strict(item: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_answer(orjson.dumps({"credits": 40, "data": [item]}))


@pytest.mark.parametrize(
    "body",
    [b"{nope", b"[]", b'{"data": []}', b'{"data": [{"image_id": "x"}]}', b'{"data": "x"}'],
)
def test_unusable_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_answer(body)


def test_make_image_sniffs_raster_types_and_sizes() -> None:
    png = make_image(raster(30, 20), "image/webp")  # the bytes win over a wrong header
    assert (png.media_type, png.width, png.height) == ("image/png", 30, 20)
    assert base64.b64decode(png.b64) == raster(30, 20)
    webp = make_image(raster(16, 9, "WEBP"), None)
    assert (webp.media_type, webp.width, webp.height) == ("image/webp", 16, 9)


def test_make_image_keeps_the_providers_base64() -> None:
    data = raster(4, 4)
    wrapped = base64.b64encode(data).decode()
    assert make_image(data, None, b64=wrapped).b64 == wrapped


@pytest.mark.parametrize(
    ("svg", "dims"), [(SVG_SIZED, (1344, 768)), (SVG_VIEWBOX, (1024, 1820)), (SVG_UNSIZED, None)]
)
def test_svg_is_relayed_as_svg_with_its_size(svg: bytes, dims: tuple[int, int] | None) -> None:
    image = make_image(svg, "application/octet-stream")
    assert image.media_type == "image/svg+xml"
    assert base64.b64decode(image.b64) == svg
    assert (image.width, image.height) == (dims or (None, None))
    assert svg_dimensions(svg) == dims


def test_unknown_bytes_use_a_declared_image_type_or_fail() -> None:
    assert make_image(b"\x00\x01avif?", "image/avif").media_type == "image/avif"
    with pytest.raises(ProtocolError, match="not an image"):
        make_image(b"<html>gone</html>", "text/html")


def _answer(credits: int | None = 80, n: int = 1) -> Answer:
    items = tuple(ResultItem(f"id{i}", url="https://img.recraft.ai/x") for i in range(n))
    return Answer(items, None if credits is None else Decimal(credits), "id0")


def _img(w: int = 1024, h: int = 1024) -> GeneratedImage:
    return GeneratedImage(b64="", media_type="image/webp", width=w, height=h)


def test_credits_are_the_providers_cost() -> None:
    done = completed(call(), _answer(80, n=2), [_img(), _img()], [])
    assert done.usage.provider_cost_usd == Decimal("0.08")
    assert (done.usage.images, done.usage.pixels) == (2, 2 * 1024 * 1024)
    assert done.upstream_id == "id0" and done.warnings == ()


@pytest.mark.parametrize("credits", [None, 0, -5])
def test_missing_or_non_positive_credits_leave_the_catalog_to_price(credits: int | None) -> None:
    assert completed(call(), _answer(credits), [_img()], []).usage.provider_cost_usd is None


def test_partial_delivery_counts_what_arrived() -> None:
    failure = ProtocolError("recraft result download answered HTTP 404")
    done = completed(call(), _answer(80, n=2), [_img()], [failure])
    assert done.usage.images == 1 and done.usage.provider_cost_usd is None
    assert done.warnings == (
        "1 of 2 Recraft images could not be fetched: recraft result download answered HTTP 404",
    )


def test_image_to_image_warns_when_the_shape_differs() -> None:
    ref = reference(96, 64)
    i2i = call("recraft/recraft-v3", input_images=(ref,), width=1024, height=1024)
    done = completed(i2i, _answer(), [_img(1536, 1024)], [])
    assert "1024x1024 was asked, 1536x1024 returned" in done.warnings[0]
    assert (done.usage.input_images, done.usage.input_pixels) == (1, 96 * 64)
    assert completed(i2i, _answer(), [_img()], []).warnings == ()


# --- result URL policy ------------------------------------------------------------------------


def test_url_policy_trusts_recraft_hosts_over_https() -> None:
    policy = url_policy("https://external.api.recraft.ai/v1")
    policy.check("https://img.recraft.ai/abc/image.svg", provider="recraft")
    policy.check("https://external.api.recraft.ai/v1/files/x.png", provider="recraft")
    for bad in (
        "http://img.recraft.ai/x.png",
        "https://evil.example/x.png",
        "https://recraft.ai.evil/x",
    ):
        with pytest.raises(ProtocolError):
            policy.check(bad, provider="recraft")
    local = url_policy("http://127.0.0.1:9/recraft/v1")
    local.check("http://127.0.0.1:9/recraft/img/x.png", provider="recraft")


# --- errors (§4) ------------------------------------------------------------------------------

TEXT = {"content-type": "text/plain; charset=utf-8"}
JSON = {"content-type": "application/json"}


def _err(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return error_from_response(status, raw, headers or JSON, secrets=("rc-secret-token",))


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls"),
    [
        (401, b"request unauthorized\n", TEXT, AuthError),
        (403, b"forbidden\n", TEXT, AuthError),
        (404, b"404 page not found\n", TEXT, Unavailable),
        (400, {"code": "invalid_size", "message": "size 1792x1024 is not supported for model recraftv4"}, JSON, InvalidRequest),
        (422, {"message": "prompt is too long"}, JSON, InvalidRequest),
        (400, {"code": "invalid_parameter", "message": "invalid value of block_nsfw"}, JSON, InvalidRequest),
        (402, {"code": "not_enough_credits", "message": "top up"}, JSON, InsufficientCredit),
        (400, {"code": "insufficient_balance", "message": "top up"}, JSON, InsufficientCredit),
        (400, {"code": "x", "message": "Not enough API units on the balance"}, JSON, InsufficientCredit),
        (403, b"insufficient credits\n", TEXT, InsufficientCredit),
        (429, {"code": "too_many_requests", "message": "slow down"}, JSON, RateLimited),
        (429, b"Too Many Requests\n", TEXT, RateLimited),
        (400, {"code": "content_moderation", "message": "flagged"}, JSON, ContentModerated),
        (400, {"message": "Prompt contains inappropriate content"}, JSON, ContentModerated),
        (403, {"code": "nsfw_content_detected", "message": "blocked"}, JSON, ContentModerated),
        (500, {"code": "internal_error", "message": "internal server error"}, JSON, Unavailable),
        (503, b"Service Unavailable\n", TEXT, Unavailable),
        (502, b"<html><body>502 Bad Gateway</body></html>", {"content-type": "text/html"}, Unavailable),
        (408, b"timeout", TEXT, Unavailable),
        (302, b"", TEXT, ProtocolError),
    ],
)  # fmt: skip
def test_error_shapes_map_to_the_right_class(
    status: int, body: Any, headers: dict[str, str], cls: type[ProviderError]
) -> None:
    error = _err(status, body, headers)
    assert type(error) is cls
    assert error.status_code == status and error.message.startswith(f"HTTP {status}")


def test_plain_text_bodies_are_the_message() -> None:
    error = _err(401, b"request unauthorized\n", TEXT)
    assert error.message == "HTTP 401: request unauthorized" and error.code is None
    missing = _err(404, b"404 page not found\n", TEXT)
    assert "404 page not found" in missing.message and "base URL" in missing.message


def test_json_code_and_message_are_kept() -> None:
    error = _err(400, {"code": "invalid_size", "message": "size 7:3 is not supported"})
    assert error.code == "invalid_size" and error.message == "HTTP 400: size 7:3 is not supported"
    assert error.raw == {"code": "invalid_size", "message": "size 7:3 is not supported"}


@pytest.mark.parametrize(
    "body",
    [{"error": "size is invalid"}, {"error": {"message": "size is invalid", "code": "bad"}},
     {"detail": "size is invalid"}],
)  # fmt: skip
def test_other_json_shapes_are_read(body: dict[str, Any]) -> None:
    assert "size is invalid" in _err(400, body).message


def test_json_without_a_json_content_type_and_junk_with_one() -> None:
    assert _err(400, b'{"code":"c","message":"m"}', TEXT).code == "c"
    junk = _err(400, b"{not json", JSON)
    assert junk.message == "HTTP 400: {not json" and isinstance(junk, InvalidRequest)


def test_retry_after_is_read() -> None:
    assert _err(429, {"code": "x"}, {**JSON, "Retry-After": "7"}).retry_after == 7.0
    assert _err(503, b"busy", {**TEXT, "retry-after": "2"}).retry_after == 2.0


def test_our_key_never_appears_in_an_error() -> None:
    error = _err(400, {"code": "x", "message": "token rc-secret-token is not valid here"})
    assert "rc-secret-token" not in error.message and "rc-secret-token" not in str(error.raw)
    assert "***" in error.message


def test_long_bodies_are_cut() -> None:
    assert len(_err(500, b"x" * 10_000, TEXT).message) <= 500
