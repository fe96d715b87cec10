"""Turn a request's ``input_references`` into checked image bytes without becoming an SSRF proxy.

Each reference is a ``data:<media type>;base64,<payload>`` URL or an ``http(s)`` URL
(OpenRouter image API §2.3). Everything is checked before an adapter sees it:

* **data: URLs** are decoded strictly (no whitespace, padding required), bounded by
  ``FetchPolicy.max_bytes``, and the declared media type must be allowed *and* agree with the
  magic bytes. ``image/jpg`` is accepted as an alias of ``image/jpeg``.
* **http(s) URLs** are fetched by the gateway. The host is resolved once with
  ``loop.getaddrinfo``; if *any* address is non-public (see :mod:`app.generation.netguard`)
  and not inside ``FetchPolicy.allow_networks``, the reference is refused. The request then goes
  to the vetted IP itself, with the original ``Host`` header and (for https) SNI/certificate
  name, so a second DNS answer can never redirect us (DNS rebinding). Redirects are followed by
  hand, each hop re-vetted, up to ``max_redirects``. The body is streamed and dropped as soon as
  it passes ``max_bytes``; a larger ``Content-Length`` is refused before reading. The whole
  fetch (DNS, connects, redirects, body) is bounded by ``timeout_s``.
* **Media type** of a fetched image is taken from its magic bytes. The ``Content-Type`` must be
  an allowed ``image/*`` type, or generic (absent, ``application/octet-stream``,
  ``binary/octet-stream``: object stores often serve images so); a server that labels a PNG
  ``image/jpeg`` is not the caller's fault, so the sniffed type wins. HTML, JSON, SVG… are refused.
* **Nothing of ours is sent**: requests are built from scratch (no client default headers,
  cookies or auth), with ``Connection: close`` so no pooled TLS connection is reused for another
  SNI name. Use a dedicated ``httpx.AsyncClient`` for reference fetching: httpx still stores
  ``Set-Cookie`` answers in the client's jar.

Errors. Every failure is the caller's URL's problem, so every one is a :class:`BadRequest`
(400) with ``metadata.param = "input_references[i]"``: invalid or non-http(s) URL, blocked
address, DNS failure, connection failure, non-image, too large, too many redirects, any
non-200 answer from the remote (a remote 5xx too), and **timeouts** ("timed out fetching").
Not 408: that status means *the client* was slow to send its request, and the official SDKs
retry 408 and 5xx, which would only repeat a deterministic failure. Messages never echo a
data URL, the URL itself, resolved IPs or exception text.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from app.errors import BadRequest, GatewayError
from app.generation.netguard import IPAddress, IPNetwork, is_allowed_address
from providers._reframe import Needs, convert
from providers.errors import InvalidRequest
from providers.spec import InputImage

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""Maps ``(host, port)`` to every address the host resolves to; raises ``OSError`` on failure."""

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
# What the gateway takes as references. PNG, JPEG and WebP go to every provider as they are;
# a GIF goes as a PNG of its first frame (see :func:`stills`). HEIC/HEIF/AVIF are recognized by
# the sniffer; an operator may enable them.
DEFAULT_MEDIA_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
# A GIF is decoded to be re-encoded (providers._reframe, as adapters convert for narrower
# providers): its declared canvas is checked first (at most ``MAX_PIXELS``), so a few kilobytes
# declaring 65535x65535 cannot make the gateway allocate gigabytes.
STILL_TYPES = Needs(media_types=frozenset({"image/png", "image/jpeg", "image/webp"}))

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_GENERIC_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
_MEDIA_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
_TOKEN = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
_SNIFF_BYTES = 16
_MAX_URL_CHARS = 8192
_USER_AGENT = "imagegate-reference-fetcher/1"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits for fetching references; ``allow_networks`` is the operator's SSRF escape hatch."""

    max_bytes: int = DEFAULT_MAX_BYTES  # per image, decoded
    timeout_s: float = 15.0  # total per reference, redirects included
    max_redirects: int = 3
    allowed_media_types: frozenset[str] = DEFAULT_MEDIA_TYPES
    allow_networks: tuple[IPNetwork, ...] = ()
    max_concurrency: int = 4  # fetches in flight per call
    # All references of one request together, decoded (data: URLs and downloads alike).
    max_total_bytes: int = 4 * DEFAULT_MAX_BYTES
    # Downloads in flight across the whole process (shared by every request), or None.
    global_slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.timeout_s <= 0 or self.max_concurrency < 1:
            raise ValueError("max_bytes, timeout_s and max_concurrency must be positive")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")


