"""HTTP I/O for the Recraft external API (``POST /v1/images/generations``, ``/imageToImage``).

All mapping lives in :mod:`providers.recraft.translate` and :mod:`providers.recraft.errors`;
this module sends the request, reads the JSON answer and downloads the result files at once
(Recraft answers with temporary URLs, reference §2.5). Downloads go only to Recraft's own
hosts (and the configured base URL's origin) and never carry our key: result URLs are public
links on a delivery host, whichever host they name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx

from providers._http import DEFAULT_TIMEOUT, UrlPolicy, download, read_body, transport_errors
from providers.errors import ProviderError
from providers.recraft.errors import error_from_response
from providers.recraft.translate import (
    Answer,
    ResultItem,
    build_request,
    completed,
    decode_b64,
    failed_charge,
    make_image,
    parse_answer,
)
from providers.spec import Accepted, GenerateCall, GeneratedImage, GenerationEvent

DEFAULT_BASE_URL = "https://external.api.recraft.ai/v1"
# Where result URLs may point (exact hosts, https only); the base URL's origin is always allowed.
IMAGE_HOSTS = ("img.recraft.ai", "external.api.recraft.ai")
_MAX_ERROR_BODY = 1024 * 1024


def url_policy(base_url: str) -> UrlPolicy:
    """Result URLs: Recraft's hosts over https, or the base URL's origin."""
    return UrlPolicy(base_url=base_url, hosts=IMAGE_HOSTS)


class RecraftAdapter:
    """:class:`providers.spec.ImageAdapter` for Recraft's raster and vector models."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        provider: str = "recraft",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._key_headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._policy = url_policy(self._base_url)

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"RecraftAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted`` once Recraft answered 2xx, then one ``Completed``.

        Every failure is a ``ProviderError`` with this adapter's provider slug.
        """
        request = build_request(call)
        try:
            with transport_errors(self.provider):
                async with self._client.stream(
                    "POST",
                    self._base_url + request.path,
                    headers={"Accept": "application/json", **self._key_headers},
                    json=request.json,
                    timeout=self._timeout,
                ) as response:
                    if response.status_code >= 300:
                        raise error_from_response(
                            response.status_code,
                            await read_body(response, limit=_MAX_ERROR_BODY),
                            response.headers,
                            provider=self.provider,
                            secrets=self._secrets,
                        )
                    yield Accepted(response.headers.get("x-request-id"))
                    body = await read_body(response)
            answer = parse_answer(body, provider=self.provider)
            images, failures = await self._fetch_all(answer)
            if not images:  # Recraft made (and billed) the images: the error says what it billed
                failures[0].charge = failed_charge(call, answer)
                raise failures[0]
            yield completed(call, answer, images, failures)
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            raise

    async def _fetch_all(self, answer: Answer) -> tuple[list[GeneratedImage], list[ProviderError]]:
        """Every result file, concurrently: the ones that arrived and the failures."""
        outcomes = await asyncio.gather(
            *(self._fetch(item) for item in answer.items), return_exceptions=True
        )
        images = [o for o in outcomes if isinstance(o, GeneratedImage)]
        failures: list[ProviderError] = []
        for outcome in outcomes:
            if isinstance(outcome, ProviderError):
                failures.append(outcome)
            elif isinstance(outcome, BaseException):
                raise outcome
        return images, failures

    async def _fetch(self, item: ResultItem) -> GeneratedImage:
        if item.b64 is not None:
            data = decode_b64(item.b64, provider=self.provider)
            return make_image(data, None, b64=item.b64, provider=self.provider)
        assert item.url is not None  # parse_answer guarantees one of the two
        data, content_type = await download(
            self._client,
            item.url,
            self._policy,
            provider=self.provider,
            http_timeout=self._timeout,  # no key_headers: the image host gets no credentials
        )
        return make_image(data, content_type, provider=self.provider)
