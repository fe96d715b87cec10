"""Which adapter instance serves an endpoint, with which credentials and base URL."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from app.config import ProviderSettings
from providers.spec import EndpointSpec, ImageAdapter

AdapterFactory = Callable[[httpx.AsyncClient, str, str, str], ImageAdapter]
"""(client, api_key, base_url, provider_slug) -> adapter"""


def _openai(client: httpx.AsyncClient, key: str, base_url: str, slug: str) -> ImageAdapter:
    from providers.openai.adapter import OpenAIAdapter

    return OpenAIAdapter(client, api_key=key, base_url=base_url, provider=slug)


FACTORIES: dict[str, AdapterFactory] = {"openai": _openai}

SIMULATOR_KEY = "sim-key"  # what the gateway sends to the built-in simulators


class AdapterRegistry:
    """Builds (and caches) one adapter per (implementation, base URL, provider slug).

    In simulate mode every provider points at the in-process simulator server, under the
    path prefix of its adapter (``<sim_base>/openai/v1`` …).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        providers: ProviderSettings,
        *,
        sim_base: str | None = None,
    ) -> None:
        self._client = client
        self._providers = providers
        self.sim_base = sim_base
        self._cache: dict[tuple[str, str, str], ImageAdapter] = {}

    def _target(self, endpoint: EndpointSpec) -> tuple[str, str] | None:
        """(base_url, api_key) for an endpoint, or None when it cannot be called."""
        if endpoint.base_url is not None:  # operator-added endpoint: its own server
            env = endpoint.api_key_env
            return endpoint.base_url, (self._providers.endpoint_key(env) if env else None) or ""
        if self.sim_base is not None:
            return f"{self.sim_base}/{endpoint.adapter}/v1", SIMULATOR_KEY
        secret = self._providers.key_for(endpoint.adapter)
        base = self._providers.base_url_for(endpoint.adapter)
        if secret is None or base is None:
            return None
        return base, secret.get_secret_value()

    def unavailable_reason(self, endpoint: EndpointSpec) -> str | None:
        """Why this endpoint cannot be called, or None when it can."""
        if endpoint.adapter not in FACTORIES:
            return f"{endpoint.provider_name}: this gateway has no '{endpoint.adapter}' adapter yet"
        if self._target(endpoint) is None:
            return f"{endpoint.provider_name}: no credentials configured"
        return None

    def available(self, endpoint: EndpointSpec) -> bool:
        return self.unavailable_reason(endpoint) is None

    def get(self, endpoint: EndpointSpec) -> ImageAdapter:
        target = self._target(endpoint)
        factory = FACTORIES.get(endpoint.adapter)
        if target is None or factory is None:
            raise LookupError(f"no adapter configured for {endpoint.provider_slug}")
        base_url, key = target
        cache_key = (endpoint.adapter, base_url, endpoint.provider_slug)
        adapter = self._cache.get(cache_key)
        if adapter is None:
            adapter = factory(self._client, key, base_url.rstrip("/"), endpoint.provider_slug)
            self._cache[cache_key] = adapter
        return adapter