# --------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------


def sniff_media_type(head: bytes) -> str | None:
    """The image media type announced by the leading magic bytes, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"mif1", b"msf1"):
            return "image/heif"
        if brand in (b"avif", b"avis"):
            return "image/avif"
    return None


def normalize_media_type(value: str) -> str | None:
    """Lowercased ``type/subtype`` with aliases folded, or None if it is not a media type."""
    media_type = value.strip().lower()
    if not _TOKEN.match(media_type):
        return None
    return _MEDIA_ALIASES.get(media_type, media_type)


def decode_data_url(raw: str, *, param: str, policy: FetchPolicy) -> InputImage:
    """Decode ``data:<media type>[;params];base64,<payload>`` strictly; never echo its content."""
    header, comma, payload = raw[5:].partition(",")
    parts = header.split(";")
    if not comma or len(parts) < 2 or parts[-1].strip().lower() != "base64":
        raise BadRequest(
            f"{param} must be a base64 data URL (data:<media type>;base64,<data>)", param=param
        )
    media_type = normalize_media_type(parts[0])
    if media_type is None or media_type not in policy.allowed_media_types:
        shown = f"'{media_type}'" if media_type else "missing or invalid"
        raise BadRequest(
            f"{param} media type {shown} is not supported",
            param=param,
            allowed=sorted(policy.allowed_media_types),
        )
    if len(payload) > 4 * (policy.max_bytes // 3 + 1):  # refuse before decoding
        raise _too_large(param, policy)
    try:
        data = base64.b64decode(payload, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        raise BadRequest(f"{param} data URL is not valid base64", param=param) from None
    if len(data) > policy.max_bytes:
        raise _too_large(param, policy)
    sniffed = sniff_media_type(data[:_SNIFF_BYTES])
    if sniffed != media_type:
        found = f"{sniffed} data" if sniffed else "data that is not a recognized image"
        raise BadRequest(f"{param} declares {media_type} but contains {found}", param=param)
    return InputImage(data=data, media_type=media_type)


def parse_remote_url(raw: str, *, param: str) -> httpx.URL:
    """Validate an http(s) reference URL without touching the network."""
    try:
        url = httpx.URL(raw.strip()) if len(raw) <= _MAX_URL_CHARS else None
    except httpx.InvalidURL:
        url = None
    if url is None:
        raise BadRequest(f"{param} is not a valid URL", param=param)
    if url.scheme not in ("http", "https"):
        raise BadRequest(f"{param} must be an http(s) URL or a data: URL", param=param)
    if not url.raw_host:
        raise BadRequest(f"{param} URL has no host", param=param)
    if url.userinfo:
        raise BadRequest(f"{param} URL must not contain credentials", param=param)
    if url.port is not None and not 0 < url.port < 65536:
        raise BadRequest(f"{param} URL has an invalid port", param=param)
    return url


def _too_large(param: str, policy: FetchPolicy) -> BadRequest:
    return BadRequest(f"{param} is larger than the {policy.max_bytes} byte limit", param=param)


class TooMuchReference(GatewayError):
    """413: the references of one request add up to more than the per-request budget."""

    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__(
            413,
            f"The input references of this request add up to more than "
            f"{policy.max_total_bytes} bytes (IMAGEGATE_MAX_REFERENCE_BYTES)",
            metadata={"param": "input_references"},
        )


class _Budget:
    """Bytes of reference images one request may still take in."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.used = 0

    def take(self, count: int) -> None:
        self.used += count
        if self.used > self.policy.max_total_bytes:
            raise TooMuchReference(self.policy)


# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every IPv4/IPv6 address ``host`` resolves to, in the system's preference order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = ipaddress.ip_address(str(sockaddr[0]))
            if ip not in found:
                found.append(ip)
    return found


async def resolve_references(
    urls: Sequence[str],
    *,
    client: httpx.AsyncClient,
    policy: FetchPolicy,
    resolver: Resolver | None = None,
) -> tuple[InputImage, ...]:
    """Resolve every reference, in order; raise :class:`BadRequest` naming the first bad one.

    data: URLs and URL syntax are checked before any network I/O; http(s) references are then
    fetched concurrently, at most ``policy.max_concurrency`` at a time.
    """
    results: dict[int, InputImage] = {}
    remote: list[tuple[int, httpx.URL]] = []
    budget = _Budget(policy)
    for index, raw in enumerate(urls):
        param = f"input_references[{index}]"
        if raw[:5].lower() == "data:":
            results[index] = decode_data_url(raw, param=param, policy=policy)
            budget.take(len(results[index].data))
        else:
            remote.append((index, parse_remote_url(raw, param=param)))
    if remote:
        fetcher = _Fetcher(client, policy, resolver or system_resolver, budget)
        results.update(await fetcher.fetch_all(remote))
    return tuple(results[index] for index in range(len(urls)))


class _Fetcher:
    def __init__(
        self, client: httpx.AsyncClient, policy: FetchPolicy, resolver: Resolver, budget: _Budget
    ):
        self._client = client
        self._policy = policy
        self._resolver = resolver
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._budget = budget

    async def fetch_all(self, remote: list[tuple[int, httpx.URL]]) -> dict[int, InputImage]:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = {i: group.create_task(self._fetch(i, url)) for i, url in remote}
        except ExceptionGroup as failure:
            # The first failure cancelled the rest; surface it as itself, not as a group.
            errors = failure.exceptions
            unexpected = [e for e in errors if not isinstance(e, GatewayError)]
            raise (unexpected or list(errors))[0] from None
        return {i: task.result() for i, task in tasks.items()}

    async def _fetch(self, index: int, url: httpx.URL) -> InputImage:
        param = f"input_references[{index}]"
        process_wide = self._policy.global_slots or contextlib.nullcontext()
        async with self._slots, process_wide:
            try:
                async with asyncio.timeout(self._policy.timeout_s):
                    return await self._follow(url, param)
            except (TimeoutError, httpx.TimeoutException):
                raise BadRequest(
                    f"Timed out fetching {param} (limit {self._policy.timeout_s:g} s)",
                    param=param,
                ) from None
            except (httpx.HTTPError, OSError) as exc:
                raise BadRequest(f"Could not fetch {param}", param=param) from exc

    async def _follow(self, url: httpx.URL, param: str) -> InputImage:
        for _ in range(self._policy.max_redirects + 1):
            response = await self._send_vetted(url, param)
            try:
                target = _next_hop(response, url, param)
                if target is None:
                    return await self._read_image(response, param)
            finally:
                await response.aclose()
            url = parse_remote_url(str(target), param=param)
        raise BadRequest(
            f"{param} redirected more than {self._policy.max_redirects} times", param=param
        )

    async def _send_vetted(self, url: httpx.URL, param: str) -> httpx.Response:
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await self._vet(host, port, param)
        last_error: httpx.ConnectError | None = None
        for ip in addresses:
            request = _build_request(url, ip, host, port, self._policy)
            try:
                return await self._client.send(
                    request, stream=True, follow_redirects=False, auth=None
                )
            except httpx.ConnectError as exc:  # try the host's next address
                last_error = exc
        raise BadRequest(f"Could not connect to the host of {param}", param=param) from last_error

    async def _vet(self, host: str, port: int, param: str) -> Sequence[IPAddress]:
        try:
            addresses = await self._resolver(host, port)
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            raise BadRequest(f"Could not resolve the host of {param}", param=param) from exc
        if not addresses:
            raise BadRequest(f"Could not resolve the host of {param}", param=param)
        if not all(is_allowed_address(ip, self._policy.allow_networks) for ip in addresses):
            raise BadRequest(
                f"{param} points to a private, loopback or reserved address, which is not allowed",
                param=param,
            )
        return addresses

    async def _read_image(self, response: httpx.Response, param: str) -> InputImage:
        policy = self._policy
        _check_content_type(response, param, policy)
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > policy.max_bytes:
            raise _too_large(param, policy)
        body = bytearray()
        media_type: str | None = None
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > policy.max_bytes:
                raise _too_large(param, policy)
            self._budget.take(len(chunk))
            if media_type is None and len(body) >= _SNIFF_BYTES:  # refuse non-images early
                media_type = _sniff_allowed(bytes(body[:_SNIFF_BYTES]), param, policy)
        if media_type is None:
            media_type = _sniff_allowed(bytes(body), param, policy)
        return InputImage(data=bytes(body), media_type=media_type)


