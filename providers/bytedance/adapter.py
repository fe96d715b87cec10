"""HTTP I/O for Seedream on BytePlus ModelArk (``POST {base}/images/generations``).

All mapping lives in :mod:`providers.bytedance.translate` and :mod:`providers.bytedance.errors`;
this module sends the request, reads the answer (one JSON body, or SSE when streaming), fetches
result URLs when the operator chose ``response_format: url``, and relays events. The upstream
response is opened with ``client.stream`` inside the generator, so closing the generator closes
the connection.

Streaming answers are told apart from JSON by the status and then the first body byte, not by
the Content-Type alone (§4 gotcha 1): a validation error comes back as plain JSON 400 even with
``stream: true``. Response headers of a stream arrive only once the first image is done, so the
read timeout must cover one image's generation (the context's upstream timeout does).

The official streaming sample spreads an event's JSON over several lines with no ``data:`` on
the continuation lines (§4: "the adapter parser may tolerate both"): the decoder reads those
lines as the event's data (``continuation_lines``), where a standard SSE parser drops them.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing

import httpx

from providers._http import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TIMEOUT,
    ServerSentEvent,
    SSEDecoder,
    UrlPolicy,
    download,
    read_body,
    transport_errors,
)
from providers.bytedance.errors import PROVIDER, error_from_response
from providers.bytedance.translate import (
    GENERATIONS_PATH,
    Delivery,
    StreamAccumulator,
    build_request,
    completed,
    make_image,
    read_images_response,
)
from providers.errors import ProtocolError, ProviderError
from providers.spec import (
    Accepted,
    GenerateCall,
    GeneratedImage,
    GenerationEvent,
    PartialImage,
    Usage,
)

DEFAULT_BASE_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"
# Where result URLs may point (pre-signed object-store links, fetched without our key). [INF]:
# the reference shows only "https://..."; ModelArk serves them from its TOS object storage.
RESULT_HOSTS = ("*.volces.com", "*.bytepluses.com", "*.byteplus.com")
_MAX_ERROR_BODY = 1024 * 1024
_DONE = "[DONE]"


class SeedreamAdapter:
    """:class:`providers.spec.ImageAdapter` for Seedream 4.x/5.x on ModelArk.

    The key goes only to ``base_url`` as ``Authorization: Bearer``; result URLs are fetched
    without it. It never appears in errors, whose messages are redacted.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        provider: str = PROVIDER,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        result_hosts: tuple[str, ...] = RESULT_HOSTS,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._policy = UrlPolicy(base_url=self._base_url, hosts=result_hosts)

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"SeedreamAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted``, a ``PartialImage`` per image as it streams in, then ``Completed``.

        Every failure is a ``ProviderError`` carrying this adapter's provider slug and, once the
        response headers arrived, the upstream request id.
        """
        body = build_request(call)
        upstream_id: str | None = None
        try:
            with transport_errors(self.provider):
                async with self._client.stream(
                    "POST",
                    self._base_url + GENERATIONS_PATH,
                    headers=self._headers,
                    json=body,
                    timeout=self._timeout,
                ) as response:
                    upstream_id = response.headers.get("x-request-id")
                    if response.status_code >= 300:
                        raise error_from_response(
                            response.status_code,
                            await read_body(response, limit=_MAX_ERROR_BODY),
                            response.headers,
                            provider=self.provider,
                            secrets=self._secrets,
                        )
                    yield Accepted(upstream_id)
                    async with aclosing(self._answer(response, call, upstream_id)) as events:
                        async for event in events:
                            yield event
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = upstream_id
            raise

    async def _answer(
        self, response: httpx.Response, call: GenerateCall, upstream_id: str | None
    ) -> AsyncGenerator[GenerationEvent, None]:
        chunks = response.aiter_bytes()
        head = await _head(chunks)
        if not head.strip():
            raise ProtocolError("upstream answered 200 with an empty body", provider=self.provider)
        if not call.stream or head.lstrip().startswith(b"{"):  # one JSON body
            body = head + await _rest(chunks)
            answer = read_images_response(
                body, provider=self.provider, upstream_id=upstream_id, secrets=self._secrets
            )
            fetched = await asyncio.gather(
                *(self._image(d, call) for d in answer.deliveries), return_exceptions=True
            )
            images = [f for f in fetched if isinstance(f, GeneratedImage)]
            lost = [f for f in fetched if isinstance(f, BaseException)]
            for exc in lost:
                if not isinstance(exc, ProviderError):
                    raise exc
            if lost and not images:
                # generated (and billed: usage.generated_images) but not one could be fetched
                failure = lost[0]
                assert isinstance(failure, ProviderError)
                reported = answer.usage.generated_images if answer.usage else None
                failure.charge = Usage(
                    images=len(answer.deliveries) if reported is None else reported
                )
                raise failure
            notes = (
                (f"{len(lost)} generated image(s) could not be downloaded (billed upstream)",)
                if lost
                else ()
            )
            yield completed(
                call,
                images,
                answer.failures,
                answer.usage,
                provider=self.provider,
                upstream_id=upstream_id,
                secrets=self._secrets,
                extra_warnings=notes,
            )
            return
        acc = StreamAccumulator(
            call, provider=self.provider, upstream_id=upstream_id, secrets=self._secrets
        )
        async with aclosing(_sse(head, chunks)) as events:
            async for sse in events:
                delivery = acc.feed(sse.data)
                if delivery is not None:
                    image = await self._image(delivery, call)
                    acc.add(image)
                    yield PartialImage(delivery.index, image.b64, image.media_type)
                if acc.done:  # completed (or a stream error): no need to wait for [DONE]
                    break
        yield acc.finish()

    async def _image(self, delivery: Delivery, call: GenerateCall) -> GeneratedImage:
        """The delivered base64 as is, or the downloaded URL (without our key)."""
        b64 = delivery.b64
        if b64 is None:
            assert delivery.url is not None  # translate never makes an empty delivery
            data, _ = await download(
                self._client,
                delivery.url,
                self._policy,
                provider=self.provider,
                http_timeout=self._timeout,
            )
            b64 = base64.b64encode(data).decode("ascii")
        return make_image(b64, delivery.size, delivery.output_format, call)


async def _head(chunks: AsyncIterator[bytes]) -> bytes:
    """Bytes up to the first non-whitespace one (empty at EOF)."""
    head = b""
    async for chunk in chunks:
        head += chunk
        if head.strip():
            break
    return head


async def _rest(chunks: AsyncIterator[bytes], limit: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"response body larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def _sse(head: bytes, chunks: AsyncIterator[bytes]) -> AsyncGenerator[ServerSentEvent, None]:
    """The SSE events of ``head`` + the rest, up to ``data: [DONE]`` or EOF."""
    decoder = SSEDecoder(continuation_lines=True)
    for event in decoder.feed(head):
        if event.data.strip() == _DONE:
            return
        yield event
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            if event.data.strip() == _DONE:
                return
            yield event
    for event in decoder.close():
        if event.data.strip() != _DONE:
            yield event
