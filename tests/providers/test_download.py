"""Result downloads: allowed hosts only, our key only where it belongs, no redirects."""

from __future__ import annotations

import httpx
import pytest

from providers._http import UrlPolicy, download
from providers.errors import ProtocolError, Unavailable

POLICY = UrlPolicy(
    base_url="https://api.example.ai/v1",
    hosts=("*.example.ai", "cdn.other.net"),
    key_hosts=("*.example.ai",),
)


def _client(seen: list[httpx.Request], status: int = 200) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status in (301, 302):
            return httpx.Response(status, headers={"location": "https://evil.test/x"})
        return httpx.Response(
            status, content=b"\x89PNG-bytes", headers={"content-type": "image/png"}
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_key_goes_to_provider_hosts_only() -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        body, kind = await download(
            client,
            "https://delivery-1.example.ai/a.png",
            POLICY,
            provider="p",
            key_headers={"x-key": "secret"},
        )
        await download(
            client,
            "https://cdn.other.net/b.png",
            POLICY,
            provider="p",
            key_headers={"x-key": "secret"},
        )
    assert body == b"\x89PNG-bytes" and kind == "image/png"
    assert seen[0].headers.get("x-key") == "secret"
    assert "x-key" not in seen[1].headers


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/a.png",
        "http://delivery.example.ai/a.png",
        "ftp://api.example.ai/x",
        "https://example.ai.evil.test/a",
    ],
)
async def test_foreign_or_plain_http_hosts_are_refused(url: str) -> None:
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        with pytest.raises(ProtocolError):
            await download(client, url, POLICY, provider="p")
    assert seen == []


async def test_loopback_simulator_base_url_is_trusted_over_http() -> None:
    policy = UrlPolicy(base_url="http://127.0.0.1:9999/bfl/v1")
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        await download(
            client,
            "http://127.0.0.1:9999/bfl/results/1.png",
            policy,
            provider="p",
            key_headers={"x-key": "k"},
        )
    assert seen[0].headers["x-key"] == "k"


@pytest.mark.parametrize(
    ("status", "error"), [(403, ProtocolError), (302, ProtocolError), (503, Unavailable)]
)
async def test_failed_downloads_are_provider_errors(status: int, error: type[Exception]) -> None:
    async with _client([], status) as client:
        with pytest.raises(error):
            await download(client, "https://x.example.ai/a.png", POLICY, provider="p")


async def test_loopback_aliases_of_a_loopback_base_url_count_as_the_base_host() -> None:
    policy = UrlPolicy(base_url="http://127.0.0.1:9999/bfl/v1")
    seen: list[httpx.Request] = []
    async with _client(seen) as client:
        for url in ("http://localhost:9999/bfl/r.png", "http://[::1]:9999/bfl/r.png"):
            await download(client, url, policy, provider="p", key_headers={"x-key": "k"})
        with pytest.raises(ProtocolError):  # a remote base URL has no loopback aliases
            await download(client, "http://localhost:9999/x.png", POLICY, provider="p")
    assert [r.headers["x-key"] for r in seen] == ["k", "k"]


def test_glob_patterns_match_runs_of_characters() -> None:
    policy = UrlPolicy(
        base_url="https://api.bfl.ai/v1", hosts=("*.bfl.ai",), key_hosts=("api*.bfl.ai",)
    )
    for url, key in [
        ("https://api.eu2.bfl.ai/v1/get_result?id=1", True),
        ("https://api.us1.bfl.ai/v1/get_result", True),
        ("https://delivery-eu1.bfl.ai/r/sample.jpeg", False),
        ("http://api.eu2.bfl.ai/v1/get_result", None),  # not https: refused outright
        ("https://api.eu2.bfl.ai.evil.test/x", None),
    ]:
        if key is None:
            with pytest.raises(ProtocolError):
                policy.check(url, provider="p")
        else:
            assert policy.sends_key(policy.check(url, provider="p")) is key


@pytest.mark.parametrize(
    ("url", "checked", "key"),
    [
        ("https://api.example.ai/v1/r", True, True),
        ("https://api.example.ai:443/v1/r", True, True),  # the default port, spelled out
        ("https://API.example.ai/v1/r", True, True),
        ("http://api.example.ai/v1/r", False, None),  # the base is https: plain http is not it
        ("http://api.example.ai:443/v1/r", False, None),
        ("https://api.example.ai:8443/v1/r", True, False),  # an allowed host, another port
        ("https://other.example.ai:8443/v1/r", True, False),  # a key host on another port
    ],
)
def test_the_base_origin_is_scheme_host_and_port(url: str, checked: bool, key: bool | None) -> None:
    if not checked:
        with pytest.raises(ProtocolError, match="unexpected host"):
            POLICY.check(url, provider="p")
    else:
        assert POLICY.sends_key(POLICY.check(url, provider="p")) is key


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://127.0.0.1:9999/r", True),
        ("http://localhost:9999/r", True),
        ("http://[::1]:9999/r", True),
        ("http://127.0.0.1:9998/r", None),  # another local port: another server
        ("http://localhost/r", None),  # port 80
        ("https://127.0.0.1:9999/r", None),  # another scheme
    ],
)
def test_a_loopback_base_trusts_its_aliases_on_its_own_scheme_and_port_only(
    url: str, key: bool | None
) -> None:
    policy = UrlPolicy(base_url="http://127.0.0.1:9999/bfl/v1", key_hosts=("*",))
    if key is None:
        with pytest.raises(ProtocolError):
            policy.check(url, provider="p")
    else:
        assert policy.sends_key(policy.check(url, provider="p")) is key


def test_an_https_base_on_a_custom_port_is_trusted_there_only() -> None:
    policy = UrlPolicy(base_url="https://gw.internal:8443/bfl")
    assert policy.sends_key(policy.check("https://gw.internal:8443/r", provider="p"))
    for url in ("https://gw.internal/r", "http://gw.internal:8443/r"):
        with pytest.raises(ProtocolError):
            policy.check(url, provider="p")
