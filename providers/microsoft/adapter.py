"""HTTP I/O for Microsoft's MAI image models on Azure AI Foundry (``…/mai/v1/images/*``).

All mapping lives in :mod:`providers.microsoft.translate` and :mod:`providers.microsoft.errors`;
this module only sends the request and reads the one buffered answer. The upstream response is
opened with ``client.stream`` inside the generator, so closing the generator closes the
connection (the only way to cancel: the API has no job to delete).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import httpx

from providers._http import DEFAULT_TIMEOUT, read_body, transport_errors
from providers._reframe import Needs, adapted
from providers.errors import ProviderError
from providers.microsoft.errors import error_from_response, request_id
from providers.microsoft.translate import (
    REFERENCE_TYPES,
    UpstreamRequest,
    build_request,
    endpoint_url,
    parse_response,
)
from providers.spec import Accepted, GenerateCall, GenerationEvent

REFERENCES = Needs(media_types=frozenset(REFERENCE_TYPES))
# Error bodies are small; cap what we read so a misbehaving server cannot make us buffer GBs.
_MAX_ERROR_BODY = 1024 * 1024
# One PNG of at most 2.36 MP, base64-encoded: far below this.
_MAX_BODY = 64 * 1024 * 1024


class AzureMaiAdapter:
    """:class:`providers.spec.ImageAdapter` for one Azure AI Foundry resource.

    ``base_url`` is ``https://<resource>.services.ai.azure.com/mai/v1`` (a bare resource root
    works too); the endpoint's ``upstream_model`` is the *deployment name*. The credential is
    an API key sent as ``api-key``, or with ``bearer=True`` a Microsoft Entra ID token sent as
    ``Authorization: Bearer`` instead. Either goes only to ``base_url`` and never appears in
    errors, whose messages are redacted. ``deployments`` renames: an endpoint whose
    ``upstream_model`` is a key is sent to the deployment its value names.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str,
        provider: str = "azure",
        bearer: bool = False,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deployments: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self._client = client
        self._deployments = dict(deployments or {})
        self._base_url = base_url
        self._timeout = timeout
        self._secrets = (api_key,) if api_key else ()
        headers = {"Accept": "application/json"}
        if api_key and bearer:
            headers["Authorization"] = f"Bearer {api_key}"
        elif api_key:
            headers["api-key"] = api_key
        self._headers = headers

    def __repr__(self) -> str:  # never show the headers (they hold the credential)
        return f"AzureMaiAdapter(provider={self.provider!r}, base_url={self._base_url!r})"

    async def run(self, call: GenerateCall) -> AsyncGenerator[GenerationEvent, None]:
        """Yield ``Accepted`` once the answer's headers are in, then one ``Completed``.

        Every failure is a ``ProviderError`` carrying this adapter's provider slug and, once
        the response headers arrived, Azure's ``apim-request-id``.
        """
        upstream_id: str | None = None
        try:
            # WebP references (the gateway takes them) go as PNG: MAI takes PNG or JPEG only.
            images = await adapted(call.input_images, REFERENCES, provider=self.provider)
            if images is not call.input_images:
                call = replace(call, input_images=images)
            deployment = self._deployments.get(call.endpoint.upstream_model)
            if deployment is not None:
                endpoint = call.endpoint.model_copy(update={"upstream_model": deployment})
                call = replace(call, endpoint=endpoint)
            request = build_request(call)
            with transport_errors(self.provider):
                async with self._open(request) as response:
                    upstream_id = request_id(response.headers)
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
                    body = await read_body(response, limit=_MAX_BODY)
            yield parse_response(
                body, call, provider=self.provider, upstream_id=upstream_id, secrets=self._secrets
            )
        except ProviderError as exc:
            exc.provider = exc.provider or self.provider
            if exc.upstream_request_id is None:
                exc.upstream_request_id = upstream_id
            raise

    def _open(self, request: UpstreamRequest) -> AbstractAsyncContextManager[httpx.Response]:
        return self._client.stream(
            "POST",
            endpoint_url(self._base_url, request.path),
            headers=self._headers,
            json=request.json,
            data=request.data,
            files=list(request.files) or None,
            timeout=self._timeout,
        )
