"""HTTP I/O for xAI's image REST API (``/images/generations``, ``/images/edits``).

All mapping lives in :mod:`providers.xai.translate` and :mod:`providers.xai.errors`; this module
only sends the JSON request, reads the answer and, should xAI answer with temporary URLs instead
of the ``b64_json`` asked for, downloads them at once. The upstream response is opened with
``client.stream`` inside the generator, so closing the generator closes the connection.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator

import httpx

from providers._http import DEFAULT_TIMEOUT, UrlPolicy, download, read_body, transport_errors
from providers.errors import ProviderError
from providers.spec import Accepted, GenerateCall, GenerationEvent
from providers.xai.errors import error_from_response
from providers.xai.translate import Answer, Slot, build_request, completed, read_answer

# Error bodies are small; cap what we read so a misbehaving server cannot make us buffer GBs.
_MAX_ERROR_BODY = 1024 * 1024
# Where xAI's temporary result URLs live (imgen.x.ai per the reference, §2.3 [INF]).
RESULT_HOSTS = ("*.x.ai",)


class XaiAdapter:
    """:class:`providers.spec.ImageAdapter` for xAI's Grok Imagine models.

    The key goes only to ``base_url``, never to a result URL (they are public and temporary);
    it never appears in errors, whose messages are redacted.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "https://api.x.ai/v1",
        provider: str = "xai",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        result_hosts: tuple[str, ...] = RESULT_HOSTS,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._headers = {"Accept": "application/json", "Authorization": f"Bearer {api_key}"}
        self._results = UrlPolicy(base_url=self._base_url, hosts=result_hosts)

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"XaiAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted`` once the answer's headers are in, then one ``Completed``.

        Every failure is a ``ProviderError`` carrying this adapter's provider slug; silent
        moderation (a 200 without images) and an error answer about moderation are
        :class:`providers.errors.ContentModerated`.
        """
        request = build_request(call)
        upstream_id: str | None = None
        try:
            with transport_errors(self.provider):
                async with self._client.stream(
                    "POST",
                    self._base_url + request.path,
                    headers=self._headers,
                    json=request.json,
                    timeout=self._timeout,
                ) as response:
                    upstream_id = response.headers.get("x-request-id")
                    if response.status_code >= 300:
                        body = await read_body(response, limit=_MAX_ERROR_BODY)
                        raise error_from_response(
                            response.status_code,
                            body,
                            response.headers,
                            provider=self.provider,
                            secrets=self._secrets,
                        )
                    yield Accepted(upstream_id)
                    body = await read_body(response)
            answer = read_answer(
                body, provider=self.provider, upstream_id=upstream_id, secrets=self._secrets
            )
            payloads = await self._payloads(answer)
            yield completed(answer, payloads, call, upstream_id=upstream_id)
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = upstream_id
            raise

    async def _payloads(self, answer: Answer) -> list[tuple[str, str | None]]:
        """Each slot's base64 and declared type; URL slots are downloaded concurrently."""
        return list(await asyncio.gather(*(self._payload(slot) for slot in answer.slots)))

    async def _payload(self, slot: Slot) -> tuple[str, str | None]:
        if slot.b64 is not None:
            return slot.b64, slot.declared_type
        assert slot.url is not None
        data, content_type = await download(
            self._client,
            slot.url,
            self._results,
            provider=self.provider,
            http_timeout=self._timeout,
        )
        declared = slot.declared_type or (content_type or "").split(";")[0].strip() or None
        return base64.b64encode(data).decode("ascii"), declared
