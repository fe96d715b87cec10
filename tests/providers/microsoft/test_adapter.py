"""AzureMaiAdapter over real HTTP: the MAI simulator (simulator/azure_mai.py) on a loopback port.

Failures are driven with the simulator's own settings, knobs and ``[sim:…]`` directives.
"""

from __future__ import annotations

import httpx
import pytest

from providers.errors import (
    AuthError,
    ContentModerated,
    InvalidRequest,
    ProtocolError,
    ProviderError,
    RateLimited,
    Unavailable,
    UpstreamTimeout,
)
from providers.microsoft.adapter import AzureMaiAdapter
from providers.spec import Accepted, Completed, GenerateCall, GenerationEvent, InputImage
from simulator.azure_mai import MaiState
from tests.providers.microsoft.calls import SIM_KEY, SIM_TOKEN, call, endpoint, reference


def adapter(client: httpx.AsyncClient, base_url: str, **kwargs: object) -> AzureMaiAdapter:
    values: dict[str, object] = {"api_key": SIM_KEY, "base_url": base_url, **kwargs}
    return AzureMaiAdapter(client, **values)  # type: ignore[arg-type]


async def events(a: AzureMaiAdapter, c: GenerateCall) -> list[GenerationEvent]:
    return [event async for event in a.run(c)]


async def completed(a: AzureMaiAdapter, c: GenerateCall) -> Completed:
    found = await events(a, c)
    assert isinstance(found[-1], Completed)
    return found[-1]


async def failure(a: AzureMaiAdapter, c: GenerateCall) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await events(a, c)
    return info.value


# -- success --------------------------------------------------------------------------------


