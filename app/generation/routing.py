"""Endpoint selection by ``provider.order / only / ignore / sort / allow_fallbacks``.

Choices where OpenRouter's docs are silent:

* Names match case-insensitively against an endpoint's slug or display name.
* ``order`` puts the named endpoints first, in that order; the others follow in catalog order
  unless ``allow_fallbacks`` is false, in which case only the named ones are tried.
* Without ``order``, ``allow_fallbacks: false`` means only the primary (first) endpoint.
* ``sort: "price"`` orders by what the request would cost on each endpoint: its quote at the
  request's parameters (``price``, given by the planner), so a token-priced endpoint is
  compared at the tokens its quality and size take. Without ``price`` (or where an endpoint
  cannot quote the request), the price of one output image from the catalog lines (token
  lines at a nominal 1,000 tokens). ``latency``/``throughput`` keep catalog order until the
  gateway records per-endpoint latency.
* Endpoints whose provider has no credentials configured are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from app.generation.request import ProviderPreferences
from providers.spec import EndpointSpec


def _matches(endpoint: EndpointSpec, names: Sequence[str]) -> bool:
    wanted = {n.strip().lower() for n in names}
    return endpoint.provider_slug.lower() in wanted or endpoint.provider_name.lower() in wanted


def _nominal_price(endpoint: EndpointSpec) -> Decimal:
    total = Decimal(0)
    for line in endpoint.pricing:
        if not line.billable.startswith("output") or line.when:
            continue
        if line.unit == "token":
            total += line.cost_usd * 1000
        elif line.unit in ("image", "megapixel", "request"):
            total += line.cost_usd
    return total


def _sort_key(prefs: ProviderPreferences) -> str | None:
    sort = prefs.sort
    if sort is None:
        return None
    return sort if isinstance(sort, str) else sort.by


def choose_endpoints(
    endpoints: Sequence[EndpointSpec],
    prefs: ProviderPreferences | None,
    available: Callable[[EndpointSpec], bool],
    price: Callable[[EndpointSpec], Decimal | None] | None = None,
) -> list[EndpointSpec]:
    """The endpoints to try, in order. Empty when nothing matches (the caller answers 404).
    ``price``: what the request costs on an endpoint, for ``sort: "price"`` (None: unknown)."""
    prefs = prefs or ProviderPreferences()
    candidates = [e for e in endpoints if available(e)]
    if prefs.ignore:
        candidates = [e for e in candidates if not _matches(e, prefs.ignore)]
    if prefs.only:
        candidates = [e for e in candidates if _matches(e, prefs.only)]
    if _sort_key(prefs) == "price":

        def cost(endpoint: EndpointSpec) -> Decimal:
            known = price(endpoint) if price is not None else None
            return _nominal_price(endpoint) if known is None else known

        candidates.sort(key=cost)  # stable: ties keep catalog order
    fallbacks = prefs.allow_fallbacks is not False
    if prefs.order:
        ordered: list[EndpointSpec] = []
        for name in prefs.order:
            ordered += [e for e in candidates if _matches(e, [name]) and e not in ordered]
        rest = [e for e in candidates if e not in ordered]
        return ordered + rest if fallbacks else ordered
    return candidates if fallbacks else candidates[:1]