def _build_request(
    url: httpx.URL, ip: IPAddress, host: str, port: int, policy: FetchPolicy
) -> httpx.Request:
    """A request to the vetted ``ip`` that the server still sees as addressed to ``host``."""
    named = f"[{host}]" if ":" in host else host
    default_port = 443 if url.scheme == "https" else 80
    extensions: dict[str, object] = {"timeout": httpx.Timeout(policy.timeout_s).as_dict()}
    if url.scheme == "https":
        extensions["sni_hostname"] = host  # certificate is checked against the name, not the IP
    return httpx.Request(
        "GET",
        url.copy_with(host=str(ip)),
        headers={
            "Host": named if port == default_port else f"{named}:{port}",
            "User-Agent": _USER_AGENT,
            "Accept": "image/*",
            "Accept-Encoding": "identity",
            "Connection": "close",
        },
        extensions=extensions,
    )


def _next_hop(response: httpx.Response, url: httpx.URL, param: str) -> httpx.URL | None:
    """The redirect target, None for a 200 answer; any other status is the caller's problem."""
    if response.status_code == 200:
        return None
    if response.status_code not in _REDIRECTS:
        raise BadRequest(f"Fetching {param} failed with HTTP {response.status_code}", param=param)
    location = response.headers.get("location")
    if not location:
        raise BadRequest(f"{param} redirected without a Location", param=param)
    try:
        return url.join(location)
    except httpx.InvalidURL:
        raise BadRequest(f"{param} redirected to an invalid URL", param=param) from None


def _check_content_type(response: httpx.Response, param: str, policy: FetchPolicy) -> None:
    raw = response.headers.get("content-type")
    if raw is None:
        return
    declared = normalize_media_type(raw.split(";", 1)[0])
    if declared in _GENERIC_TYPES:
        return
    if declared is None or not declared.startswith("image/"):
        shown = f" (got {declared})" if declared else ""
        raise BadRequest(f"{param} did not return an image{shown}", param=param)
    if declared not in policy.allowed_media_types:
        raise BadRequest(
            f"{param} image type {declared} is not supported",
            param=param,
            allowed=sorted(policy.allowed_media_types),
        )


def _sniff_allowed(head: bytes, param: str, policy: FetchPolicy) -> str:
    media_type = sniff_media_type(head)
    if media_type is None:
        raise BadRequest(f"{param} is not a recognized image", param=param)
    if media_type not in policy.allowed_media_types:
        raise BadRequest(
            f"{param} image type {media_type} is not supported",
            param=param,
            allowed=sorted(policy.allowed_media_types),
        )
    return media_type


def stills(images: Sequence[InputImage]) -> tuple[InputImage, ...]:
    """GIF references as PNGs of their first frame, the others as they are (blocking: Pillow).

    OpenAI's edits, Gemini, Recraft, Black Forest Labs and xAI take PNG, JPEG or WebP only
    (a GIF is their 400), and no provider animates a reference: the first frame is the image a
    caller means. Transparency is kept. Each image is named as the request numbered it.
    """
    out = []
    for index, image in enumerate(images):
        if image.media_type == "image/gif":
            param = f"input_references[{index}]"
            try:
                image = convert(image, STILL_TYPES, param)
            except InvalidRequest as exc:
                raise BadRequest(exc.message, param=param) from exc
        out.append(image)
    return tuple(out)
