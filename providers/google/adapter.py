"""HTTP I/O for the Gemini API's ``generateContent`` (Google AI Studio keys).

All mapping lives in :mod:`providers.google.translate` and :mod:`providers.google.errors`; this
module only sends the request and reads the answer. The key goes in the ``x-goog-api-key``
header (never in the URL, where it would end up in logs). The call is synchronous and buffered:
the reference recommends it, since images are not streamed progressively (§4). The upstream
response is opened with ``client.stream`` inside the generator, so closing the generator closes
the connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx
import orjson

from providers._http import DEFAULT_TIMEOUT, read_body, transport_errors
from providers.errors import ProviderError
from providers.google.errors import error_from_response
from providers.google.translate import build_request, parse_response
from providers.spec import Accepted, GenerateCall, GenerationEvent

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"
# Error bodies are small; cap what we read so a misbehaving server cannot make us buffer GBs.
_MAX_ERROR_BODY = 1024 * 1024


class GoogleAdapter:
    """:class:`providers.spec.ImageAdapter` for ``POST /models/{model}:generateContent``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        provider: str = "google-ai-studio",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["x-goog-api-key"] = api_key

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"GoogleAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted`` once Google answers 200, then one ``Completed``.

        Every failure, refusals included, is a ``ProviderError`` carrying this adapter's
        provider slug.
        """
        try:
            request = build_request(call)
            with transport_errors(self.provider):
                async with self._client.stream(
                    "POST",
                    self._base_url + request.path,
                    headers=self._headers,
                    content=orjson.dumps(request.json),
                    timeout=self._timeout,
                ) as response:
                    if response.status_code >= 300:
                        body = await read_body(response, limit=_MAX_ERROR_BODY)
                        raise error_from_response(
                            response.status_code,
                            body,
                            response.headers,
                            provider=self.provider,
                            secrets=self._secrets,
                        )
                    yield Accepted(None)  # Google sends no request id before the body
                    body = await read_body(response)
            yield parse_response(body, call, provider=self.provider, secrets=self._secrets)
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            raise
