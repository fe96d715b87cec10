"""HTTP I/O for the OpenAI Images API (and OpenAI-compatible servers at another base URL).

All mapping lives in :mod:`providers.openai.translate` and :mod:`providers.openai.errors`; this
module only sends the request, reads the answer (buffered JSON or SSE) and relays events. The
upstream response is opened with ``client.stream`` inside the generator, so closing the generator
closes the connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, aclosing

import httpx

from providers._http import (
    DEFAULT_TIMEOUT,
    iter_sse_flowing,
    read_body,
    read_chunks,
    transport_errors,
)
from providers.errors import ProviderError
from providers.openai.errors import error_from_response
from providers.openai.translate import (
    StreamAccumulator,
    UpstreamRequest,
    build_request,
    is_partial_start,
    parse_images_response,
)
from providers.spec import Accepted, B64Flow, GenerateCall, GenerationEvent

# Error bodies are small; cap what we read so a misbehaving server cannot make us buffer GBs.
_MAX_ERROR_BODY = 1024 * 1024


class OpenAIAdapter:
    """:class:`providers.spec.ImageAdapter` for ``POST /images/generations`` and ``/images/edits``.

    The key is sent only to ``base_url`` (and omitted entirely when empty, for keyless
    OpenAI-compatible servers); it never appears in errors, whose messages are redacted.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        provider: str = "openai",
        organization: str | None = None,
        project: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        headers = {"Accept": "application/json"}  # as the SDK sends, even when streaming
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self._headers = headers

    def __repr__(self) -> str:  # never show the headers (they hold the key)
        return f"OpenAIAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted``, then ``PartialImage``s when streaming, then one ``Completed``.

        Every failure is a ``ProviderError`` carrying this adapter's provider slug and, once the
        response headers arrived, the upstream ``x-request-id``.
        """
        request = build_request(call)
        upstream_id: str | None = None
        try:
            with transport_errors(self.provider):
                async with self._open(request) as response:
                    upstream_id = response.headers.get("x-request-id")
                    if response.status_code >= 300:
                        body = await read_body(response, limit=_MAX_ERROR_BODY)
                        raise error_from_response(
                            response.status_code,
                            body,
                            response.headers,
                            provider=self.provider,
                            secrets=self._secrets,
                            model=call.endpoint.upstream_model,
                        )
                    yield Accepted(upstream_id)
                    answer = self._answer(response, call, request, upstream_id)
                    async with aclosing(answer) as events:
                        async for event in events:
                            yield event
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = upstream_id
            raise

    async def _answer(
        self,
        response: httpx.Response,
        call: GenerateCall,
        request: UpstreamRequest,
        upstream_id: str | None,
    ) -> AsyncGenerator[GenerationEvent, None]:
        if not _is_event_stream(response):  # buffered, or a compatible server ignoring `stream`
            # the buffers as they arrived: large images are relayed in them, never joined
            chunks = await read_chunks(response)
            completed = parse_images_response(
                chunks,
                call,
                provider=self.provider,
                upstream_id=upstream_id,
                secrets=self._secrets,
                warnings=request.warnings,
            )
            del chunks  # what was not lifted is not to be kept alive while images are relayed
            yield completed
            return
        acc = StreamAccumulator(
            call,
            provider=self.provider,
            upstream_id=upstream_id,
            secrets=self._secrets,
            warnings=request.warnings,
        )
        # A large partial image is relayed while it arrives (a B64Flow), not once it is whole.
        stream = iter_sse_flowing(response, key="b64_json", wants=is_partial_start)
        async with aclosing(stream) as events:
            async for sse in events:
                if isinstance(sse, B64Flow):
                    yield acc.flowing(sse)
                    continue
                partial = acc.feed(sse.data)
                del sse  # likewise: the event's text is parsed, do not hold it across the yield
                if partial is not None:
                    yield partial
                if acc.done:  # all n images are in: stop without waiting for EOF or [DONE]
                    break
        # EOF or [DONE]: fewer than n completed is answered with a warning, none is an error
        yield acc.finish()

    def _open(self, request: UpstreamRequest) -> AbstractAsyncContextManager[httpx.Response]:
        files = list(request.files) or None
        return self._client.stream(
            "POST",
            self._base_url + request.path,
            headers=self._headers,
            json=request.json,
            data=request.data,
            files=files,
            timeout=self._timeout,
        )


def _is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.lower().startswith("text/event-stream")
