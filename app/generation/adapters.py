"""Which adapter instance serves an endpoint, with which credentials and base URL.

Each adapter implementation is registered once in :data:`FACTORIES` under the name that
``[provider].adapter`` uses in the catalog; a factory gets an :class:`AdapterContext` (the
shared httpx client, the key, the base URL, the provider slug, the upstream timeout) and
returns the adapter. Adapters never read the environment themselves.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from app.config import ProviderSettings
from providers._http import DEFAULT_TIMEOUT
from providers.spec import EndpointSpec, ImageAdapter


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What a factory needs to build one adapter instance."""

    client: httpx.AsyncClient
    api_key: str
    base_url: str
    provider: str  # the endpoint's provider slug, reported on errors
    timeout: httpx.Timeout
    # ``api_key`` is a bearer token (e.g. Microsoft Entra ID) rather than the provider's API
    # key; set for adapters that take one (``ProviderSettings.token_for``) when no key is set.
    bearer: bool = False
    # Azure MAI: default deployment name -> the resource's own (IMAGEGATE_AZURE_MAI_DEPLOYMENTS).
    deployments: Mapping[str, str] = field(default_factory=dict)


AdapterFactory = Callable[[AdapterContext], ImageAdapter]


# adapter name -> (module, class). Every adapter takes the same keyword arguments; adapters
# that accept a bearer token instead of a key (``bearer=True``) say so in their constructor.
ADAPTER_CLASSES: dict[str, tuple[str, str]] = {
    "openai": ("providers.openai.adapter", "OpenAIAdapter"),
    "xai": ("providers.xai.adapter", "XaiAdapter"),
    "bytedance": ("providers.bytedance.adapter", "SeedreamAdapter"),
    "google": ("providers.google.adapter", "GoogleAdapter"),
    "recraft": ("providers.recraft.adapter", "RecraftAdapter"),
    "azure_mai": ("providers.microsoft.adapter", "AzureMaiAdapter"),
    "runware": ("providers.runware.adapter", "RunwareAdapter"),
    "bfl": ("providers.bfl.adapter", "BflAdapter"),
}
TAKES_BEARER = frozenset({"azure_mai"})
TAKES_DEPLOYMENTS = frozenset({"azure_mai"})


def _factory(adapter: str, module: str, name: str) -> AdapterFactory:
    def build(ctx: AdapterContext) -> ImageAdapter:
        cls = getattr(importlib.import_module(module), name)
        extra: dict[str, object] = {"bearer": ctx.bearer} if adapter in TAKES_BEARER else {}
        if adapter in TAKES_DEPLOYMENTS:
            extra["deployments"] = ctx.deployments
        built: ImageAdapter = cls(
            ctx.client,
            api_key=ctx.api_key,
            base_url=ctx.base_url,
            provider=ctx.provider,
            timeout=ctx.timeout,
            **extra,
        )
        return built

    return build


FACTORIES: dict[str, AdapterFactory] = {
    adapter: _factory(adapter, module, name) for adapter, (module, name) in ADAPTER_CLASSES.items()
}

SIMULATOR_KEY = "sim-key"  # what the gateway sends to the built-in simulators

# The base-URL path of providers whose base URL has no default because each customer has their
# own host (Azure AI Foundry: ``https://<resource>.services.ai.azure.com/mai/v1``).
SIMULATOR_PATHS: dict[str, str] = {"azure_mai": "/mai/v1"}


def simulator_base_url(sim_base: str, adapter: str) -> str:
    """Where the built-in simulator of ``adapter`` answers: ``<sim_base>/<adapter><path>``.

    ``<path>`` is the path of the provider's real default base URL (``/v1``, ``/v1beta``,
    ``/api/v3``), or its :data:`SIMULATOR_PATHS` entry when it has no default, so the
    adapter builds exactly the paths it builds against the provider.
    """
    default = ProviderSettings.default_base_url(adapter)
    path = urlsplit(default).path if default else SIMULATOR_PATHS.get(adapter, "")
    return f"{sim_base.rstrip('/')}/{adapter}{path.rstrip('/')}"


class AdapterRegistry:
    """Builds (and caches) one adapter per (implementation, base URL, provider slug, key).

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
        self._timeout = timeout or DEFAULT_TIMEOUT
        self._cache: dict[tuple[str, str, str, str | None], ImageAdapter] = {}

    def _target(self, endpoint: EndpointSpec) -> tuple[str, str, bool] | None:
        """(base_url, credential, is_bearer_token) for an endpoint, or None when it cannot
        be called."""
        if endpoint.base_url is not None:  # operator-added endpoint: its own server
            env = endpoint.api_key_env
            key = (self._providers.endpoint_key(env) if env else None) or ""
            return endpoint.base_url, key, False
        if self.sim_base is not None:
            return simulator_base_url(self.sim_base, endpoint.adapter), SIMULATOR_KEY, False
        secret = self._providers.key_for(endpoint.adapter)
        credential = secret if secret is not None else self._providers.token_for(endpoint.adapter)
        base = self._providers.base_url_for(endpoint.adapter)
        if credential is None or base is None:
            return None
        return base, credential.get_secret_value(), secret is None

    def _deployments(self, endpoint: EndpointSpec) -> Mapping[str, str]:
        """The deployment names of the configured Azure resource: not for an operator's own
        endpoints (their ``upstream_model`` is the deployment) nor for the simulator."""
        if endpoint.base_url is not None or self.sim_base is not None:
            return {}
        return self._providers.azure_mai_deployments if endpoint.adapter == "azure_mai" else {}

    def unavailable_reason(self, endpoint: EndpointSpec) -> str | None:
        """Why this endpoint cannot be called, or None when it can."""
        if endpoint.adapter not in FACTORIES:
            return f"{endpoint.provider_name}: this gateway has no '{endpoint.adapter}' adapter yet"
        if self._target(endpoint) is not None:
            return None
        adapter, settings = endpoint.adapter, self._providers
        missing = []
        if settings.key_for(adapter) is None and settings.token_for(adapter) is None:
            missing.append("no credentials configured")
        if settings.base_url_for(adapter) is None:
            variable = ProviderSettings.base_url_variable(adapter)
            missing.append("no base URL configured" + (f" (set {variable})" if variable else ""))
        return f"{endpoint.provider_name}: {' and '.join(missing) or 'not configured'}"

    def available(self, endpoint: EndpointSpec) -> bool:
        return self.unavailable_reason(endpoint) is None

    def get(self, endpoint: EndpointSpec) -> ImageAdapter:
        target = self._target(endpoint)
        factory = FACTORIES.get(endpoint.adapter)
        if target is None or factory is None:
            raise LookupError(f"no adapter configured for {endpoint.provider_slug}")
        base_url, key, bearer = target
        # the key's variable too: two operator endpoints on one server may use different keys
        cache_key = (endpoint.adapter, base_url, endpoint.provider_slug, endpoint.api_key_env)
        adapter = self._cache.get(cache_key)
        if adapter is None:
            ctx = AdapterContext(
                client=self._client,
                api_key=key,
                base_url=base_url.rstrip("/"),
                provider=endpoint.provider_slug,
                timeout=self._timeout,
                bearer=bearer,
                deployments=self._deployments(endpoint),
            )
            adapter = factory(ctx)
            self._cache[cache_key] = adapter
        return adapter
