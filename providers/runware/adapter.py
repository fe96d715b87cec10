"""HTTP I/O for Runware's task API: one ``POST {base_url}`` with a JSON array of tasks.

All mapping lives in :mod:`providers.runware.translate` and :mod:`providers.runware.errors`.
The answer is synchronous (``deliveryMethod: sync``), so there is nothing to poll: the adapter
yields ``Accepted`` once the response headers arrive and ``Completed`` once the body is read.
The response is opened with ``client.stream`` inside the generator, so closing the generator
closes the connection. Image URLs in an answer (when a task was answered with ``imageURL``
despite asking for base64) are fetched at once from Runware's own hosts, without the key.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import httpx

from providers._http import DEFAULT_TIMEOUT, UrlPolicy, download, read_body, transport_errors
from providers._reframe import adapted
from providers.errors import ProviderError
from providers.runware.dialects import reference_needs
from providers.runware.errors import error_from_response
from providers.runware.translate import (
    Delivery,
    UpstreamRequest,
    build_request,
    completed,
    parse_answer,
)
from providers.spec import Accepted, GenerateCall, GenerationEvent

# Error bodies are small; cap what we read so a misbehaving server cannot make us buffer GBs.
_MAX_ERROR_BODY = 1024 * 1024
# Runware's image CDN (§4: https://im.runware.ai/image/ws/0.5/ii/<uuid>.jpg); the base URL's
# host is always allowed too (a proxy, or the simulator on loopback).
RESULT_HOSTS = ("im.runware.ai",)


class RunwareAdapter:
    """:class:`providers.spec.ImageAdapter` for ``imageInference`` tasks on Runware.

    The key goes only to ``base_url``, as ``Authorization: Bearer`` (what both official SDKs
    send); it never appears in errors, whose messages are redacted.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "https://api.runware.ai/v1",
        provider: str = "runware",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._headers = {"Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._policy = UrlPolicy(base_url=self._base_url, hosts=RESULT_HOSTS)

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"RunwareAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted`` (the first task's UUID as upstream id), then one ``Completed``."""
        upstream_id: str | None = None
        try:
            needs = reference_needs(call.endpoint.upstream_model)
            if needs is not None and call.input_images:
                images = await adapted(call.input_images, needs, provider=self.provider)
                call = replace(call, input_images=images)
            request = build_request(call, [str(uuid.uuid4()) for _ in range(call.n)])
            upstream_id = request.task_uuids[0]
            with transport_errors(self.provider):
                async with self._open(request) as response:
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
            parsed = parse_answer(
                body, request.task_uuids, provider=self.provider, secrets=self._secrets
            )
            deliveries = await self._fetch(parsed.deliveries)
            yield completed(
                call,
                deliveries,
                parsed.failures,
                upstream_id=upstream_id,
                warnings=request.warnings,
            )
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = upstream_id
            raise

    def _open(self, request: UpstreamRequest) -> AbstractAsyncContextManager[httpx.Response]:
        return self._client.stream(
            "POST",
            self._base_url,
            headers=self._headers,
            json=list(request.tasks),
            timeout=self._timeout,
        )

    async def _fetch(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Base64 for every delivery, downloading the URL ones concurrently (no key sent)."""

        async def one(delivery: Delivery) -> Delivery:
            if delivery.b64 is not None or delivery.url is None:
                return delivery
            data, _ = await download(
                self._client,
                delivery.url,
                self._policy,
                provider=self.provider,
                http_timeout=self._timeout,
            )
            encoded = base64.b64encode(data).decode("ascii")
            return Delivery(delivery.task_uuid, encoded, None, delivery.cost)

        return list(await asyncio.gather(*(one(d) for d in deliveries)))
