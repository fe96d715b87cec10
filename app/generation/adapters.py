"""Which adapter instance serves an endpoint, with which credentials and base URL.

Each adapter implementation is registered once in :data:`FACTORIES` under the name that
``[provider].adapter`` uses in the catalog; a factory gets an :class:`AdapterContext` (the
shared httpx client, the key, the base URL, the provider slug, the upstream timeout) and
returns the adapter. Adapters never read the environment themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from app.config import ProviderSettings
from providers.spec import EndpointSpec, ImageAdapter


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What a factory needs to build one adapter instance."""

    client: httpx.AsyncClient
    api_key: str
    base_url: str
    provider: str  # the endpoint's provider slug, reported on errors
    timeout: httpx.Timeout


AdapterFactory = Callable[[AdapterContext], ImageAdapter]


def _openai(ctx: AdapterContext) -> ImageAdapter:
    from providers.openai.adapter import OpenAIAdapter

    return OpenAIAdapter(
        ctx.client,
        api_key=ctx.api_key,
        base_url=ctx.base_url,
        provider=ctx.provider,
        timeout=ctx.timeout,
    )


def _bfl(ctx: AdapterContext) -> ImageAdapter:
    from providers.bfl.adapter import BflAdapter

    return BflAdapter(
        ctx.client,
        api_key=ctx.api_key,
        base_url=ctx.base_url,
        provider=ctx.provider,
        timeout=ctx.timeout,
    )


FACTORIES: dict[str, AdapterFactory] = {"openai": _openai, "bfl": _bfl}

SIMULATOR_KEY = "sim-key"  # what the gateway sends to the built-in simulators


def simulator_base_url(sim_base: str, adapter: str) -> str:
    """Where the built-in simulator of ``adapter`` answers: ``<sim_base>/<adapter><path>``.

    ``<path>`` is the path of the provider's real default base URL (``/v1``, ``/v1beta``,
    ``/api/v3``), so the adapter builds exactly the paths it builds against the provider.
    """
    default = ProviderSettings.default_base_url(adapter) or ""
    return f"{sim_base.rstrip('/')}/{adapter}{urlsplit(default).path.rstrip('/')}"


class AdapterRegistry:
    """Builds (and caches) one adapter per (implementation, base URL, provider slug).

    In simulate mode every provider points at the in-process simulator server, under the
    path prefix of its adapter (:func:`simulator_base_url`).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        providers: ProviderSettings,
        *,
        sim_base: str | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        self._client = client
        self._providers = providers
        self.sim_base = sim_base
        self._timeout = timeout or httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=10.0)
        self._cache: dict[tuple[str, str, str], ImageAdapter] = {}

    def _target(self, endpoint: EndpointSpec) -> tuple[str, str] | None:
        """(base_url, api_key) for an endpoint, or None when it cannot be called."""
        if endpoint.base_url is not None:  # operator-added endpoint: its own server
            env = endpoint.api_key_env
            return endpoint.base_url, (self._providers.endpoint_key(env) if env else None) or ""
        if self.sim_base is not None:
            return simulator_base_url(self.sim_base, endpoint.adapter), SIMULATOR_KEY
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
            ctx = AdapterContext(
                client=self._client,
                api_key=key,
                base_url=base_url.rstrip("/"),
                provider=endpoint.provider_slug,
                timeout=self._timeout,
            )
            adapter = factory(ctx)
            self._cache[cache_key] = adapter
        return adapter