async def test_generation_sends_the_documented_request(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    found = await events(
        adapter(client, base_url), call("a red fox in the snow", width=1360, height=768)
    )
    accepted, done = found
    assert isinstance(accepted, Accepted) and isinstance(done, Completed)
    (entry,) = sim.log.entries
    assert entry["path"] == "/mai/v1/images/generations"
    assert entry["body"] == {
        "model": "MAI-Image-2.5",
        "prompt": "a red fox in the snow",
        "width": 1360,
        "height": 768,
    }
    assert entry["auth"] == "api-key" and "authorization" not in entry["headers"]
    assert entry["query"] == {}
    assert accepted.upstream_id == done.upstream_id == entry["request_id"]
    (image,) = done.images
    assert (image.media_type, image.width, image.height) == ("image/png", 1360, 768)
    # 6 words x 1.3 -> 8 text tokens; 1360*768/1024 = 1020 output tokens
    assert (done.usage.input_text_tokens, done.usage.output_image_tokens) == (8, 1020)
    assert (done.usage.images, done.usage.pixels) == (1, 1360 * 768)


async def test_an_entra_token_is_sent_as_bearer_instead_of_the_key(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    a = AzureMaiAdapter(client, api_key=SIM_TOKEN, base_url=base_url, bearer=True)
    await completed(a, call())
    (entry,) = sim.log.entries
    assert entry["auth"] == "bearer" and "api-key" not in entry["headers"]
    assert SIM_TOKEN not in repr(a)


async def test_an_edit_uploads_the_reference(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    ref = reference(96, 64)
    done = await completed(adapter(client, base_url), call("make it blue", input_images=(ref,)))
    (entry,) = sim.log.entries
    assert entry["path"] == "/mai/v1/images/edits"
    assert entry["body"]["image"] == [
        {"filename": "image-1.png", "content_type": "image/png", "bytes": len(ref.data)}
    ]
    assert (entry["body"]["width"], entry["body"]["height"]) == (1024, 1024)
    assert done.usage.input_image_tokens == 6  # ceil(96*64/1024)
    assert (done.usage.input_images, done.usage.input_pixels) == (1, 96 * 64)


async def test_auto_aspect_ratio_reports_the_size_that_came_back(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    c = call(
        "a wide landscape",
        endpoint=endpoint("microsoft/mai-image-2.6"),
        options={"auto_aspect_ratio": True, "web_grounding": True},
    )
    done = await completed(adapter(client, base_url), c)
    (image,) = done.images
    assert image.width is not None and image.height is not None
    assert abs(image.width / image.height - 16 / 9) < 0.05
    assert done.usage.output_image_tokens == (image.width * image.height + 512) // 1024
    assert sim.log.entries[0]["body"]["web_grounding"] is True


@pytest.mark.parametrize(
    ("suffix", "query"), [("", {}), ("?api-version=preview", {"api-version": "preview"})]
)
async def test_a_resource_root_or_a_query_in_the_base_url(
    client: httpx.AsyncClient,
    simulator: tuple[str, MaiState],
    sim: MaiState,
    suffix: str,
    query: dict[str, str],
) -> None:
    base = simulator[0] + ("/mai/v1" if suffix else "") + suffix
    await completed(adapter(client, base), call())
    assert sim.log.entries[0]["query"] == query


async def test_a_custom_deployment_name(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    sim.config.deployments = {"mai-img-prod": "MAI-Image-2.5-Pro"}
    c = call(endpoint=endpoint("microsoft/mai-image-2.5-pro", upstream_model="mai-img-prod"))
    await completed(adapter(client, base_url), c)
    assert sim.log.entries[0]["body"]["model"] == "mai-img-prod"


@pytest.mark.parametrize("shape", ["none", "legacy"])
async def test_answers_without_a_usage_object(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, shape: str
) -> None:
    sim.config.usage_shape = shape  # type: ignore[assignment]
    done = await completed(adapter(client, base_url), call(width=768, height=768))
    assert done.usage.output_image_tokens == 576
    assert bool(done.warnings) == (shape == "none")


async def test_closing_after_accepted_is_clean(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    sim.knobs.latency_s = 0.0
    run = adapter(client, base_url).run(call())
    assert isinstance(await run.__anext__(), Accepted)
    await run.aclose()


# -- errors ---------------------------------------------------------------------------------


async def test_a_wrong_key_is_an_auth_error_without_the_key(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    err = await failure(adapter(client, base_url, api_key="wrong-key-123456"), call())
    assert isinstance(err, AuthError) and err.status_code == 401
    assert "wrong-key-123456" not in str(err) and err.provider == "azure"
    assert err.upstream_request_id == sim.log.entries[0]["request_id"]


async def test_an_unknown_deployment_is_unavailable(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    err = await failure(adapter(client, base_url), call(endpoint=endpoint(upstream_model="nope")))
    assert isinstance(err, Unavailable) and err.code == "DeploymentNotFound"


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((512, 1024), "'width' must be at least 768 pixels."),
        ((1024, 1040), "must be at most 1048576 pixels"),
    ],
)
async def test_size_rejections_are_invalid_requests(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, size: tuple[int, int], message: str
) -> None:
    err = await failure(adapter(client, base_url), call(width=size[0], height=size[1]))
    assert isinstance(err, InvalidRequest) and message in err.message
    assert err.code == "unsupported_request_value"


async def test_edits_on_a_generation_only_deployment(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    sim.config.deployments = {"old": "MAI-Image-2e"}
    c = call(endpoint=endpoint(upstream_model="old"), input_images=(reference(),))
    err = await failure(adapter(client, base_url), c)
    assert isinstance(err, InvalidRequest) and err.code == "OperationNotSupported"


async def test_a_webp_reference_reaches_mai_as_a_png(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    """The gateway takes WebP references; MAI takes PNG or JPEG only, so the adapter converts
    rather than fail a request another endpoint would serve."""
    done = await completed(adapter(client, base_url), call(input_images=(reference(fmt="WEBP"),)))
    assert done.images
    (entry,) = sim.log.entries
    assert entry["path"].endswith("/images/edits")
    (part,) = entry["body"]["image"]
    assert (part["filename"], part["content_type"]) == ("image-1.png", "image/png")


async def test_an_unreadable_reference_is_the_callers_400_with_the_provider_named(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    bad = InputImage(data=b"RIFF\x10\x00\x00\x00WEBPVP8 broken", media_type="image/webp")
    err = await failure(adapter(client, base_url), call(input_images=(bad,)))
    assert isinstance(err, InvalidRequest) and err.provider == "azure"
    assert sim.log.entries == []


@pytest.mark.parametrize("prompt", ["x [sim:429]", "x [sim:quota]"])
async def test_rate_limits(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, prompt: str
) -> None:
    err = await failure(adapter(client, base_url), call(prompt))
    assert isinstance(err, RateLimited) and err.retry_after is not None and err.retry_after >= 1


async def test_the_deployment_rpm(client: httpx.AsyncClient, base_url: str, sim: MaiState) -> None:
    sim.config.rpm = 1
    a = adapter(client, base_url)
    await completed(a, call())
    err = await failure(a, call())
    assert (
        isinstance(err, RateLimited) and err.retry_after is not None and 1 <= err.retry_after <= 60
    )
    assert "Rate limit is exceeded" in err.message


@pytest.mark.parametrize(
    ("prompt", "categories"),
    [
        ("x [sim:moderate]", "(violence (medium))"),
        ("x [sim:filter=hate]", "(hate (medium))"),
        ("x [sim:filter=jailbreak]", "(jailbreak)"),
        ("a forbidden thing", "(violence (medium))"),
    ],
)
async def test_the_content_filter_is_a_moderation_refusal(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, prompt: str, categories: str
) -> None:
    err = await failure(adapter(client, base_url), call(prompt))
    assert isinstance(err, ContentModerated) and not err.retryable
    assert err.message.startswith(f"Azure AI content filter {categories}: ")


async def test_the_output_filter_is_a_moderation_refusal(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    err = await failure(adapter(client, base_url), call("x [sim:moderate=output]"))
    assert isinstance(err, ContentModerated) and err.code == "output_filtered"
    assert err.upstream_request_id == sim.log.entries[0]["request_id"]


@pytest.mark.parametrize("prompt", ["x [sim:abuse]", "x [sim:403]"])
async def test_the_abuse_block_is_a_moderation_refusal(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, prompt: str
) -> None:
    """microsoft.md §6/§8: the 403 abuse block is a moderation trigger, not our credentials."""
    err = await failure(adapter(client, base_url), call(prompt))
    assert isinstance(err, ContentModerated) and not err.retryable
    assert err.status_code == 403 and err.code == "Forbidden"
    assert "may violate our content policy" in err.message


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_unavailable(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, status: int
) -> None:
    err = await failure(adapter(client, base_url), call(f"x [sim:{status}]"))
    assert isinstance(err, Unavailable) and err.status_code == status


@pytest.mark.parametrize("directive", ["[sim:reset]", "[sim:truncate]", "[sim:malformed]"])
async def test_broken_answers_are_protocol_errors(
    client: httpx.AsyncClient, base_url: str, sim: MaiState, directive: str
) -> None:
    err = await failure(adapter(client, base_url), call(f"x {directive}"))
    assert isinstance(err, ProtocolError)


async def test_the_context_timeout_applies(
    client: httpx.AsyncClient, base_url: str, sim: MaiState
) -> None:
    timeout = httpx.Timeout(connect=5.0, read=0.3, write=5.0, pool=5.0)
    err = await failure(adapter(client, base_url, timeout=timeout), call("x [sim:sleep=1]"))
    assert isinstance(err, UpstreamTimeout)


async def test_no_server_is_unavailable(client: httpx.AsyncClient) -> None:
    err = await failure(adapter(client, "http://127.0.0.1:9/mai/v1"), call())
    assert isinstance(err, Unavailable)
